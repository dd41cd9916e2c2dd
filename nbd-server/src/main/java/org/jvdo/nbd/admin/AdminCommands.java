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

    /** One admin API call with the pool folder's token. */
    public static final class Client {
        private final Path data;
        private final String host;
        private final int port;
        private final String token;

        public Client(Path data, String host, int port) {
            this.data = data;
            this.host = host;
            this.port = port;
            try {
                this.token = AdminToken.read(data);
            } catch (NoSuchFileException e) {
                throw new Failure("no admin token in " + data + " (" + AdminToken.file(data)
                        + " is missing: is `jvdo serve --data " + data + "` running?)");
            } catch (IOException e) {
                throw new Failure("cannot read the admin token: " + e.getMessage());
            }
        }

        public JsonObject call(String method, String path, JsonObject body) {
            String base = "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
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
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
                r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new Failure("cannot reach the admin API at " + base + " (" + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "); is jvdo serve running?");
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
