package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.ProgressListener;
import org.jvdo.nbd.admin.AdminServer;
import org.jvdo.nbd.admin.AdminToken;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Long work seen through the admin API while it runs, each held half-way by a latch in the
 * pool's own progress hook (no sleeps): a volume delete and a resize in
 * {@code GET /api/v1/operations} and {@code GET /api/v1/volumes/NAME}; the journal replay of a
 * recovering pool in {@code /health}, then the last recovery's summary. Every answer is checked
 * against the OpenAPI document too.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AdminProgressTest {
    static final long HOLD_SECONDS = 60;

    @TempDir
    Path dir;

    static OpenAPI api() {
        return new OpenAPIV3Parser().readContents(AdminServer.openapiDocument(), null, null).getOpenAPI();
    }

    /** A hook that holds the work once, where {@code at} first says so, until released. */
    static final class Hold {
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicBoolean held = new AtomicBoolean();

        void maybe(boolean at) {
            if (!at || !held.compareAndSet(false, true)) return;
            reached.countDown();
            try {
                if (!release.await(HOLD_SECONDS, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void awaitReached(String what) throws InterruptedException {
            Await.until(() -> reached.getCount() == 0, 60, () -> what + " never reached its hold point");
        }
    }

    private static void write(Volume v, int blocks, long stride) throws Exception {
        Random r = new Random(7);
        for (int i = 0; i < blocks; i++) Await.value(v.write(i * stride * 4096L, ByteBuffer.wrap(Blocks.text(r)), false), "write " + i);
        Await.value(v.flush(), "flush");
    }

    @Test
    void aDeleteHeldHalfWayShowsItsPhaseAndProgress() throws Exception {
        Hold hold = new Hold();
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.operationObserver = op -> hold.maybe(op.kind().equals("delete") && op.phase().equals("dropping block references")
                && op.total() > 0 && op.done() == op.total() / 2);
        try (AdminFixture f = new AdminFixture(dir, cfg)) {
            Volume big = f.pool.createVolume("big", 16L << 20);
            write(big, 2000, 1);
            OpenAPI api = api();
            CompletableFuture<HttpResponse<String>> delete;
            try {
                HttpRequest req = f.request("/api/v1/volumes/big").header("Authorization", "Bearer " + f.token.value()).DELETE().build();
                delete = f.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
                hold.awaitReached("the delete");

                HttpResponse<String> ops = f.send("GET", "/api/v1/operations", null);
                assertEquals(200, ops.statusCode(), ops.body());
                AdminContractTest.assertResponse(api, "GET", "/api/v1/operations", ops);
                JsonArray list = new JsonObject(ops.body()).getJsonArray("operations");
                assertEquals(1, list.size(), ops.body());
                JsonObject op = list.getJsonObject(0);
                assertEquals("delete", op.getString("type"));
                assertEquals("big", op.getString("volume"));
                assertEquals("dropping block references", op.getString("phase"));
                assertEquals(2000, op.getLong("total"), ops.body());
                assertEquals(1000, op.getLong("done"), ops.body());

                HttpResponse<String> vol = f.send("GET", "/api/v1/volumes/big", null);
                assertEquals(200, vol.statusCode(), "a volume being deleted is shown until the delete ends: " + vol.body());
                AdminContractTest.assertResponse(api, "GET", "/api/v1/volumes/{name}", vol);
                assertEquals(op.getLong("id"), new JsonObject(vol.body()).getJsonObject("operation").getLong("id"), vol.body());

                HttpResponse<String> other = f.send("GET", "/api/v1/volumes/vol0", null);
                assertFalse(new JsonObject(other.body()).containsKey("operation"), "another volume has no operation: " + other.body());
            } finally {
                hold.release.countDown();
            }
            HttpResponse<String> done = delete.get(60, TimeUnit.SECONDS);
            assertEquals(200, done.statusCode(), done.body());
            assertEquals(new JsonArray(), new JsonObject(f.send("GET", "/api/v1/operations", null).body()).getJsonArray("operations"));
            assertEquals(404, f.send("GET", "/api/v1/volumes/big", null).statusCode());
        }
    }

    @Test
    void aResizeHeldWhileCopyingTheMapShowsItsProgress() throws Exception {
        Hold hold = new Hold();
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.operationObserver = op -> hold.maybe(op.kind().equals("resize") && op.phase().equals("copying the block map")
                && op.done() == 10);
        try (AdminFixture f = new AdminFixture(dir, cfg)) {
            Volume v = f.pool.createVolume("grow", 8160L * 4096);      // 24 leaf pages of 340 entries
            write(v, 24, 340);                                          // one block in each
            CompletableFuture<HttpResponse<String>> resize;
            try {
                HttpRequest req = f.request("/api/v1/volumes/grow/resize").header("Authorization", "Bearer " + f.token.value())
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"logical_size\":\"64M\"}")).build();
                resize = f.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
                hold.awaitReached("the resize");
                HttpResponse<String> vol = f.send("GET", "/api/v1/volumes/grow", null);
                assertEquals(200, vol.statusCode(), vol.body());
                AdminContractTest.assertResponse(api(), "GET", "/api/v1/volumes/{name}", vol);
                JsonObject op = new JsonObject(vol.body()).getJsonObject("operation");
                assertEquals("resize", op.getString("type"), vol.body());
                assertEquals("copying the block map", op.getString("phase"), vol.body());
                assertEquals(10, op.getLong("done"), vol.body());
                assertEquals(24, op.getLong("total"), vol.body());
            } finally {
                hold.release.countDown();
            }
            HttpResponse<String> done = resize.get(60, TimeUnit.SECONDS);
            assertEquals(200, done.statusCode(), done.body());
            assertEquals(64L << 20, new JsonObject(done.body()).getLong("logical_size"));
            assertFalse(new JsonObject(done.body()).containsKey("operation"), done.body());
        }
    }

    @Test
    void healthShowsAHeldJournalReplayThenTheLastRecovery() throws Exception {
        Path data = dir.resolve("pool");
        Pool crashed = Pool.create(data, PoolConfig.small(64L << 20));
        write(crashed.createVolume("v", 16L << 20), 2000, 1);
        crashed.crash();

        Vertx vertx = Vertx.vertx();
        HttpClient http = HttpClient.newHttpClient();
        AdminServer admin = new AdminServer(vertx, AdminToken.loadOrCreate(data), "127.0.0.1", 0).start();
        Hold hold = new Hold();
        PoolConfig cfg = PoolConfig.small(64L << 20);
        ProgressListener holdHalfWay = (phase, done, total) -> hold.maybe(phase.equals("journal replay") && total > 0 && done >= total / 2);
        cfg.recoveryProgress = admin.recoveryListener().and(holdHalfWay);
        CompletableFuture<Pool> opening = CompletableFuture.supplyAsync(() -> {
            try {
                return Pool.open(data, cfg);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        Pool pool = null;
        NbdServer nbd = null;
        try {
            HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.actualPort() + "/health"))
                    .timeout(Duration.ofSeconds(30)).build();
            try {
                hold.awaitReached("the journal replay");
                HttpResponse<String> h = http.send(get, HttpResponse.BodyHandlers.ofString());
                assertEquals(503, h.statusCode(), h.body());
                AdminContractTest.assertResponse(api(), "GET", "/health", h);
                JsonObject o = new JsonObject(h.body());
                assertEquals("recovering", o.getString("mode"));
                JsonObject r = o.getJsonObject("recovery");
                assertEquals("journal replay", r.getString("phase"), h.body());
                assertEquals(2000, r.getLong("total"), h.body());
                assertTrue(r.getLong("done") >= 1000 && r.getLong("done") < 2000, h.body());
            } finally {
                hold.release.countDown();
            }
            pool = opening.get(60, TimeUnit.SECONDS);
            SimpleExportRegistry registry = new SimpleExportRegistry();
            nbd = new NbdServer(registry, "127.0.0.1", 0, 1).start();
            admin.attach(pool, registry, nbd, "127.0.0.1");
            HttpResponse<String> h = http.send(get, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, h.statusCode(), h.body());
            AdminContractTest.assertResponse(api(), "GET", "/health", h);
            JsonObject last = new JsonObject(h.body()).getJsonObject("last_recovery");
            assertFalse(last.getBoolean("clean"), h.body());
            assertEquals(2000, last.getLong("entries_replayed"), h.body());
            assertEquals(2000, last.getLong("blocks_rebuilt"), h.body());
            assertTrue(last.getString("report").contains("recovered after an unclean shutdown"), h.body());
        } finally {
            hold.release.countDown();
            admin.close();
            if (nbd != null) nbd.close();
            if (pool == null) pool = opening.get(60, TimeUnit.SECONDS);
            pool.close();
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
