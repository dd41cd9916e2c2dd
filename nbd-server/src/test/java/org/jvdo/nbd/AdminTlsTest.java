package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.nbd.admin.AdminCommands;
import org.jvdo.nbd.admin.AdminServer;
import org.jvdo.nbd.admin.AdminToken;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API over HTTPS with the NBD server's certificate layout: curl with the CA reads it,
 * curl without it refuses the certificate, the CLI's client class talks to it with the CA of a
 * directory (and fails clearly with another CA or over plain HTTP), and a plaintext request to
 * the TLS port is dropped without harming the server.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AdminTlsTest {
    static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path tmp;
    TestCertificates certs;
    Path data;
    Pool pool;
    Vertx vertx;
    NbdServer nbd;
    AdminServer admin;
    AdminToken token;

    @BeforeEach
    void start() throws Exception {
        certs = TestCertificates.make(tmp.resolve("certs"));
        data = tmp.resolve("pool");
        pool = Pool.create(data, PoolConfig.small(64L << 20));
        Volume v = pool.createVolume("vol0", 8L << 20);
        SimpleExportRegistry registry = new SimpleExportRegistry();
        registry.add(v);
        nbd = new NbdServer(registry, "127.0.0.1", 0, 1).start();
        vertx = Vertx.vertx();
        token = AdminToken.loadOrCreate(data);
        admin = new AdminServer(vertx, token, "127.0.0.1", 0).https(certs.server).start().attach(pool, registry, nbd, "127.0.0.1");
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (admin != null) admin.close();
            if (nbd != null) nbd.close();
            if (vertx != null) vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } finally {
            if (pool != null) pool.close();
        }
    }

    private String url(String host, String path) { return "https://" + host + ":" + admin.actualPort() + path; }

    @Test
    void curlWithTheCaReadsTheApiOverHttps() {
        Tools.require("curl");
        assertEquals("https", admin.scheme());
        Tools.Result stats = Tools.run(T, "curl", "-sS", "--fail", "--max-time", "20", "--cacert", certs.server.resolve("ca-cert.pem").toString(),
                "-H", "Authorization: Bearer " + token.value(), url("127.0.0.1", "/api/v1/stats")).assertOk("curl https stats");
        assertEquals("normal", new JsonObject(stats.output()).getString("mode"), stats.output());
        Tools.Result health = Tools.run(T, "curl", "-sS", "--fail", "--max-time", "20", "--cacert", certs.server.resolve("ca-cert.pem").toString(),
                url("localhost", "/health")).assertOk("curl https health by name");
        assertEquals("normal", new JsonObject(health.output()).getString("mode"), health.output());
    }

    @Test
    void curlWithoutTheCaRefusesTheCertificate() {
        Tools.require("curl");
        Tools.Result r = Tools.run(T, "curl", "-sS", "--max-time", "20", url("127.0.0.1", "/health"));
        assertEquals(60, r.exit(), "curl's 'peer certificate cannot be authenticated': " + r.output());
    }

    @Test
    void plainHttpToTheTlsPortFailsCleanly() {
        Tools.require("curl");
        Tools.Result r = Tools.run(T, "curl", "-sS", "--max-time", "20", "http://127.0.0.1:" + admin.actualPort() + "/health");
        // closed at once without an answer (curl 52, "Empty reply from server"), not left hanging (28) nor answered
        assertEquals(52, r.exit(), "no answer over plaintext: " + r.output());
        // the server is unharmed
        Tools.run(T, "curl", "-sS", "--fail", "--max-time", "20", "--cacert", certs.server.resolve("ca-cert.pem").toString(),
                url("127.0.0.1", "/health")).assertOk("curl https after a plaintext attempt");
    }

    @Test
    void theCliClientTalksHttpsWithTheCaOfADirectory() throws Exception {
        JsonObject volumes = new AdminCommands.Client(data, "127.0.0.1", admin.actualPort(), certs.server).call("GET", "/api/v1/volumes", null);
        assertEquals("vol0", volumes.getJsonArray("volumes").getJsonObject(0).getString("name"), volumes.encode());
        JsonObject created = new AdminCommands.Client(data, "localhost", admin.actualPort(), certs.client)
                .call("POST", "/api/v1/volumes", new JsonObject().put("name", "v2").put("logical_size", "1M"));
        assertEquals("v2", created.getString("name"));
    }

    @Test
    void theCliClientFailsClearlyWithAnotherCaOrPlainHttp() throws Exception {
        Path other = Files.createDirectories(tmp.resolve("other-trust"));
        Files.copy(tmp.resolve("certs/work/other-ca-cert.pem"), other.resolve("ca-cert.pem"));
        AdminCommands.Failure wrongCa = assertThrows(AdminCommands.Failure.class,
                () -> new AdminCommands.Client(data, "127.0.0.1", admin.actualPort(), other).call("GET", "/api/v1/stats", null));
        assertTrue(wrongCa.getMessage().startsWith("cannot reach the admin API at https://127.0.0.1:"), wrongCa.getMessage());
        assertTrue(wrongCa.getMessage().contains("SSLHandshakeException"), wrongCa.getMessage());

        AdminCommands.Failure plain = assertThrows(AdminCommands.Failure.class,
                () -> new AdminCommands.Client(data, "127.0.0.1", admin.actualPort(), null).call("GET", "/api/v1/stats", null));
        assertTrue(plain.getMessage().contains("add --admin-tls"), plain.getMessage());

        AdminCommands.Failure noCa = assertThrows(AdminCommands.Failure.class,
                () -> new AdminCommands.Client(data, "127.0.0.1", admin.actualPort(), tmp.resolve("nothing")));
        assertTrue(noCa.getMessage().contains("nothing/ca-cert.pem") && noCa.getMessage().contains("no such file"), noCa.getMessage());
    }

    @Test
    void aMissingKeyFailsTheStartNamingTheFile() throws Exception {
        Path half = Files.createDirectories(tmp.resolve("half"));
        Files.copy(certs.server.resolve("server-cert.pem"), half.resolve("server-cert.pem"));
        AdminServer s = new AdminServer(vertx, token, "127.0.0.1", 0).https(half);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, s::start);
        assertTrue(e.getMessage().contains(half.resolve("server-key.pem").toString()), e.getMessage());
        s.close();
    }
}
