package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Power loss and the block-map tree's ordering rule (a leaf's bit is durable only after the
 * leaf): a volume with three level-1 bitmap pages, tiny leaf and bitmap caches (so leaves and
 * bitmap pages are written by evictions as well as by checkpoints), writes spread over many
 * leaves, flushes and checkpoints. The power fails at every sync of the run in turn (that sync
 * and everything after it never happen), and the unsynced pages reach the file in a random
 * subset or in the worst one for the rule (leaves keep their old content, bitmap pages their
 * new). After each: the pool opens (no "zeroed" false alarm), every write acknowledged before
 * a completed flush reads back, every other block reads its old or new content, and the
 * reference counts match the maps.
 */
class BlockMapTreePowerLossTest {
    @TempDir Path tmp;
    static final long BLOCKS = 1L << 25;        // 65664 leaf pages: level-1 bitmap pages 0..2, a top at level 2
    static final int WRITES = 48;

    /** Passes through to the power-loss store until sync number {@code cut} (counted once armed), which fails, as does everything after it. */
    static final class CutStore implements BlockStore {
        final PowerLossBlockStore inner;
        final long cut;
        long syncs;
        boolean dead, armed;

        CutStore(PowerLossBlockStore inner, long cut) { this.inner = inner; this.cut = cut; }

        private void alive() throws IOException { if (dead) throw new IOException("power lost"); }

        @Override public synchronized void read(long b, ByteBuffer dst) throws IOException { inner.read(b, dst); }
        @Override public synchronized void write(long b, ByteBuffer src) throws IOException { alive(); inner.write(b, src); }
        @Override public synchronized void sync() throws IOException {
            alive();
            if (armed && ++syncs == cut) { dead = true; throw new IOException("power lost before sync " + cut); }
            inner.sync();
        }
        @Override public synchronized void extendTo(long blocks) throws IOException { alive(); inner.extendTo(blocks); }
        @Override public synchronized long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }
        @Override public String describe() { return inner.describe(); }
        @Override public void close() throws IOException { inner.close(); }
    }

    /**
     * Write {@code i} goes to a fresh leaf under level-1 page {@code i % 3}: with two bitmap pages
     * cached, every write evicts one, often holding the bit of a leaf written since the last sync.
     */
    static long lbn(int i) {
        long leaf = i % 3 == 2 ? 2L * BlockMapTree.BITS_PER_PAGE + (i / 3) % 384 : (i % 3) * (long) BlockMapTree.BITS_PER_PAGE + (i / 3) * 101L;
        return leaf * BlockMap.ENTRIES_PER_PAGE + i % BlockMap.ENTRIES_PER_PAGE;
    }

    static byte[] content(int i) {
        byte[] b = new byte[BS];
        new Random(i * 31L + 7).nextBytes(b);
        return b;
    }

    /** One run: returns the syncs it made (for the dry run) or fails. */
    long run(Path dir, long cut, boolean worst, long seed) throws Exception {
        PowerLossBlockStore[] pl = new PowerLossBlockStore[1];
        CutStore[] cs = new CutStore[1];
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.blockMapCachePages = 4;
        cfg.blockMapTreeCachePages = 2;
        cfg.storeWrapper = s -> cs[0] = new CutStore(pl[0] = new PowerLossBlockStore(s), cut);
        Pool pool = Pool.create(dir, cfg);
        long[] region = new long[3];
        Map<Long, byte[]> durable = new LinkedHashMap<>();
        Map<Long, List<byte[]>> maybe = new LinkedHashMap<>();
        try {
            Volume v = pool.createVolume("v", BLOCKS * BS, "none");
            BlockMap map = v.blockMap();
            region[0] = map.regionStart();
            region[1] = map.regionStart() + map.mapPages();
            region[2] = map.regionStart() + BlockMap.regionBlocks(map.mapPages());
            synchronized (cs[0]) { cs[0].armed = true; }    // cuts fall in the workload, after the volume is created
            for (int i = 0; i < WRITES; i++) {
                long l = lbn(i);
                maybe.computeIfAbsent(l, k -> new ArrayList<>()).add(content(i));
                v.write(l * BS, ByteBuffer.wrap(content(i)), false).get(20, TimeUnit.SECONDS);
                if (i % 4 == 3) {
                    v.flush().get(20, TimeUnit.SECONDS);
                    for (Map.Entry<Long, List<byte[]>> e : maybe.entrySet()) {
                        List<byte[]> vals = e.getValue();
                        durable.put(e.getKey(), vals.get(vals.size() - 1));
                    }
                    maybe.clear();
                }
                if (i % 10 == 9) pool.checkpoint();
            }
        } catch (Exception e) {
            if (cs[0] == null || !cs[0].dead) throw e;   // the power loss: nothing after it happened
        }
        long syncs = cs[0].syncs;
        pool.crash();
        Random rnd = new Random(seed);
        PowerLossBlockStore.CrashReport rep = pl[0].simulateCrash(rnd, false,
                b -> !worst ? null : b >= region[0] && b < region[1] ? PowerLossBlockStore.Fate.OLD
                        : b >= region[1] && b < region[2] ? PowerLossBlockStore.Fate.NEW : null);
        String ctx = "power loss before sync " + cut + (worst ? " (leaves old, bitmap pages new)" : " (random subset, seed " + seed + ")") + ": " + rep;
        PoolConfig plain = PoolConfig.small(64L << 20);
        Pool p;
        try {
            p = Pool.open(dir, plain);
        } catch (Exception e) {
            throw new AssertionError("the pool does not open after a " + ctx + ": " + e, e);
        }
        try (Pool q = p) {
            Volume v = q.volume("v");
            assertNotNull(v, ctx);
            for (Map.Entry<Long, byte[]> e : durable.entrySet()) {
                if (maybe.containsKey(e.getKey())) continue;
                assertArrayEquals(e.getValue(), Volumes.read(v, e.getKey() * BS, BS), "flushed lbn " + e.getKey() + " after a " + ctx);
            }
            for (Map.Entry<Long, List<byte[]>> e : maybe.entrySet()) {
                byte[] got = Volumes.read(v, e.getKey() * BS, BS);
                boolean ok = java.util.Arrays.equals(got, durable.getOrDefault(e.getKey(), new byte[BS]));
                for (byte[] x : e.getValue()) ok |= java.util.Arrays.equals(got, x);
                assertTrue(ok, "unflushed lbn " + e.getKey() + " reads neither its old nor a new content after a " + ctx);
            }
            assertEquals(List.of(), q.verifyReferenceCounts(), ctx);
        }
        return syncs;
    }

    @Test
    void noSubsetOfUnsyncedWritesAtAnySyncGivesAZeroedAlarmOrLosesData() throws Exception {
        long total = run(tmp.resolve("dry"), Long.MAX_VALUE, false, 1);
        System.out.println("BlockMapTreePowerLossTest: " + total + " syncs in the run; cutting before each");
        int runs = 0;
        for (long cut = 1; cut <= total; cut++) {
            run(tmp.resolve("w" + cut), cut, true, cut);
            run(tmp.resolve("r" + cut), cut, false, cut);
            runs += 2;
        }
        System.out.println("BlockMapTreePowerLossTest: " + runs + " power losses, all opened with flushed data intact");
    }
}
