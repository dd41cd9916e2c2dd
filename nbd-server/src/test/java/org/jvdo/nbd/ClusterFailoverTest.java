package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.jvdo.core.Pool;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;
import org.jvdo.testsupport.FileSnapshots;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover between two {@code jvdo serve --cluster} JVMs on loopback (docs/cluster.md): a member
 * killed with SIGKILL while it writes has its pool taken over by the survivor, which serves the
 * same export on its own address, reads back every write acknowledged before a completed FLUSH,
 * and still finds the dead member's blocks in the index (Hazelcast's backup); and a member paused
 * with SIGSTOP until its pool was taken over writes nothing more to the pool's files after it
 * resumes (compared byte for byte), answering its clients' writes with errors; and after the whole
 * cluster was stopped and started again, the old data is still found (each pool's entries saved
 * at its clean close and put back into the new cluster).
 */
class ClusterFailoverTest {
    static final Duration T = Duration.ofSeconds(120);
    static final int BLOCKS = 4096; // 16 MiB
    static final ClusterMembers MEMBERS = new ClusterMembers("failover", "-Xmx384m", "64M", "256M");
    @TempDir Path tmp;

    private final List<ServeProcess> started = new ArrayList<>();
    private String[] cluster;

    private ServeProcess member(int m, String volume) throws Exception {
        return MEMBERS.start(started, tmp, "member" + m, tmp.resolve("pool" + m), volume, cluster, m, T);
    }

    private static byte[] block(long seed) {
        return Blocks.random(new SplittableRandom(seed));
    }

    private static int flush(RawClient c, long handle) throws IOException {
        c.request(0, NbdProtocol.CMD_FLUSH, handle, 0, 0, null);
        RawClient.Simple r = c.simple();
        assertEquals(handle, r.handle());
        return r.error();
    }

    private static void signal(ServeProcess p, String sig) throws Exception {
        Process k = new ProcessBuilder("kill", "-" + sig, String.valueOf(p.process.pid())).inheritIO().start();
        assertEquals(0, k.waitFor(), "kill -" + sig);
    }

    @Test
    @Timeout(600)
    void aKilledMembersPoolIsTakenOverAndEveryFlushedWriteReadsBack() throws Exception {
        Tools.require("nbdcopy");
        cluster = new String[]{"127.0.0.1:" + ServeProcess.freePort(), "127.0.0.1:" + ServeProcess.freePort()};
        try {
            ServeProcess a = member(0, "a");
            ServeProcess b = member(1, "b");
            byte[] data = Blocks.dataset(BLOCKS, 21);
            Path in = tmp.resolve("in.img");
            Files.write(in, data);
            Tools.run(T, "nbdcopy", "--flush", in.toString(), a.uri("a")).assertOk("nbdcopy into a");
            // then writes beyond the dataset, a FLUSH every 64: the killed member's last acknowledged flush is the promise
            Map<Integer, Long> flushed = new HashMap<>(); // block -> seed, acknowledged before a completed FLUSH
            Map<Integer, Long> pending = new HashMap<>();
            long killedAt;
            try (RawClient c = RawClient.open(a.port)) {
                c.go("a");
                long h = 1;
                for (int i = 0; i < 512; i++) {
                    int blk = BLOCKS + i;
                    long seed = 1000 + i;
                    assertEquals(0, c.write(h++, (long) blk * Blocks.BS, block(seed)));
                    pending.put(blk, seed);
                    if (i % 64 == 63) {
                        assertEquals(0, flush(c, h++));
                        flushed.putAll(pending);
                        pending.clear();
                    }
                }
                // unflushed writes in flight when the member dies
                for (int i = 0; i < 32; i++) c.request(0, NbdProtocol.CMD_WRITE, h++, (long) (BLOCKS + 600 + i) * Blocks.BS, Blocks.BS, block(5000 + i));
                killedAt = System.nanoTime();
                a.process.destroyForcibly();
                assertTrue(a.process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "SIGKILL");
            }
            b.awaitServing("a", T);
            long failoverMs = (System.nanoTime() - killedAt) / 1_000_000;
            System.out.println("failover: from SIGKILL until the survivor serves export a: " + failoverMs + " ms");
            assertTrue(b.out().contains("took over pool " + tmp.resolve("pool0").toAbsolutePath()), b.out());
            // every flushed byte reads back from the survivor, under the same export name
            Path out = tmp.resolve("out.img");
            Tools.run(T, "nbdcopy", b.uri("a"), out.toString()).assertOk("nbdcopy out of the taken-over export");
            byte[] back = Files.readAllBytes(out);
            assertArrayEquals(data, java.util.Arrays.copyOf(back, data.length), "the dataset reads back after the takeover");
            for (Map.Entry<Integer, Long> e : new TreeMap<>(flushed).entrySet()) {
                byte[] want = block(e.getValue());
                byte[] got = java.util.Arrays.copyOfRange(back, e.getKey() * Blocks.BS, (e.getKey() + 1) * Blocks.BS);
                assertArrayEquals(want, got, "block " + e.getKey() + " was written and flushed before the kill");
            }
            assertEquals(512, flushed.size());
            // the cluster shows the pool served by the survivor, at the survivor's NBD address
            JsonObject status = ClusterServeTest.get(b, tmp.resolve("pool1"), "/cluster");
            assertEquals(1, status.getJsonArray("members").size(), status.encodePrettily());
            JsonObject taken = null;
            JsonArray pools = status.getJsonArray("pools");
            for (int i = 0; i < pools.size(); i++) {
                if (pools.getJsonObject(i).getJsonArray("exports").contains("a")) taken = pools.getJsonObject(i);
            }
            assertTrue(taken != null, status.encodePrettily());
            assertEquals(status.getString("local"), taken.getString("owner"), "owner is the survivor: " + taken.encodePrettily());
            assertEquals("127.0.0.1:" + b.port, taken.getString("nbd"), taken.encodePrettily());
            assertEquals(2, taken.getLong("epoch"), "the takeover bumped the epoch: " + taken.encodePrettily());
            assertTrue(taken.getBoolean("owner_alive"));
            // the index outlived the member (1 backup): the dataset written again through b is found
            Tools.run(T, "nbdcopy", "--flush", in.toString(), b.uri("b")).assertOk("nbdcopy into b");
            long foreign = ClusterServeTest.number(ClusterServeTest.get(b, tmp.resolve("pool1"), "/stats"), "dedupe_advice_foreign");
            System.out.println("index after the member's death: foreign advice " + foreign + " of " + BLOCKS);
            assertTrue(foreign >= 0.99 * BLOCKS, "entries survived the member: foreign advice " + foreign + " of " + BLOCKS);
            assertEquals(0, b.terminate(T), "clean stop of the survivor\n" + b.err());
            // both pools offline: reference counts recompute to the stored ones, and every foreign mapping (the
            // rewritten dataset shares the taken-over pool's blocks) has its reference slot
            MainTest.Run check = MainTest.run("check", "--cluster", tmp.resolve("pool0").toString(), tmp.resolve("pool1").toString());
            assertEquals(0, check.exit(), check.toString());
        } finally {
            for (ServeProcess p : started) p.close();
        }
    }

    @Test
    @Timeout(600)
    void theWholeClusterStoppedAndRestartedStillFindsTheOldData() throws Exception {
        Tools.require("nbdcopy");
        cluster = new String[]{"127.0.0.1:" + ServeProcess.freePort(), "127.0.0.1:" + ServeProcess.freePort()};
        byte[] data = Blocks.dataset(BLOCKS, 31);
        Path in = tmp.resolve("in.img");
        Files.write(in, data);
        try {
            ServeProcess a = member(0, "a");
            ServeProcess b = member(1, "b");
            Tools.run(T, "nbdcopy", "--flush", in.toString(), a.uri("a")).assertOk("nbdcopy into a");
            assertEquals(0, a.terminate(T), "clean stop of a\n" + a.err());
            assertEquals(0, b.terminate(T), "clean stop of b\n" + b.err());
            assertTrue(Files.exists(tmp.resolve("pool0").resolve("cluster-index.jvdo")), "a's pool saved its entries");
            // a new cluster: nothing of the old one survives in memory
            cluster = new String[]{"127.0.0.1:" + ServeProcess.freePort(), "127.0.0.1:" + ServeProcess.freePort()};
            a = member(0, "a");
            b = member(1, "b");
            Tools.run(T, "nbdcopy", "--flush", in.toString(), b.uri("b")).assertOk("nbdcopy into b");
            long foreign = ClusterServeTest.number(ClusterServeTest.get(b, tmp.resolve("pool1"), "/stats"), "dedupe_advice_foreign");
            System.out.println("after the whole cluster restarted: foreign advice " + foreign + " of " + BLOCKS);
            assertTrue(foreign >= 0.99 * BLOCKS, "the old data is found after the restart: foreign advice " + foreign + " of " + BLOCKS
                    + "\n" + a.err());
            for (String v : new String[]{"a", "b"}) {
                Path out = tmp.resolve("out-" + v + ".img");
                Tools.run(T, "nbdcopy", (v.equals("a") ? a : b).uri(v), out.toString()).assertOk("nbdcopy out of " + v);
                assertArrayEquals(data, java.util.Arrays.copyOf(Files.readAllBytes(out), data.length), v + " reads back the dataset");
            }
            assertEquals(0, a.terminate(T));
            assertEquals(0, b.terminate(T));
            MainTest.Run check = MainTest.run("check", "--cluster", tmp.resolve("pool0").toString(), tmp.resolve("pool1").toString());
            assertEquals(0, check.exit(), check.toString());
        } finally {
            for (ServeProcess p : started) p.close();
        }
    }

    @Test
    @Timeout(600)
    void aPausedMemberWritesNothingToThePoolTakenFromIt() throws Exception {
        cluster = new String[]{"127.0.0.1:" + ServeProcess.freePort(), "127.0.0.1:" + ServeProcess.freePort()};
        Path pool0 = tmp.resolve("pool0");
        try {
            ServeProcess a = member(0, "a");
            ServeProcess b = member(1, "b");
            RawClient stale = RawClient.open(a.port); // connected to a before its pause
            stale.go("a");
            long h = 1;
            for (int i = 0; i < 64; i++) assertEquals(0, stale.write(h++, (long) i * Blocks.BS, block(i)));
            assertEquals(0, flush(stale, h++));
            signal(a, "STOP");
            Map<String, byte[]> before;
            try {
                b.awaitServing("a", T);
                // the new owner writes the same blocks, flushes, and stops cleanly: the pool's files are then final
                try (RawClient c = RawClient.open(b.port)) {
                    c.go("a");
                    for (int i = 0; i < 64; i++) assertEquals(0, c.write(h++, (long) i * Blocks.BS, block(100 + i)));
                    assertEquals(0, flush(c, h++));
                }
                assertEquals(0, b.terminate(T), "clean stop of the new owner\n" + b.err());
                before = FileSnapshots.of(pool0, Pool.LOCK_FILE);
                // the paused member's client had writes on their way; they arrive once it resumes
                // (16 of them: they must fit in the socket buffers of a stopped process)
                for (int i = 0; i < 16; i++) {
                    stale.request(0, NbdProtocol.CMD_WRITE, h++, (long) i * Blocks.BS, Blocks.BS, block(200 + i));
                }
                stale.request(0, NbdProtocol.CMD_FLUSH, h++, 0, 0, null);
            } finally {
                signal(a, "CONT");
            }
            int errors = 0, ok = 0;
            try {
                for (int i = 0; i < 17; i++) {
                    if (stale.simple().error() == 0) ok++;
                    else errors++;
                }
            } catch (IOException e) {
                // the server may hang up instead of answering: also allowed, nothing stored
            }
            stale.close();
            // the resumed member's renewals and timers run until it finds the pool lost; then its clean stop, which must write nothing either
            Await.until(Conditions.checked(() -> a.out().contains("jvdo: no longer serving pool")), 30,
                    Conditions.text(() -> "the resumed member did not say it lost the pool:\n" + a.out()));
            int rc = a.terminate(T);
            Map<String, byte[]> after = FileSnapshots.of(pool0, Pool.LOCK_FILE);
            System.out.println("paused member after resume: " + ok + " requests acknowledged, " + errors + " failed; exit code " + rc);
            FileSnapshots.assertSameFiles(before, after, "the paused member wrote to the pool after it was taken over");
            assertEquals(0, ok, "the fenced member acknowledged requests\n" + a.out() + a.err());
            assertTrue(a.out().contains("jvdo: no longer serving pool"), "the resumed member said it lost the pool:\n" + a.out());
            // what the new owner wrote is the pool's content
            try (Pool p = Pool.open(pool0, new org.jvdo.core.api.PoolConfig())) {
                for (int i = 0; i < 64; i++) {
                    java.nio.ByteBuffer got = java.nio.ByteBuffer.allocate(Blocks.BS);
                    p.volume("a").read((long) i * Blocks.BS, got).get(30, java.util.concurrent.TimeUnit.SECONDS);
                    assertArrayEquals(block(100 + i), got.array(), "block " + i + " as the new owner wrote it");
                }
            }
        } finally {
            for (ServeProcess p : started) {
                try {
                    signal(p, "CONT");
                } catch (Throwable ignored) {
                    // already gone
                }
                p.close();
            }
        }
    }
}
