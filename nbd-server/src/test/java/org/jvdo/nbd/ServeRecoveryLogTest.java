package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jvdo serve} on a pool that crashed with journal entries not yet checkpointed: its log
 * (stderr) has the replay's final INFO line with the counts, and {@code /health} then reports
 * the last recovery.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServeRecoveryLogTest {
    @TempDir
    Path tmp;

    @Test
    void serveLogsTheReplayAndHealthSummarisesIt() throws Exception {
        Path data = tmp.resolve("pool");
        Pool p = Pool.create(data, PoolConfig.small(64L << 20));
        Volume v = p.createVolume("vdo0", 16L << 20);
        Random r = new Random(11);
        for (int i = 0; i < 1500; i++) Await.value(v.write(i * 4096L, ByteBuffer.wrap(Blocks.text(r)), false), "write " + i);
        Await.value(p.flush(), "flush");
        p.crash();
        int port = ServeProcess.freePort();
        try (ServeProcess s = ServeProcess.serve(tmp.resolve("logs"), "serve", data, port)) {
            s.awaitServing("vdo0", Duration.ofSeconds(60));
            String err = s.err();
            assertTrue(err.lines().anyMatch(l -> l.matches(".* INFO org\\.jvdo\\.core\\.recovery: journal replay done: 1500 entries in \\d+ blocks,"
                    + " 1500 mappings applied in [0-9.]+ s .*")), "the replay's final line:\n" + err);
            assertTrue(err.contains("INFO org.jvdo.core.recovery: reference count rebuild done: 1500 mapped blocks of 1 volume(s)"), err);
            HttpResponse<String> h = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + s.adminPort() + "/health")).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, h.statusCode(), h.body());
            JsonObject last = new JsonObject(h.body()).getJsonObject("last_recovery");
            assertFalse(last.getBoolean("clean"), h.body());
            assertEquals(1500, last.getLong("entries_replayed"), h.body());
            assertEquals(0, s.terminate(Duration.ofSeconds(60)), s.out() + s.err());
        }
    }
}
