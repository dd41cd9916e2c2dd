package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Block reuse racing dedup: a freed block that the index still names is allocated to a new
 * write while an identical copy of its old content is written elsewhere. The dedup verify must
 * not share the block while its new data is in flux (the PBN write lock).
 */
class ReuseRaceTest {
    @TempDir Path dir;

    /** A store that can hold data-block writes back for a while (the window between allocation and the data write). */
    static final class SlowWrites implements BlockStore {
        final BlockStore inner;
        volatile long delayMillis;
        volatile long firstDataBlock = Long.MAX_VALUE;

        SlowWrites(BlockStore inner) { this.inner = inner; }

        @Override public void read(long b, ByteBuffer dst) throws IOException { inner.read(b, dst); }

        @Override public void write(long b, ByteBuffer src) throws IOException {
            long d = delayMillis;
            if (d > 0 && b >= firstDataBlock) {
                try { Thread.sleep(d); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            }
            inner.write(b, src);
        }

        @Override public void sync() throws IOException { inner.sync(); }
        @Override public long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }
        @Override public String describe() { return inner.describe(); }
        @Override public void close() throws IOException { inner.close(); }
    }

    static <T> T await(CompletableFuture<T> f, String what) throws Exception {
        return Await.value(f, what);
    }

    /**
     * The review's scenario, made deterministic: D at LBN 0 in block P, every other block of a
     * 16-block pool used, LBN 0 overwritten with zeros and flushed (P is free, the index still
     * says D → P), one more block freed for D's second copy. E is written to LBN 1 and gets P, its data write held back; meanwhile D is
     * written to LBN 2. LBN 2 must read D and LBN 1 must read E.
     */
    @Test
    void dedupVerifyDoesNotShareABlockBeingRewritten() throws Exception {
        SlowWrites[] slow = new SlowWrites[1];
        PoolConfig cfg = PoolConfig.small(16L * BS);
        cfg.slabDataBlocks = 16;
        cfg.storeWrapper = s -> slow[0] = new SlowWrites(s);
        Random r = new Random(11);
        byte[] d = Blocks.random(r), e = Blocks.random(r);
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", 64L * BS);
            await(v.write(0, ByteBuffer.wrap(d), true), "write D at lbn 0");
            long p = Mapping.pbn(v.blockMap().get(0));
            for (int i = 0; i < 15; i++) await(v.write((long) (3 + i) * BS, ByteBuffer.wrap(Blocks.random(r)), false), "fill");
            await(v.flush(), "flush");
            assertEquals(16, pool.depot.dataBlocksUsed(), "every block used");
            await(v.write(0, ByteBuffer.wrap(new byte[BS]), true), "zeros over lbn 0 (frees D's block)");
            await(v.trim(17L * BS, BS, true), "trim of the last filler (a second free block, for D's new copy)");
            await(v.flush(), "flush (the freed block becomes allocatable)");
            slow[0].firstDataBlock = 0;  // every write from now on is slow, data included
            slow[0].delayMillis = 400;
            CompletableFuture<Void> we = v.write(1L * BS, ByteBuffer.wrap(e), false);
            // wait until E holds D's old block and is writing it (not a guess at how long that takes)
            Await.until(() -> pool.depot.isBeingWritten(p), 20, () -> "E never got D's freed block " + p + " (the scenario did not happen)");
            CompletableFuture<Void> wd = v.write(2L * BS, ByteBuffer.wrap(d), false);
            await(we, "write E");
            await(wd, "write D again");
            pool.quiesce();              // both are stored, not only acknowledged
            slow[0].delayMillis = 0;
            assertArrayEquals(e, Volumes.read(v, 1L * BS, BS), "lbn 1 must read E");
            assertArrayEquals(d, Volumes.read(v, 2L * BS, BS), "lbn 2 must read D, not the block reused for E");
            assertEquals(List.of(), pool.verifyReferenceCounts());
        }
    }

    /**
     * Concurrent model-based test with reuse forced: a pool of four 16-block slabs, threads that
     * each own some LBNs and write few distinct contents (so advice is constant), overwrites,
     * zeros, trims, partial writes and flushes. After every step each thread reads its LBNs
     * back against its model; at barriers, recomputed reference counts equal the stored ones.
     */
    @Test
    void concurrentReuseWithConstantAdvice() throws Exception {
        long seed = Long.getLong("jvdo.seed", System.nanoTime());
        int rounds = Integer.getInteger("jvdo.reuse.rounds", 120);
        runModel(seed, rounds);
    }

    static final int THREADS = 6, PER_THREAD = 6, STEPS = 25;

    void runModel(long seed, int rounds) throws Exception {
        PoolConfig cfg = PoolConfig.small(64L * BS);
        cfg.slabDataBlocks = 16;
        cfg.packerTimeoutMillis = 2;
        // a disk that takes a millisecond per write: the window between a block's allocation and
        // its data write is as wide as on a real device
        SlowWrites[] slow = new SlowWrites[1];
        cfg.storeWrapper = s -> slow[0] = new SlowWrites(s);
        Random seedRnd = new Random(seed);
        List<byte[]> contents = new ArrayList<>();
        for (int i = 0; i < 5; i++) contents.add(i % 2 == 0 ? Blocks.text(seedRnd) : Blocks.random(seedRnd));
        ExecutorService ex = Executors.newFixedThreadPool(THREADS);
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", (long) THREADS * PER_THREAD * BS);
            slow[0].firstDataBlock = 0;
            slow[0].delayMillis = 1;
            byte[][] model = new byte[THREADS * PER_THREAD][];
            for (int i = 0; i < model.length; i++) model[i] = new byte[BS];
            CyclicBarrier barrier = new CyclicBarrier(THREADS + 1);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                final int tt = t;
                fs.add(ex.submit(() -> {
                    Random r = new Random(seed * 31 + tt);
                    for (int round = 0; round < rounds; round++) {
                        for (int s = 0; s < STEPS; s++) {
                            String ctx = "seed " + seed + " thread " + tt + " round " + round + " step " + s;
                            try {
                                step(v, tt, r, contents, model, ctx);
                            } catch (Throwable e) {
                                barrier.reset();   // wake the others and the checker at once: the test fails now
                                if (e instanceof AssertionError a) throw a;
                                throw new AssertionError(ctx + ": " + e, e);
                            }
                        }
                        barrier.await(60, TimeUnit.SECONDS);
                        barrier.await(60, TimeUnit.SECONDS);
                    }
                    return null;
                }));
            }
            for (int round = 0; round < rounds; round++) {
                try {
                    barrier.await(60, TimeUnit.SECONDS);
                } catch (Exception e) {
                    // a worker broke the barrier: its assertion is the verdict (the others end with BrokenBarrierException)
                    for (Future<?> f : fs) {
                        try {
                            f.get(20, TimeUnit.SECONDS);
                        } catch (ExecutionException x) {
                            if (x.getCause() instanceof AssertionError a) throw a;
                        } catch (TimeoutException ignored) {
                            // reported below
                        }
                    }
                    throw new AssertionError("seed " + seed + " round " + round + ": threads did not reach the barrier", e);
                }
                pool.quiesce();
                // everything is stored now (not only queued): what the disk holds must be the model
                for (int lbn = 0; lbn < model.length; lbn++) {
                    byte[] got = Volumes.read(v, (long) lbn * BS, BS);
                    if (!Arrays.equals(model[lbn], got)) {
                        fail("seed " + seed + " round " + round + " (quiesced): lbn " + lbn + " reads " + Blocks.describe(got, 0)
                                + ", expected " + Blocks.describe(model[lbn], 0));
                    }
                }
                List<String> problems = pool.verifyReferenceCounts();
                if (!problems.isEmpty()) fail("seed " + seed + " round " + round + ": reference counts: " + problems);
                barrier.await(60, TimeUnit.SECONDS);
            }
            for (Future<?> f : fs) {
                try {
                    f.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof AssertionError a) throw a;
                    throw e;
                }
            }
            assertEquals(0, pool.isReadOnly() ? 1 : 0, "seed " + seed + ": pool went read-only: " + pool.readOnlyReason());
        } finally {
            ex.shutdownNow();
        }
    }

    /** A few concurrent operations on this thread's LBNs, then every one of them read back against the model. */
    private static void step(Volume v, int t, Random r, List<byte[]> contents, byte[][] model, String ctx) throws Exception {
        int base = t * PER_THREAD;
        List<CompletableFuture<Void>> ops = new ArrayList<>();
        List<Runnable> onSuccess = new ArrayList<>();
        boolean[] touched = new boolean[PER_THREAD];
        int n = 1 + r.nextInt(3);
        for (int k = 0; k < n; k++) {
            int i = r.nextInt(PER_THREAD);
            if (touched[i]) continue;
            touched[i] = true;
            int lbn = base + i;
            int kind = r.nextInt(100);
            if (kind < 55) {
                byte[] c = contents.get(r.nextInt(contents.size()));
                ops.add(v.write((long) lbn * BS, ByteBuffer.wrap(c), r.nextInt(10) == 0));
                onSuccess.add(() -> model[lbn] = c);
            } else if (kind < 70) {
                ops.add(v.write((long) lbn * BS, ByteBuffer.wrap(new byte[BS]), false));
                onSuccess.add(() -> model[lbn] = new byte[BS]);
            } else if (kind < 80) {
                ops.add(v.trim((long) lbn * BS, BS, false));
                onSuccess.add(() -> model[lbn] = new byte[BS]);
            } else if (kind < 92) {
                // a partial write that turns the block into one of the shared contents
                byte[] c = contents.get(r.nextInt(contents.size()));
                int off = r.nextInt(BS / 512) * 512;
                byte[] prev = model[lbn];
                byte[] next = prev.clone();
                System.arraycopy(c, off, next, off, 512);
                ops.add(v.write((long) lbn * BS + off, ByteBuffer.wrap(c, off, 512).slice(), false));
                onSuccess.add(() -> model[lbn] = next);
            } else {
                ops.add(v.flush());
                onSuccess.add(() -> { });
            }
        }
        for (int k = 0; k < ops.size(); k++) {
            try {
                ops.get(k).get(30, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError(ctx + ": operation not completed within 30 s");
            } catch (ExecutionException e) {
                // out of space is a legitimate answer on a pool this small: the write had no effect
                if (e.getCause() instanceof VdoException ve && ve.errno() == Errno.ENOSPC) continue;
                throw new AssertionError(ctx + ": operation failed: " + e.getCause(), e.getCause());
            }
            onSuccess.get(k).run();
        }
        for (int i = 0; i < PER_THREAD; i++) {
            byte[] got = Volumes.read(v, (long) (base + i) * BS, BS);
            if (!Arrays.equals(model[base + i], got)) {
                fail(ctx + ": lbn " + (base + i) + " reads " + Blocks.describe(got, 0) + ", expected " + Blocks.describe(model[base + i], 0));
            }
        }
    }
}
