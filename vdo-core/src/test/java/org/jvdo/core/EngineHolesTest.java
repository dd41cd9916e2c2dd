package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Regression tests for the engine holes of the correctness review (each one failed before its fix). */
class EngineHolesTest {
    @TempDir Path dir;

    /**
     * A sub-block write whose read of the stored block fails, with more sub-block writes of the
     * same block queued behind it, a FLUSH and a read: every one is answered, the partial writes
     * with an error, and no vio is left behind. (Before: the queued writes were never marked
     * ready, the FLUSH never replied, and the read spun forever on an I/O thread.)
     */
    @Test
    void failedReadModifyWriteAnswersEveryRequestQueuedBehindIt() throws Exception {
        FaultyBlockStore[] faulty = new FaultyBlockStore[1];
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.storeWrapper = s -> faulty[0] = new FaultyBlockStore(s);
        Random r = new Random(3);
        byte[] base = Blocks.random(r);
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", 256L * BS);
            Await.value(v.write(5L * BS, ByteBuffer.wrap(base), true), "write of lbn 5");
            long pbn = Mapping.pbn(v.blockMap().get(5));
            faulty[0].failRead = b -> b == pbn;
            List<CompletableFuture<Void>> partials = new ArrayList<>();
            for (int i = 0; i < 4; i++) partials.add(v.write(5L * BS + i * 1024L, ByteBuffer.wrap(new byte[1024]), false));
            CompletableFuture<Void> flush = v.flush();
            ByteBuffer dst = ByteBuffer.allocate(BS);
            CompletableFuture<Void> read = v.read(5L * BS, dst);
            for (int i = 0; i < 4; i++) {
                Throwable t = Await.outcome(partials.get(i), "partial write " + i);
                assertInstanceOf(VdoException.class, t, "partial write " + i + " must fail: its base block is unreadable");
                assertEquals(Errno.EIO, ((VdoException) t).errno());
            }
            assertEquals(null, Await.outcome(flush, "flush"), "flush after failed (unacknowledged) writes");
            Throwable rt = Await.outcome(read, "read of the block");
            assertTrue(rt == null || rt instanceof VdoException, "read: " + rt);
            faulty[0].failRead = b -> false;
            assertArrayEquals(base, Volumes.read(v, 5L * BS, BS), "the failed writes changed nothing");
            pool.quiesce();
            assertEquals(0, pool.stats().get("vio_pool_in_use"), "every vio returned");
            assertFalse(pool.isReadOnly(), "failed unacknowledged writes are not a reason for read-only mode");
        }
    }

    /**
     * A journal ring of 16 blocks and writers much faster than the background checkpoint: the
     * writers wait for journal space (a checkpoint), they are never failed and the pool does not
     * go read-only. (Before: entries were appended without bound, the commit threw
     * JournalFullException, an IOException, and the pool entered read-only mode.)
     */
    @Test
    void fullJournalSlowsWritersDownInsteadOfFailingThem() throws Exception {
        PoolConfig cfg = PoolConfig.small(256L << 20);
        cfg.journalBlocks = 16;
        Random r = new Random(9);
        int blocks = 16 * 1024;
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", (long) blocks * BS);
            byte[] chunk = new byte[256 * BS];
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < blocks / 256; i++) {
                    for (int k = 0; k < 256; k++) ByteBuffer.wrap(chunk).putLong(k * BS, ((long) pass << 40) | ((long) i << 20) | k);
                    fs.add(v.write((long) i * 256 * BS, ByteBuffer.wrap(chunk.clone()), false));
                }
            }
            for (int i = 0; i < fs.size(); i++) assertEquals(null, Await.outcome(fs.get(i), "write " + i), "write " + i);
            Await.value(v.flush(), "flush");
            assertFalse(pool.isReadOnly(), "read-only: " + pool.readOnlyReason());
            assertTrue(pool.stats().get("journal_full_waits") > 0, "the ring filled up (the test exercised back-pressure): " + pool.stats());
            byte[] got = Volumes.read(v, 37L * 256 * BS, 256 * BS);
            for (int k = 0; k < 256; k++) assertEquals((1L << 40) | (37L << 20) | k, ByteBuffer.wrap(got).getLong(k * BS), "block " + k);
        }
        try (Pool pool = Pool.open(dir, cfg)) {
            assertEquals(List.of(), pool.verifyReferenceCounts());
        }
    }

    /**
     * 1 KiB writes (four per block) from several threads, with FUA writes and FLUSHes mixed in,
     * all in flight at once: every request is answered exactly once and the blocks hold what the
     * model says. (Before: an acknowledgement could race the vio's completion on another thread,
     * a NullPointerException in acknowledgeEarly left requests without a reply.)
     */
    @Test
    void subBlockWritesWithFuaAndFlushAreAllAnswered() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        int blocks = 64, threads = 4, rounds = 150;
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", (long) blocks * BS);
            byte[] model = new byte[blocks * BS];
            List<Thread> ts = new ArrayList<>();
            List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int t = 0; t < threads; t++) {
                final int tt = t;
                Thread th = new Thread(() -> {
                    Random r = new Random(100 + tt);
                    try {
                        for (int round = 0; round < rounds; round++) {
                            List<CompletableFuture<Void>> fs = new ArrayList<>();
                            boolean[] used = new boolean[blocks];
                            for (int k = 0; k < 16; k++) {
                                int b = r.nextInt(blocks);
                                if (used[b]) continue;
                                used[b] = true;
                                byte[] q = new byte[1024];
                                r.nextBytes(q);
                                if (r.nextInt(3) == 0) Arrays.fill(q, (byte) (round + tt));   // compressible, shared
                                long off = (long) b * BS + tt * 1024L;
                                synchronized (model) { System.arraycopy(q, 0, model, (int) off, 1024); }
                                fs.add(v.write(off, ByteBuffer.wrap(q), r.nextInt(6) == 0));
                                if (r.nextInt(8) == 0) fs.add(v.flush());
                            }
                            for (int i = 0; i < fs.size(); i++) {
                                Throwable e = Await.outcome(fs.get(i), "thread " + tt + " round " + round + " request " + i);
                                if (e != null) throw new AssertionError("thread " + tt + " round " + round + ": request failed: " + e, e);
                            }
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                });
                ts.add(th);
                th.start();
            }
            for (Thread th : ts) {
                th.join(120_000);
                if (th.isAlive()) fail("a writer did not finish within 120 s");
            }
            if (!errors.isEmpty()) throw new AssertionError(errors.get(0));
            pool.quiesce();
            byte[] got = Volumes.read(v, 0, blocks * BS);
            for (int b = 0; b < blocks; b++) {
                assertArrayEquals(Arrays.copyOfRange(model, b * BS, (b + 1) * BS), Arrays.copyOfRange(got, b * BS, (b + 1) * BS), "block " + b);
            }
            assertEquals(0, pool.stats().get("vio_pool_in_use"), "every vio returned");
            assertEquals(List.of(), pool.verifyReferenceCounts());
        }
    }
}
