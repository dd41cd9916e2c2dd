package org.jvdo.nbd.admin;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The admin API as the {@code jvdo stats} and {@code jvdo volume} commands ({@code org.jvdo.nbd.cli})
 * reach it: one call with the token in the pool folder, and what went wrong as one line.
 */
public final class AdminCommands {
    private AdminCommands() { }

    /** An error answered by the API or met reaching it: exit 1. */
    public static final class Failure extends RuntimeException {
        public Failure(String m) { super(m); }
    }

    /** {@code s} as one URL path segment. */
    public static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * One admin API call with the pool folder's token, over HTTP or, with a certificate
     * directory, HTTPS: the server's certificate must be signed by that directory's
     * {@value org.jvdo.nbd.TlsSettings#CA_CERT} and name the host (as the server certificate
     * names 127.0.0.1 and localhost).
     */
    public static final class Client {
        private final String base;
        private final String token;
        private final javax.net.ssl.SSLContext ssl;

        public Client(Path data, String host, int port) {
            this(data, host, port, null);
        }

        /**
         * A client of the API at {@code host:port} with the token of the pool folder {@code data};
         * {@code tlsCertificates} null for HTTP, else the directory whose ca-cert.pem to trust (HTTPS).
         */
        public Client(Path data, String host, int port, Path tlsCertificates) {
            this.base = (tlsCertificates == null ? "http" : "https") + "://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
            this.ssl = tlsCertificates == null ? null : trusting(tlsCertificates.resolve(org.jvdo.nbd.TlsSettings.CA_CERT));
            try {
                this.token = AdminToken.read(data);
            } catch (NoSuchFileException e) {
                throw new Failure("no admin token in " + data + " (" + AdminToken.file(data)
                        + " is missing: is `jvdo serve --data " + data + "` running?)");
            } catch (IOException e) {
                throw new Failure("cannot read the admin token: " + e.getMessage());
            }
        }

        /** A TLS context trusting the certificates (a CA) in the PEM file {@code ca}; a clear failure naming it otherwise. */
        static javax.net.ssl.SSLContext trusting(Path ca) {
            try (java.io.InputStream in = java.nio.file.Files.newInputStream(ca)) {
                java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
                trust.load(null, null);
                int n = 0;
                for (java.security.cert.Certificate c : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    trust.setCertificateEntry("ca" + n++, c);
                }
                if (n == 0) throw new Failure("no certificate in " + ca);
                javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                        javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
                javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
                ctx.init(null, tmf.getTrustManagers(), null);
                return ctx;
            } catch (NoSuchFileException e) {
                throw new Failure("cannot read " + ca + ": no such file (--tls-certificates DIR holds " + org.jvdo.nbd.TlsSettings.CA_CERT + ")");
            } catch (IOException | java.security.GeneralSecurityException e) {
                throw new Failure("cannot use " + ca + " as the CA of the admin API: " + e.getMessage());
            }
        }

        public JsonObject call(String method, String path, JsonObject body) {
            HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(Duration.ofSeconds(120))
                    .header("Authorization", "Bearer " + token)
                    .header("Accept", "application/json");
            if (body != null) {
                rb.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofString(body.encode()));
            } else {
                rb.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> r;
            try {
                HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
                if (ssl != null) hb.sslContext(ssl);
                r = hb.build().send(rb.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new Failure("cannot reach the admin API at " + base + " (" + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "); is jvdo serve running"
                        + (ssl == null ? "? (if it serves HTTPS, add --admin-tls)" : " with --admin-tls?"));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure("interrupted");
            }
            JsonObject j;
            try {
                j = new JsonObject(r.body());
            } catch (DecodeException | ClassCastException e) {
                throw new Failure("admin API answered " + r.statusCode() + " without JSON");
            }
            if (r.statusCode() >= 300) {
                throw new Failure(j.getString("error", "admin API answered " + r.statusCode())
                        + (j.containsKey("field") ? " [" + j.getString("field") + "]" : "") + " (HTTP " + r.statusCode() + ")");
            }
            return j;
        }
    }
}
