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
import org.jvdo.testsupport.Await;
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
 * the third copy trimmed, its unpins drop its slots; the second trimmed while the first pool has
 * no owner, its unpins wait and are lost when it stops (leaked slots, which {@code jvdo check
 * --cluster} counts), until its next open reconciles with the first pool and the blocks are freed.
 */
class ClusterDedupTest {
    static final Duration T = Duration.ofSeconds(300);
    static final int BLOCKS = Integer.getInteger("jvdo.clusterDedupBlocks", 65536); // 256 MiB
    @TempDir Path tmp;

    private final List<ServeProcess> started = new ArrayList<>();
    private String[] cluster;
    private long firstCopyBlocks;

    private static final ClusterMembers MEMBERS = new ClusterMembers("dedup", "-Xmx512m", "320M", "512M");

    private ServeProcess member(int m) throws Exception {
        return MEMBERS.start(started, tmp, "member" + m + "-" + started.size(), tmp.resolve("pool" + m), "c" + m, cluster, m, T);
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

    /**
     * {@code jvdo check --cluster} over the three pools: each clean alone, every foreign mapping with
     * its reference slot holding its block, and no leaked slot.
     */
    private void checkCluster(long foreignMappings, long leaks) throws Exception {
        MainTest.Run check = MainTest.run("check", "--cluster", tmp.resolve("pool0").toString(), tmp.resolve("pool1").toString(),
                tmp.resolve("pool2").toString());
        assertEquals(0, check.exit(), check.toString());
        assertTrue(check.out().contains("3 pools: " + foreignMappings + " foreign mappings, each with its reference slot; " + leaks + " reference slots"),
                check.out());
    }

    /**
     * Waits (at most 120 s) until member {@code m}'s pool holds {@code slots} reference slots, and,
     * with none left, until its pinned blocks are freed (at most 2% of the first copy's left).
     */
    private void awaitSlots(ServeProcess p, int m, long slots, String what) throws Exception {
        Await.until(() -> stat(p, m, "reference_slots_used") == slots
                        && (slots != 0 || stat(p, m, "data_blocks_used") <= 0.02 * firstCopyBlocks), 120, 200,
                () -> what + " did not take effect: reference slots " + stat(p, m, "reference_slots_used")
                        + " (want " + slots + "), data blocks " + stat(p, m, "data_blocks_used") + " of " + firstCopyBlocks);
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
        byte[] data = Blocks.dataset(BLOCKS, 33);
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
            firstCopyBlocks = used[0];
            assertEquals(0, shared[0], "the first copy had nothing to share");
            for (int m = 1; m < 3; m++) {
                assertTrue(shared[m] >= 0.95 * BLOCKS, "copy " + m + " mapped the first pool's blocks: " + shared[m] + " of " + BLOCKS);
                assertTrue(used[m] <= 0.02 * used[0], "copy " + m + " added almost no data blocks: " + used[m] + " against " + used[0]);
            }
            assertTrue(firstAfter[2] <= used[0] * 1.02, "the pins added almost no data blocks to the first pool: " + used[0] + " -> " + firstAfter[2]);
            for (int m = 0; m < 3; m++) readsBack(ms.get(m), m, data, "while all members run");
            for (int m = 2; m >= 0; m--) assertEquals(0, ms.get(m).terminate(T), "clean stop of member " + m + "\n" + ms.get(m).err());
            // offline: each pool's reference counts recompute to the stored ones, every mapped block (foreign ones read
            // from the first pool's file) matches its checksum, every foreign mapping has its slot
            checkCluster(2L * BLOCKS, 0);
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
            // the third copy trimmed: its unpins (sent once the trims are durable) drop its slots in the first pool
            trimAll(third, "c2");
            awaitSlots(first, 0, BLOCKS, "the third pool's unpins");
            assertEquals(0, third.terminate(T), "clean stop\n" + third.err());
            // the second copy trimmed while the first pool has no owner: its unpins wait, and are lost when it stops
            assertEquals(0, first.terminate(T), "clean stop\n" + first.err());
            trimAll(second, "c1");
            ServeProcess trimmed = second;
            Await.until(() -> stat(trimmed, 1, "foreign_unpins_waiting") >= BLOCKS, 60, 200,
                    () -> "unpins waiting: " + stat(trimmed, 1, "foreign_unpins_waiting") + " (want " + BLOCKS + ")");
            assertEquals(0, second.terminate(T), "clean stop\n" + second.err());
            checkCluster(0, BLOCKS); // leaked: counted too high, never too low
            first = member(0);
            assertEquals(BLOCKS, stat(first, 0, "reference_slots_used"), "the leaked slots are still there");
            // the second pool's next open reconciles with the first pool: the leaked slots go, and the blocks with them
            second = member(1);
            awaitSlots(first, 0, 0, "the second pool's reconciliation");
            assertEquals(1, stat(second, 1, "foreign_reconciliations"));
            for (ServeProcess p : List.of(second, first)) assertEquals(0, p.terminate(T), "clean stop\n" + p.err());
            checkCluster(0, 0);
        } finally {
            for (ServeProcess p : started) p.close();
        }
    }
}
