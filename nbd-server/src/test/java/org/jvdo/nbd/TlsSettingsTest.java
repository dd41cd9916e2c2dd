package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TlsSettings} without an NBD server: the flags' rules, and the same certificates
 * serving HTTPS, as the admin API would use them (checked with curl).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsSettingsTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    static Path certRoot;
    static TestCertificates certs;

    @BeforeAll
    static void makeCertificates() throws IOException {
        certs = TestCertificates.make(certRoot);
    }

    @Test
    void settingsFollowTheFlags() {
        assertEquals(TlsSettings.OFF, TlsSettings.of(null, null, false));
        assertEquals(TlsSettings.Mode.REQUIRE, TlsSettings.of("REQUIRE", certs.server, true).mode());
        assertEquals(TlsSettings.defaultDirectory(), TlsSettings.of("on", null, false).certificates());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> TlsSettings.of("yes", null, false));
        assertTrue(bad.getMessage().contains("off, on or require"), bad.getMessage());
        IllegalArgumentException ignored = assertThrows(IllegalArgumentException.class,
                () -> TlsSettings.of("off", certs.server, false));
        assertTrue(ignored.getMessage().contains("--tls=on"), ignored.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TlsSettings.of(null, null, true));
    }

    /**
     * The same settings serve HTTPS, as the admin API would with them: curl trusts the CA and,
     * under verify-peer, is refused without its client certificate.
     */
    @Test
    void theSameSettingsServeHttps() {
        Tools.require("curl");
        Vertx vertx = Vertx.vertx();
        try {
            TlsSettings tls = TlsSettings.of("on", certs.server, true);
            HttpServerConfig config = new HttpServerConfig()
                    .setHost("127.0.0.1").setPort(0);
            config.getTcpConfig().setSsl(true);
            HttpServer https = vertx.createHttpServer(config, tls.load(vertx))
                    .requestHandler(r -> r.response().end("hello over TLS"));
            int port = https.listen().toCompletionStage().toCompletableFuture().join().actualPort();
            String url = "https://127.0.0.1:" + port + "/";
            String ok = Tools.run(T, "curl", "-sS", "--cacert", certs.client.resolve("ca-cert.pem").toString(),
                    "--cert", certs.client.resolve("client-cert.pem").toString(),
                    "--key", certs.client.resolve("client-key.pem").toString(), url).assertOk("curl https").output();
            assertEquals("hello over TLS", ok);
            Tools.Result refused = Tools.run(T, "curl", "-sS", "--cacert", certs.client.resolve("ca-cert.pem").toString(), url);
            assertNotEquals(0, refused.exit(), refused.output());
            Tools.Result plain = Tools.run(T, "curl", "-sS", "http://127.0.0.1:" + port + "/");
            assertFalse(plain.output().contains("hello"), plain.output());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().join();
        }
    }
}
