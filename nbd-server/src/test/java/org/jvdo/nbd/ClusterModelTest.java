package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jvdo.core.Pool;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A randomized, model-based test of a three-member cluster (docs/cluster.md). Each member serves
 * its own pool. Writes, overwrites, trims and flushes go to every export, drawing from a small
 * set of block contents, so the same data lands in every pool and the index is shared. Members
 * are killed at random (SIGKILL, their pools taken over by a survivor) and started again (a new
 * member with a new pool at the dead member's address).
 *
 * <p>The reference model keeps, per block, the value at its last completed FLUSH and the values
 * written since. While a server lives, every read must equal the last write. After a kill, every
 * block of the lost exports must read as one of its possible values, and is then settled to the
 * value read. After a clean stop of all members, each pool is checked offline (reference counts)
 * and read back directly. The test prints its seed (set {@code -Djvdo.modelSeed=N} to replay one)
 * and fails on the first mismatch, naming the operation.
 */
class ClusterModelTest {
    static final Duration T = Duration.ofSeconds(120);
    static final int BLOCKS = 1024; // 4 MiB per volume
    static final int CONTENTS = 48;
    static final ClusterMembers MEMBERS = new ClusterMembers("model", "-Xmx320m", "4M", "128M");
    @TempDir Path tmp;

    /** One export: where it is served now, its client, and the model of its blocks. */
    static final class Export {
        final String name;
        final Path pool;
        ServeProcess server;
        RawClient client;
        final int[] flushed = new int[BLOCKS]; // content id at the last completed flush (0: zeros)
        final List<java.util.Set<Integer>> since = new ArrayList<>(); // ids written since then, per block
        final int[] last = new int[BLOCKS]; // the last write (what a live server must return)

        Export(String name, Path pool) {
            this.name = name;
            this.pool = pool;
            for (int i = 0; i < BLOCKS; i++) since.add(new java.util.HashSet<>());
        }
    }

    private final List<ServeProcess> started = new ArrayList<>();
    private final Map<Integer, byte[]> contents = new HashMap<>();
    private long handle = 1;

    private byte[] content(int id) {
        if (id == 0) return new byte[Blocks.BS];
        return contents.computeIfAbsent(id, k -> k % 3 == 0 ? Blocks.text(new SplittableRandom(k)) : Blocks.random(new SplittableRandom(k)));
    }

    private int idOf(byte[] b) {
        if (java.util.Arrays.equals(b, new byte[Blocks.BS])) return 0;
        for (int id = 1; id <= CONTENTS; id++) if (java.util.Arrays.equals(b, content(id))) return id;
        return -1;
    }

    private ServeProcess member(String[] cluster, int slot, String export) throws Exception {
        return MEMBERS.start(started, tmp, export, tmp.resolve(export), export, cluster, slot, T);
    }

    private RawClient connect(ServeProcess p, String export) throws Exception {
        RawClient c = RawClient.open(p.port);
        c.socket.setSoTimeout(60_000);
        c.go(export);
        return c;
    }

    /** Starts a member in {@code slot} with a new pool serving export {@code name}, connects to it, and adds the export. */
    private void startExport(String[] cluster, ServeProcess[] slots, int slot, String name, Map<String, Export> exports) throws Exception {
        slots[slot] = member(cluster, slot, name);
        Export e = new Export(name, tmp.resolve(name));
        e.server = slots[slot];
        e.client = connect(slots[slot], name);
        exports.put(name, e);
    }

    @Test
    @Timeout(900)
    void randomWritesTrimsFlushesKillsAndRestartsMatchTheModel() throws Exception {
        long seed = Long.getLong("jvdo.modelSeed", System.nanoTime());
        System.out.println("ClusterModelTest seed " + seed + " (replay: -Djvdo.modelSeed=" + seed + ")");
        SplittableRandom r = new SplittableRandom(seed);
        String[] cluster = {"127.0.0.1:" + ServeProcess.freePort(), "127.0.0.1:" + ServeProcess.freePort(),
                "127.0.0.1:" + ServeProcess.freePort()};
        Map<String, Export> exports = new LinkedHashMap<>();
        ServeProcess[] slots = new ServeProcess[3];
        int generation = 0;
        try {
            for (int m = 0; m < 3; m++) startExport(cluster, slots, m, "e" + generation++, exports);
            int kills = 0, restarts = 0, ops = 400;
            for (int op = 0; op < ops; op++) {
                String where = "seed " + seed + ", operation " + op;
                int dice = r.nextInt(100);
                if (dice < 2 && kills < 3) { // kill a member, keeping two alive
                    List<Integer> alive = new ArrayList<>();
                    for (int m = 0; m < 3; m++) if (slots[m] != null) alive.add(m);
                    if (alive.size() < 3) continue;
                    int victim = alive.get(r.nextInt(alive.size()));
                    kill(slots[victim], exports, slots, where + " (kill of member " + victim + ")");
                    slots[victim] = null;
                    kills++;
                    continue;
                }
                if (dice < 4) { // start a member in an empty slot: a new pool at the dead member's address
                    int empty = -1;
                    for (int m = 0; m < 3; m++) if (slots[m] == null) empty = m;
                    if (empty < 0) continue;
                    startExport(cluster, slots, empty, "e" + generation++, exports);
                    restarts++;
                    continue;
                }
                List<Export> all = new ArrayList<>(exports.values());
                Export e = all.get(r.nextInt(all.size()));
                if (dice < 12) { // flush
                    flush(e, where);
                } else if (dice < 20) { // trim
                    int blk = r.nextInt(BLOCKS), n = 1 + r.nextInt(Math.min(16, BLOCKS - blk));
                    e.client.request(0, NbdProtocol.CMD_TRIM, handle, (long) blk * Blocks.BS, (long) n * Blocks.BS, null);
                    RawClient.Simple s = e.client.simple();
                    handle++;
                    assertEquals(0, s.error(), where + ": trim of " + e.name + " blocks " + blk + "+" + n);
                    for (int i = blk; i < blk + n; i++) record(e, i, 0);
                } else if (dice < 32) { // read and compare a run with the last writes
                    int blk = r.nextInt(BLOCKS), n = 1 + r.nextInt(Math.min(32, BLOCKS - blk));
                    byte[] got = e.client.read(handle++, (long) blk * Blocks.BS, n * Blocks.BS);
                    for (int i = 0; i < n; i++) {
                        int id = idOf(java.util.Arrays.copyOfRange(got, i * Blocks.BS, (i + 1) * Blocks.BS));
                        if (id != e.last[blk + i]) {
                            fail(where + ": " + e.name + " block " + (blk + i) + " read content " + id + ", the last write was "
                                    + e.last[blk + i]);
                        }
                    }
                } else { // write a run of blocks, each one of few contents (duplicates within and across pools)
                    int blk = r.nextInt(BLOCKS), n = 1 + r.nextInt(Math.min(8, BLOCKS - blk));
                    byte[] data = new byte[n * Blocks.BS];
                    int[] ids = new int[n];
                    for (int i = 0; i < n; i++) {
                        ids[i] = 1 + r.nextInt(CONTENTS);
                        System.arraycopy(content(ids[i]), 0, data, i * Blocks.BS, Blocks.BS);
                    }
                    int err = e.client.write(handle++, (long) blk * Blocks.BS, data);
                    assertEquals(0, err, where + ": write to " + e.name + " blocks " + blk + "+" + n);
                    for (int i = 0; i < n; i++) record(e, blk + i, ids[i]);
                }
            }
            System.out.printf("ClusterModelTest seed %d: %d operations, %d kills, %d members started again, %d exports%n",
                    seed, ops, kills, restarts, exports.size());
            for (Export e : exports.values()) {
                flush(e, "final flush");
                verifyAll(e, "seed " + seed + ", before the stop");
                e.client.close();
            }
            for (int m = 0; m < 3; m++) {
                if (slots[m] != null) assertEquals(0, slots[m].terminate(T), "clean stop of member " + m + "\n" + slots[m].err());
            }
            // offline: every pool's reference counts recompute to the stored ones, and its blocks are the model's
            for (Export e : exports.values()) {
                MainTest.Run check = MainTest.run("check", e.pool.toString());
                assertEquals(0, check.exit(), "seed " + seed + ": check of " + e.pool + "\n" + check);
                try (Pool p = Pool.open(e.pool, new org.jvdo.core.api.PoolConfig())) {
                    java.nio.ByteBuffer got = java.nio.ByteBuffer.allocate(BLOCKS * Blocks.BS);
                    p.volume(e.name).read(0, got).get(60, java.util.concurrent.TimeUnit.SECONDS);
                    for (int i = 0; i < BLOCKS; i++) {
                        int id = idOf(java.util.Arrays.copyOfRange(got.array(), i * Blocks.BS, (i + 1) * Blocks.BS));
                        if (id != e.last[i]) fail("seed " + seed + ": offline, " + e.name + " block " + i + " holds " + id + ", not " + e.last[i]);
                    }
                }
            }
            // and across the pools: every foreign mapping (the exports share contents) has its reference slot
            List<String> cargs = new ArrayList<>(List.of("check", "--cluster"));
            for (Export e : exports.values()) if (!cargs.contains(e.pool.toString())) cargs.add(e.pool.toString());
            MainTest.Run cross = MainTest.run(cargs.toArray(String[]::new));
            assertEquals(0, cross.exit(), "seed " + seed + ": check --cluster\n" + cross);
            System.out.println("ClusterModelTest seed " + seed + ": " + cross.out().lines().filter(l -> l.contains("foreign mappings")).findFirst().orElse(cross.out()));
        } finally {
            for (Export e : exports.values()) {
                try {
                    if (e.client != null) e.client.close();
                } catch (Exception ignored) {
                    // the server is gone
                }
            }
            for (ServeProcess p : started) p.close();
        }
    }

    private void record(Export e, int blk, int id) {
        e.last[blk] = id;
        e.since.get(blk).add(id);
    }

    private void flush(Export e, String where) throws Exception {
        e.client.request(0, NbdProtocol.CMD_FLUSH, handle, 0, 0, null);
        RawClient.Simple s = e.client.simple();
        handle++;
        assertEquals(0, s.error(), where + ": flush of " + e.name);
        for (int i = 0; i < BLOCKS; i++) {
            e.flushed[i] = e.last[i];
            e.since.get(i).clear();
        }
    }

    /** Every block equals the last write (a live server). */
    private void verifyAll(Export e, String where) throws Exception {
        byte[] got = e.client.read(handle++, 0, BLOCKS * Blocks.BS);
        for (int i = 0; i < BLOCKS; i++) {
            int id = idOf(java.util.Arrays.copyOfRange(got, i * Blocks.BS, (i + 1) * Blocks.BS));
            if (id != e.last[i]) fail(where + ": " + e.name + " block " + i + " reads " + id + ", the last write was " + e.last[i]);
        }
    }

    /**
     * SIGKILL, then each export the member served comes back on a survivor: every block reads as
     * its flushed value or one written since (whole blocks), and the model settles on what was read.
     */
    private void kill(ServeProcess victim, Map<String, Export> exports, ServeProcess[] slots, String where) throws Exception {
        long t0 = System.nanoTime();
        victim.process.destroyForcibly();
        if (!victim.process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) fail(where + ": the member did not die");
        for (Export e : exports.values()) {
            if (e.server != victim) continue;
            try {
                e.client.close();
            } catch (Exception ignored) {
                // already reset
            }
            ServeProcess taker = null;
            long end = System.nanoTime() + T.toNanos();
            while (taker == null) {
                for (ServeProcess s : slots) {
                    if (s != null && s != victim && s.out().lines().anyMatch(l -> l.startsWith("jvdo: serving " + e.name + " "))) taker = s;
                }
                if (taker == null) {
                    if (System.nanoTime() > end) fail(where + ": no survivor took over " + e.name);
                    Thread.sleep(100);
                }
            }
            e.server = taker;
            e.client = connect(taker, e.name);
            byte[] got = e.client.read(handle++, 0, BLOCKS * Blocks.BS);
            for (int i = 0; i < BLOCKS; i++) {
                int id = idOf(java.util.Arrays.copyOfRange(got, i * Blocks.BS, (i + 1) * Blocks.BS));
                if (id != e.flushed[i] && !e.since.get(i).contains(id)) {
                    fail(where + ": after the takeover " + e.name + " block " + i + " reads content " + id + "; flushed " + e.flushed[i]
                            + ", written since " + e.since.get(i));
                }
                e.last[i] = id;
                e.flushed[i] = id; // settled: the next flush makes it durable; until then it is the only value
                e.since.get(i).clear();
                e.since.get(i).add(id);
            }
            System.out.printf("%s: %s taken over in %d ms%n", where, e.name, (System.nanoTime() - t0) / 1_000_000);
        }
    }
}
