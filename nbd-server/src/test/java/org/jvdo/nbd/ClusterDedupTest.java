package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dedup across members (docs/cluster.md, "Dedup across members"): three {@code jvdo serve
 * --cluster} JVMs on loopback, one pool each. The same dataset written through nbdcopy to a volume
 * on each member is stored once: the second and third copies pin the first pool's blocks (its
 * owner writes them into its reference volumes and deduplicates them against its copy) and map
 * them as foreign blocks, so their pools gain almost no data blocks and the first pool gains
 * almost none either. Every byte reads back on every member, and again offline ({@code jvdo
 * check} reads each foreign block from the other pool's file and verifies its checksum, and
 * recomputes each pool's reference counts, the reference volumes' slots included), and with only
 * the third member started again (the first pool has no owner then: its file is read directly).
 * With the first copy trimmed, the others still read back and the first pool keeps the blocks;
 * with all three trimmed, the unpins free them.
 */
class ClusterDedupTest {
    static final Duration T = Duration.ofSeconds(300);
    static final int BLOCKS = Integer.getInteger("jvdo.clusterDedupBlocks", 65536); // 256 MiB
    @TempDir Path tmp;

    private final List<ServeProcess> started = new ArrayList<>();
    private String[] cluster;

    private ServeProcess member(int m) throws Exception {
        List<String> jvm = List.of("-Xmx512m", "-Dhazelcast.wait.seconds.before.join=0",
                "-Djava.util.concurrent.ForkJoinPool.common.parallelism=4");
        ServeProcess p = ServeProcess.serveJvm(jvm, tmp, "member" + m + "-" + started.size(), tmp.resolve("pool" + m), ServeProcess.freePort(),
                "--volume", "c" + m, "--logical-size", "320M", "--physical-size", "512M",
                "--cluster", "dedup", "--cluster-listen", cluster[m], "--cluster-members", String.join(",", cluster),
                "--cluster-index-timeout", "10000");
        started.add(p);
        p.awaitServing("c" + m, T);
        return p;
    }

    private final java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();

    /** One figure of member {@code m}'s /stats (HTTP/1.1 on one client: the wait loops ask often). */
    private long stat(ServeProcess p, int m, String key) throws Exception {
        String token = org.jvdo.nbd.admin.AdminToken.loadOrCreate(tmp.resolve("pool" + m)).value();
        java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + p.adminPort() + "/api/v1/stats")).header("Authorization", "Bearer " + token)
                .timeout(Duration.ofSeconds(30)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), "/stats: " + r.body());
        return ClusterServeTest.number(new JsonObject(r.body()), key);
    }

    private void readsBack(ServeProcess p, int m, byte[] data, String when) throws Exception {
        Path out = tmp.resolve("out" + m + ".img");
        Tools.run(T, "nbdcopy", p.uri("c" + m), out.toString()).assertOk("nbdcopy out of member " + m);
        byte[] back = Files.readAllBytes(out);
        Files.delete(out);
        for (int i = 0; i < BLOCKS; i++) {
            if (!java.util.Arrays.equals(data, i * Blocks.BS, (i + 1) * Blocks.BS, back, i * Blocks.BS, (i + 1) * Blocks.BS)) {
                throw new AssertionError("member " + m + " " + when + ": block " + i + " does not read back as written");
            }
        }
    }

    /** Trims the whole export, 64 MiB a request, then FLUSHes. */
    private static void trimAll(ServeProcess p, String export) throws Exception {
        try (RawClient c = RawClient.open(p.port)) {
            c.go(export);
            long h = 1;
            for (long off = 0; off < (long) BLOCKS * Blocks.BS; off += 64L << 20) {
                long len = Math.min(64L << 20, (long) BLOCKS * Blocks.BS - off);
                c.request(0, NbdProtocol.CMD_TRIM, h, off, len, null);
                RawClient.Simple r = c.simple();
                assertEquals(h++, r.handle());
                assertEquals(0, r.error(), "trim of " + export + " at " + off);
            }
            c.request(0, NbdProtocol.CMD_FLUSH, h, 0, 0, null);
            assertEquals(0, c.simple().error(), "flush of " + export);
        }
    }

    @Test
    @Timeout(1500)
    void theSecondAndThirdCopiesAddAlmostNoDataBlocks() throws Exception {
        Tools.require("nbdcopy");
        byte[] data = new byte[BLOCKS * Blocks.BS];
        SplittableRandom r = new SplittableRandom(33);
        for (int i = 0; i < BLOCKS; i++) {
            byte[] b = i % 2 == 0 ? Blocks.text(r) : Blocks.random(r);
            System.arraycopy(b, 0, data, i * Blocks.BS, Blocks.BS);
        }
        Path in = tmp.resolve("in.img");
        Files.write(in, data);
        cluster = new String[3];
        for (int m = 0; m < 3; m++) cluster[m] = "127.0.0.1:" + ServeProcess.freePort();
        try {
            List<ServeProcess> ms = new ArrayList<>();
            for (int m = 0; m < 3; m++) ms.add(member(m));
            long[] used = new long[3];
            long[] shared = new long[3];
            long[] firstAfter = new long[3];
            for (int m = 0; m < 3; m++) {
                long t0 = System.nanoTime();
                Tools.run(T, "nbdcopy", "--flush", in.toString(), ms.get(m).uri("c" + m)).assertOk("nbdcopy into member " + m);
                long ms0 = (System.nanoTime() - t0) / 1_000_000;
                used[m] = stat(ms.get(m), m, "data_blocks_used");
                shared[m] = stat(ms.get(m), m, "dedupe_foreign_shared");
                firstAfter[m] = stat(ms.get(0), 0, "data_blocks_used");
                System.out.printf("copy %d: %d ms (%.1f MB/s); pool%d data blocks %d, foreign shared %d; pool0 data blocks %d%n", m, ms0,
                        data.length / 1e3 / Math.max(1, ms0), m, used[m], shared[m], firstAfter[m]);
            }
            assertTrue(used[0] > BLOCKS / 4, "the first copy is stored: " + used[0] + " data blocks");
            assertEquals(0, shared[0], "the first copy had nothing to share");
            for (int m = 1; m < 3; m++) {
                assertTrue(shared[m] >= 0.95 * BLOCKS, "copy " + m + " mapped the first pool's blocks: " + shared[m] + " of " + BLOCKS);
                assertTrue(used[m] <= 0.02 * used[0], "copy " + m + " added almost no data blocks: " + used[m] + " against " + used[0]);
            }
            assertTrue(firstAfter[2] <= used[0] * 1.02, "the pins added almost no data blocks to the first pool: " + used[0] + " -> " + firstAfter[2]);
            for (int m = 0; m < 3; m++) readsBack(ms.get(m), m, data, "while all members run");
            for (int m = 2; m >= 0; m--) assertEquals(0, ms.get(m).terminate(T), "clean stop of member " + m + "\n" + ms.get(m).err());
            // offline: each pool's reference counts recompute to the stored ones, every mapped block (foreign ones read
            // from the first pool's file) matches its checksum
            for (int m = 0; m < 3; m++) {
                MainTest.Run check = MainTest.run("check", tmp.resolve("pool" + m).toString());
                assertEquals(0, check.exit(), "pool " + m + ": " + check);
            }
            // the third member alone: the first pool has no owner, its blocks are read from its file
            ServeProcess third = member(2);
            readsBack(third, 2, data, "started alone");
            ServeProcess first = member(0);
            ServeProcess second = member(1);
            // the first copy trimmed: the blocks stay, held by the other pools' references
            trimAll(first, "c0");
            assertEquals(0, stat(first, 0, "logical_blocks_used"), "c0 is trimmed");
            readsBack(second, 1, data, "after the first copy was trimmed");
            readsBack(third, 2, data, "after the first copy was trimmed");
            long held = stat(first, 0, "data_blocks_used");
            assertTrue(held >= used[0] * 0.98, "the pinned blocks are not freed: " + held + " of " + used[0]);
            // the other copies trimmed: their unpins (sent once the trims are durable) free the first pool's blocks
            trimAll(second, "c1");
            trimAll(third, "c2");
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (stat(first, 0, "data_blocks_used") > 0.02 * used[0] || stat(first, 0, "reference_slots_used") != 0) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the unpins did not free the first pool's blocks within 120 s: data blocks "
                            + stat(first, 0, "data_blocks_used") + " of " + used[0] + ", reference slots " + stat(first, 0, "reference_slots_used")
                            + "; unpins sent " + stat(second, 1, "foreign_unpins") + " and " + stat(third, 2, "foreign_unpins")
                            + ", waiting " + stat(second, 1, "foreign_unpins_waiting") + " and " + stat(third, 2, "foreign_unpins_waiting"));
                }
                Thread.sleep(200);
            }
            assertEquals(0, stat(second, 1, "foreign_unpins_waiting"));
            for (ServeProcess p : List.of(third, second, first)) assertEquals(0, p.terminate(T), "clean stop\n" + p.err());
            for (int m = 0; m < 3; m++) {
                MainTest.Run check = MainTest.run("check", tmp.resolve("pool" + m).toString());
                assertEquals(0, check.exit(), "pool " + m + " after the trims: " + check);
            }
        } finally {
            for (ServeProcess p : started) p.close();
        }
    }
}
