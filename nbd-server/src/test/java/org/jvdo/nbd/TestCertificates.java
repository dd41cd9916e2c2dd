package org.jvdo.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.Base64;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * X.509 certificates for TLS tests, made with {@code openssl} in a temporary folder, in the
 * layouts the real tools read: {@link #server} as nbdkit's {@code --tls-certificates} (and
 * jvdo's), {@link #client} as libnbd's {@code tls-certificates} and qemu's
 * {@code tls-creds-x509,endpoint=client} (ca-cert.pem, client-cert.pem, client-key.pem),
 * {@link #noCert} with the CA only (a client without a certificate), {@link #stranger} with a
 * client certificate signed by another CA. The server certificate names 127.0.0.1 and
 * localhost in its subjectAltName, so clients that check the host name accept it. Keys are
 * ECDSA P-256 (quick to make).
 */
final class TestCertificates {
    private static final Duration T = Duration.ofSeconds(60);

    final Path server;
    final Path client;
    final Path noCert;
    final Path stranger;

    private TestCertificates(Path root) {
        server = root.resolve("server");
        client = root.resolve("client");
        noCert = root.resolve("nocert");
        stranger = root.resolve("stranger");
    }

    /** Makes the CA, the server's and the clients' certificates under {@code root}. */
    static TestCertificates make(Path root) throws IOException {
        Tools.require("openssl");
        TestCertificates c = new TestCertificates(root);
        Path work = Files.createDirectories(root.resolve("work"));
        for (Path d : new Path[] {c.server, c.client, c.noCert, c.stranger}) {
            Files.createDirectories(d);
        }
        ca(work, "ca", "jvdo test CA");
        ca(work, "other-ca", "some other CA");
        leaf(work, "ca", "server", "localhost", String.join("\n",
                "basicConstraints = critical, CA:FALSE",
                "keyUsage = critical, digitalSignature",
                "extendedKeyUsage = serverAuth",
                "subjectAltName = IP:127.0.0.1, DNS:localhost",
                "subjectKeyIdentifier = hash",
                "authorityKeyIdentifier = keyid", ""));
        String clientExt = String.join("\n",
                "basicConstraints = critical, CA:FALSE",
                "keyUsage = critical, digitalSignature",
                "extendedKeyUsage = clientAuth",
                "subjectKeyIdentifier = hash",
                "authorityKeyIdentifier = keyid", "");
        leaf(work, "ca", "client", "jvdo test client", clientExt);
        leaf(work, "other-ca", "stranger", "stranger", clientExt);

        Path ca = work.resolve("ca-cert.pem");
        copy(ca, c.server.resolve("ca-cert.pem"));
        copy(work.resolve("server-cert.pem"), c.server.resolve("server-cert.pem"));
        copy(work.resolve("server-key.pem"), c.server.resolve("server-key.pem"));
        copy(ca, c.client.resolve("ca-cert.pem"));
        copy(work.resolve("client-cert.pem"), c.client.resolve("client-cert.pem"));
        copy(work.resolve("client-key.pem"), c.client.resolve("client-key.pem"));
        copy(ca, c.noCert.resolve("ca-cert.pem"));
        copy(ca, c.stranger.resolve("ca-cert.pem")); // trusts the server, but its own certificate is not ours
        copy(work.resolve("stranger-cert.pem"), c.stranger.resolve("client-cert.pem"));
        copy(work.resolve("stranger-key.pem"), c.stranger.resolve("client-key.pem"));
        return c;
    }

    private static void ca(Path work, String name, String cn) throws IOException {
        Path cnf = work.resolve(name + ".cnf");
        Files.writeString(cnf, String.join("\n",
                "[req]", "distinguished_name = dn", "prompt = no", "x509_extensions = ext",
                "[dn]", "CN = " + cn,
                "[ext]", "basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign",
                "subjectKeyIdentifier = hash", ""));
        key(work.resolve(name + "-key.pem"));
        openssl("req", "-x509", "-new", "-config", cnf.toString(), "-key", work.resolve(name + "-key.pem").toString(),
                "-days", "2", "-out", work.resolve(name + "-cert.pem").toString());
    }

    private static void leaf(Path work, String ca, String name, String cn, String ext) throws IOException {
        Path key = work.resolve(name + "-key.pem");
        key(key);
        Path cnf = work.resolve(name + ".cnf");
        Files.writeString(cnf, String.join("\n",
                "[req]", "distinguished_name = dn", "prompt = no", "[dn]", "CN = " + cn, ""));
        Path csr = work.resolve(name + ".csr");
        openssl("req", "-new", "-config", cnf.toString(), "-key", key.toString(), "-out", csr.toString());
        Path extFile = work.resolve(name + ".ext");
        Files.writeString(extFile, ext);
        openssl("x509", "-req", "-in", csr.toString(), "-CA", work.resolve(ca + "-cert.pem").toString(),
                "-CAkey", work.resolve(ca + "-key.pem").toString(), "-set_serial", String.valueOf(name.hashCode() & 0x7fffffff),
                "-days", "2", "-extfile", extFile.toString(), "-out", work.resolve(name + "-cert.pem").toString());
    }

    private static void key(Path out) {
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out.toString());
    }

    private static void openssl(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Tools.run(T, cmd).assertOk("openssl " + args[0]);
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.copy(from, to);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString(
                to.getFileName().toString().endsWith("-key.pem") ? "rw-------" : "rw-r--r--"));
    }

    /**
     * A JDK TLS context for a test's own client: trusts the CA in {@code dir}, and presents
     * the client certificate there if {@code withCertificate}.
     */
    static SSLContext clientContext(Path dir, boolean withCertificate) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(dir.resolve("ca-cert.pem"))) {
            trust.setCertificateEntry("ca", cf.generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManagerFactory kmf = null;
        if (withCertificate) {
            char[] pw = "test".toCharArray();
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            Certificate cert;
            try (InputStream in = Files.newInputStream(dir.resolve("client-cert.pem"))) {
                cert = cf.generateCertificate(in);
            }
            keys.setKeyEntry("client", pkcs8(dir.resolve("client-key.pem")), pw, new Certificate[] {cert});
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, pw);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    private static PrivateKey pkcs8(Path pem) throws Exception {
        String text = Files.readString(pem, StandardCharsets.US_ASCII);
        String body = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
    }
}
