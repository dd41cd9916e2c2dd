package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The striped block map in a whole pool under many writers: two volumes of 16 block-map pages
 * each, an 8-page cache per volume (4 stripes of 2: nearly every write evicts a dirty page, through
 * the journal gate), a pool of 512 data blocks in 64-block slabs (overwrites free blocks that are
 * handed out again at once), six threads each owning two LBNs of every page of its volume (so all
 * threads meet in every page and stripe) doing batches of whole and duplicate writes, partial
 * writes, zeros, trims,
 * reads against their model, and flushes. At the end every LBN of both volumes reads as the
 * model and the reference counts equal what the block maps reference; then, after a flush and a
 * simulated power loss (writes since the last sync undone, {@link PowerLossBlockStore}), the
 * recovered pool reads as the model again and its counts agree ({@link RefcountInvariant} checks
 * them again at close).
 */
class BlockMapPoolStressTest {
    static final int THREADS = 6, PAGES = 16, PER_PAGE = 2, OPS = 1000;
    static final long LBNS = (long) PAGES * BlockMap.ENTRIES_PER_PAGE;

    @TempDir Path dir;

    static PoolConfig config(PowerLossBlockStore store) {
        PoolConfig cfg = PoolConfig.small(512L * BS);
        cfg.storeWrapper = store.wrapper();
        cfg.slabDataBlocks = 64;
        cfg.blockMapCachePages = 8;
        cfg.packerTimeoutMillis = 2;
        cfg.cpuThreads = 6;          // more threads in the block map at once than the machine has cores
        cfg.ioThreads = 4;
        cfg.compressionThreads = 3;
        return cfg;
    }

    /**
     * Thread {@code t}'s {@code i}-th LBN in its volume ({@code t % 2}): two per page, at {@code
     * (t / 2) * 8} and 4 after it, so the volume's three threads share every page.
     */
    static long lbnOf(int t, int i) {
        int page = i / PER_PAGE, j = i % PER_PAGE;
        return (long) page * BlockMap.ENTRIES_PER_PAGE + (t / 2) * 8L + j * 4L;
    }

    static final int OWN = PAGES * PER_PAGE;

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void manyWritersOverATinyBlockMapCacheAndATinyPool() throws Exception {
        long seed = Long.getLong("jvdo.seed", System.nanoTime());
        PowerLossBlockStore store = PowerLossBlockStore.inMemory("mem:stress");
        PoolConfig cfg = config(store);
        byte[][][] models = new byte[2][(int) LBNS][];     // per volume, per LBN: null = zeros
        ExecutorService ex = Executors.newFixedThreadPool(THREADS);
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume[] vols = {pool.createVolume("a", LBNS * BS), pool.createVolume("b", LBNS * BS)};
            assertEquals(4, vols[0].blockMap().stripes(), "the test means 4 stripes of 2 pages");
            List<byte[]> dups = new ArrayList<>();
            Random sr = new Random(seed);
            for (int i = 0; i < 4; i++) dups.add(Blocks.random(sr));
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                final int tt = t;
                fs.add(ex.submit(() -> {
                    Random r = new Random(seed * 31 + tt);
                    Volume v = vols[tt % 2];
                    byte[][] model = models[tt % 2];
                    for (int op = 0; op < OPS; op++) {
                        long lbn = lbnOf(tt, r.nextInt(OWN));
                        String ctx = "seed " + seed + " thread " + tt + " op " + op + " volume " + (tt % 2 == 0 ? "a" : "b") + " lbn " + lbn;
                        int k = r.nextInt(100);
                        if (k < 45) {
                            // a batch of whole-block writes to distinct own LBNs, all in flight at once
                            int n = 1 + r.nextInt(8);
                            List<Long> lbns = new ArrayList<>();
                            while (lbns.size() < n) { long l = lbnOf(tt, r.nextInt(OWN)); if (!lbns.contains(l)) lbns.add(l); }
                            List<byte[]> cs = new ArrayList<>();
                            for (int i = 0; i < n; i++) cs.add(r.nextInt(4) == 0 ? dups.get(r.nextInt(dups.size())) : Blocks.random(r));
                            writeAll(v, lbns, cs, ctx);
                            for (int i = 0; i < n; i++) model[lbns.get(i).intValue()] = cs.get(i).clone();
                        } else if (k < 55) {
                            // partial: read-modify-write over what is stored (the block map's get and checksum)
                            int off = r.nextInt(BS - 1), len = 1 + r.nextInt(BS - off);
                            byte[] c = new byte[len];
                            r.nextBytes(c);
                            write(pool, v, lbn * BS + off, c, false, ctx);
                            byte[] now = model[(int) lbn] == null ? new byte[BS] : model[(int) lbn].clone();
                            System.arraycopy(c, 0, now, off, len);
                            model[(int) lbn] = now;
                        } else if (k < 62) {
                            write(pool, v, lbn * BS, new byte[BS], false, ctx);
                            model[(int) lbn] = null;
                        } else if (k < 68) {
                            Await.value(v.trim(lbn * BS, BS, false), ctx + ": trim");
                            model[(int) lbn] = null;
                        } else if (k < 95) {
                            byte[] got = Volumes.read(v, lbn * BS, BS);
                            byte[] want = model[(int) lbn] == null ? new byte[BS] : model[(int) lbn];
                            if (!Arrays.equals(want, got)) fail(ctx + ": reads " + Blocks.describe(got, 0) + ", expected " + Blocks.describe(want, 0));
                        } else {
                            Await.value(v.flush(), ctx + ": flush");
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                try {
                    f.get(240, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof Error err) throw err;
                    throw e;
                }
            }
            pool.quiesce();
            for (int i = 0; i < 2; i++) checkAll(vols[i], models[i], "seed " + seed + " (quiesced)");
            assertEquals(List.of(), pool.verifyReferenceCounts(), "seed " + seed + ": reference counts against the block maps");
            // a power loss after a flush (the pool is on a simulated disk): block-map pages evicted since the last sync are lost,
            // the journal replay must bring every mapping back
            Await.value(vols[0].flush(), "seed " + seed + ": final flush");
            pool.crash();
            store.powerLoss();
        } finally {
            ex.shutdownNow();
        }
        try (Pool pool = Pool.open(dir, config(store))) {
            checkAll(pool.volume("a"), models[0], "seed " + seed + " (after a power loss)");
            checkAll(pool.volume("b"), models[1], "seed " + seed + " (after a power loss)");
            assertEquals(List.of(), pool.verifyReferenceCounts(), "seed " + seed + ": reference counts after the recovery");
        }
    }

    /** A write; ENOSPC (every block parked until a commit frees it) is answered by a flush and a retry. */
    static void write(Pool pool, Volume v, long offset, byte[] c, boolean fua, String ctx) throws Exception {
        for (int attempt = 0; ; attempt++) {
            Throwable t = Await.outcome(v.write(offset, ByteBuffer.wrap(c), fua), ctx + ": write");
            if (t == null) return;
            if (attempt < 20 && t instanceof VdoException e && e.errno() == Errno.ENOSPC) {
                Await.value(v.flush(), ctx + ": flush after ENOSPC");
                continue;
            }
            throw new AssertionError(ctx + ": write failed: " + t, t);
        }
    }

    /** Writes {@code cs[i]} to {@code lbns[i]}, all submitted before any is awaited; those refused with ENOSPC are retried after a flush. */
    static void writeAll(Volume v, List<Long> lbns, List<byte[]> cs, String ctx) throws Exception {
        List<Integer> todo = new ArrayList<>();
        for (int i = 0; i < lbns.size(); i++) todo.add(i);
        for (int attempt = 0; !todo.isEmpty(); attempt++) {
            List<java.util.concurrent.CompletableFuture<Void>> fs = new ArrayList<>();
            for (int i : todo) fs.add(v.write(lbns.get(i) * BS, ByteBuffer.wrap(cs.get(i)), false));
            List<Integer> again = new ArrayList<>();
            for (int j = 0; j < fs.size(); j++) {
                Throwable t = Await.outcome(fs.get(j), ctx + ": write of lbn " + lbns.get(todo.get(j)));
                if (t == null) continue;
                if (attempt < 20 && t instanceof VdoException e && e.errno() == Errno.ENOSPC) again.add(todo.get(j));
                else throw new AssertionError(ctx + ": write of lbn " + lbns.get(todo.get(j)) + " failed: " + t, t);
            }
            if (!again.isEmpty()) Await.value(v.flush(), ctx + ": flush after ENOSPC");
            todo = again;
        }
    }

    static void checkAll(Volume v, byte[][] model, String ctx) throws Exception {
        int batch = 256;
        for (long first = 0; first < LBNS; first += batch) {
            int n = (int) Math.min(batch, LBNS - first);
            byte[] got = Volumes.read(v, first * BS, n * BS);
            for (int i = 0; i < n; i++) {
                byte[] want = model[(int) first + i] == null ? new byte[BS] : model[(int) first + i];
                if (Arrays.mismatch(got, i * BS, (i + 1) * BS, want, 0, BS) != -1) {
                    fail(ctx + ": " + v.name() + " lbn " + (first + i) + " reads " + Blocks.describe(got, i * BS) + ", expected " + Blocks.describe(want, 0));
                }
            }
        }
    }
}
