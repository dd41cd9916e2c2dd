package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The host filesystem under the pool file fills up ({@link FullFilesystemStore}): clients get
 * ENOSPC, never read-only mode; every write acknowledged before a successful flush is kept;
 * writes resume by themselves once space is back; the pool reopens clean.
 */
class NoSpaceTest {
    @TempDir Path dir;

    private FullFilesystemStore fs;
    /** Which blocks of the pool file have space, kept across reopens as the filesystem would. */
    private final java.util.BitSet space = new java.util.BitSet();
    /** False: the store reserves nothing, from the pool's creation on. */
    private boolean reserveWorks = true;

    private PoolConfig config() {
        PoolConfig c = new PoolConfig();
        c.physicalBytes = 64L << 20;
        c.slabDataBlocks = 256;
        c.journalBlocks = 64;
        c.blockMapCachePages = 8;
        c.vioPoolSize = 64;
        c.indexMaxSlots = 1 << 16;
        c.storeWrapper = s -> {
            fs = new FullFilesystemStore(s, space);
            fs.reserveWorks = reserveWorks;
            return fs;
        };
        return c;
    }

    /** Null when it completed, else its failure. */
    private static Throwable outcome(CompletableFuture<?> f) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("request not completed within 30 s", e);
        }
    }

    private static void assertNoSpace(Throwable t, String what) {
        assertEquals(Errno.ENOSPC, VdoException.errnoOf(t), what + " should fail with ENOSPC, got " + t);
    }

    private static void verify(Volume v, Map<Long, byte[]> expected, String when) throws Exception {
        for (Map.Entry<Long, byte[]> e : expected.entrySet()) {
            byte[] got = Volumes.read(v, e.getKey() * BS, BS);
            if (!java.util.Arrays.equals(e.getValue(), got)) {
                fail(when + ": lbn " + e.getKey() + " reads " + Blocks.describe(got, 0) + ", expected " + Blocks.describe(e.getValue(), 0));
            }
        }
    }

    /** Writes a new block and flushes until both succeed (space is back); fails after 20 s. */
    private static void awaitWritesResume(Pool pool, Volume v, long lbn, byte[] data, Map<Long, byte[]> durable) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Throwable last = null;
        while (System.nanoTime() < deadline) {
            last = outcome(v.write(lbn * BS, ByteBuffer.wrap(data), false));
            if (last == null) last = outcome(v.flush());
            if (last == null) { durable.put(lbn, data); return; }
            assertNoSpace(last, "a write or flush while space comes back");
            Thread.sleep(20);
        }
        fail("writes did not resume within 20 s after space came back (mode " + pool.mode() + "): " + last);
    }

    private void assertReopensClean(Map<Long, byte[]> durable) throws Exception {
        PoolCheck.Result check = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.CLEAN, check.exitCode(), "jvdo check after space came back: " + check.problems());
        PoolConfig c = config();
        try (Pool p = Pool.open(dir, c)) {
            assertTrue(p.wasClean(), "the pool closed cleanly");
            assertFalse(p.isReadOnly());
            verify(p.volume("v"), durable, "after reopening");
        }
    }

    @Test
    void fullFilesystemGivesEnospcKeepsFlushedWritesAndResumes() throws Exception {
        Random r = new Random(1007);
        Map<Long, byte[]> durable = new LinkedHashMap<>();
        long lbn = 0;
        try (Pool pool = Pool.create(dir, config())) {
            Volume v = pool.createVolume("v", 64L << 20);
            for (; lbn < 300; lbn++) {
                byte[] d = lbn % 4 == 0 ? Blocks.text(r) : Blocks.random(r);
                assertEquals(null, outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false)));
                durable.put(lbn, d);
            }
            assertEquals(null, outcome(v.flush()));

            fs.full = true;
            Map<Long, byte[]> sinceFlush = new LinkedHashMap<>();
            List<Long> refused = new ArrayList<>();
            int flushes = 0, failedFlushes = 0;
            for (int i = 0; i < 3000 && refused.size() < 50; i++, lbn++) {
                byte[] d = lbn % 4 == 0 ? Blocks.text(r) : Blocks.random(r);
                Throwable t = outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false));
                if (t == null) sinceFlush.put(lbn, d);
                else { assertNoSpace(t, "write of lbn " + lbn + " to a full filesystem"); refused.add(lbn); }
                if (i % 10 == 9) {
                    flushes++;
                    Throwable ft = outcome(v.flush());
                    if (ft == null) { durable.putAll(sinceFlush); sinceFlush.clear(); }
                    else { assertNoSpace(ft, "flush on a full filesystem"); failedFlushes++; }
                }
                assertFalse(pool.isReadOnly(), "a full filesystem is not damage, but the pool went read-only: " + pool.readOnlyReason());
            }
            assertTrue(refused.size() >= 50, "writes to a full filesystem should be refused; refused " + refused.size());
            assertTrue(fs.faults.get() > 0, "the store should have met ENOSPC");
            Map<String, Long> stats = pool.stats();
            assertTrue(stats.get("no_space_errors") > 0, "no_space_errors counted: " + stats.get("no_space_errors"));
            assertEquals(0L, stats.get("read_only"));
            // what a flush covered reads back; refused writes did not take effect (their blocks were never written)
            verify(v, durable, "on the full filesystem");
            for (long l : refused) assertArrayEquals(new byte[BS], Volumes.read(v, l * BS, BS), "refused write of lbn " + l + " took effect");

            fs.full = false;
            awaitWritesResume(pool, v, lbn++, Blocks.random(r), durable);
            for (int i = 0; i < 200; i++, lbn++) {
                byte[] d = Blocks.random(r);
                assertEquals(null, outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false)), "write after space came back");
                durable.put(lbn, d);
            }
            assertEquals(null, outcome(v.flush()));
            Await.until(() -> "normal".equals(pool.mode()), 10, () -> "no-space state should clear by itself, mode " + pool.mode());
            verify(v, durable, "after space came back");
            assertEquals(List.of(), pool.verifyReferenceCounts());
            System.out.println("NoSpaceTest: " + refused.size() + " writes refused, " + failedFlushes + " of " + flushes
                    + " flushes failed, " + stats.get("no_space_errors") + " no-space errors, " + fs.faults.get() + " store faults");
        }
        assertReopensClean(durable);
    }

    @Test
    void syncFailingWithEnospcFailsTheFlushThenRecovers() throws Exception {
        Random r = new Random(2009);
        Map<Long, byte[]> durable = new LinkedHashMap<>();
        try (Pool pool = Pool.create(dir, config())) {
            Volume v = pool.createVolume("v", 64L << 20);
            for (long lbn = 0; lbn < 50; lbn++) {
                byte[] d = Blocks.random(r);
                assertEquals(null, outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false)));
                durable.put(lbn, d);
            }
            assertEquals(null, outcome(v.flush()));
            fs.failSyncs = true;
            Map<Long, byte[]> acked = new LinkedHashMap<>();
            for (long lbn = 50; lbn < 70; lbn++) {
                byte[] d = Blocks.random(r);
                Throwable t = outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false));
                if (t == null) acked.put(lbn, d); else assertNoSpace(t, "write while syncs fail");
            }
            Throwable ft = outcome(v.flush());
            assertNotNull(ft, "a flush whose sync failed must not succeed");
            assertNoSpace(ft, "flush whose sync met ENOSPC");
            assertFalse(pool.isReadOnly(), "sync ENOSPC sent the pool read-only: " + pool.readOnlyReason());
            assertEquals("no-space", pool.mode());
            assertNoSpace(outcome(v.write(90L * BS, ByteBuffer.wrap(Blocks.random(r)), false)), "a new write in the no-space state");
            fs.failSyncs = false;
            awaitWritesResume(pool, v, 100, Blocks.random(r), durable);
            durable.putAll(acked);   // the flush that succeeded covers them
            verify(v, durable, "after syncs work again");
            assertEquals(List.of(), pool.verifyReferenceCounts());
        }
        assertReopensClean(durable);
    }

    @Test
    void unreservedSpaceLostAcknowledgedWriteFailsTheNextFlush() throws Exception {
        Random r = new Random(3011);
        Map<Long, byte[]> durable = new LinkedHashMap<>();
        reserveWorks = false;   // as on a filesystem that cannot fallocate: neither slab nor journal space is held
        try (Pool pool = Pool.create(dir, config())) {
            Volume v = pool.createVolume("v", 64L << 20);
            for (long lbn = 0; lbn < 20; lbn++) {
                byte[] d = Blocks.random(r);
                assertEquals(null, outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false)));
                durable.put(lbn, d);
            }
            assertEquals(null, outcome(v.flush()));
            fs.full = true;
            // acknowledged early (a pool block was set aside for it), then its data write meets ENOSPC
            Throwable w = outcome(v.write(20L * BS, ByteBuffer.wrap(Blocks.random(r)), false));
            assertEquals(null, w, "the first write is acknowledged before it is stored");
            Throwable ft = outcome(v.flush());
            assertNotNull(ft, "the flush after an acknowledged write that could not be stored must fail");
            assertNoSpace(ft, "that flush");
            assertFalse(pool.isReadOnly(), "pool went read-only: " + pool.readOnlyReason());
            assertEquals(1L, pool.stats().get("no_space_lost_writes"));
            // from now on writes are acknowledged only once stored: ENOSPC goes to the writer itself
            assertNoSpace(outcome(v.write(21L * BS, ByteBuffer.wrap(Blocks.random(r)), false)), "a later write on the full filesystem");
            assertArrayEquals(new byte[BS], Volumes.read(v, 20L * BS, BS), "the lost write keeps the block's older contents");
            verify(v, durable, "after the lost write");
            // a trim stores no data and is taken, but its journal block finds no space: the flush fails
            assertEquals(null, outcome(v.trim(0, BS, false)), "trim on the full filesystem");
            durable.put(0L, new byte[BS]);
            Throwable tf = outcome(v.flush());
            assertNotNull(tf, "a flush whose journal write met ENOSPC must fail");
            assertNoSpace(tf, "flush whose journal write met ENOSPC");
            assertEquals("no-space", pool.mode());
            assertFalse(pool.isReadOnly(), "pool went read-only: " + pool.readOnlyReason());
            fs.full = false;
            awaitWritesResume(pool, v, 22, Blocks.random(r), durable);
            assertEquals(null, outcome(v.flush()), "later flushes succeed");
            verify(v, durable, "after space came back");
            assertEquals(List.of(), pool.verifyReferenceCounts());
        }
        assertReopensClean(durable);
    }
    @Test
    void slabWhoseSpaceCannotBeReservedIsNotUsed() throws Exception {
        Random r = new Random(4013);
        Map<Long, byte[]> durable = new LinkedHashMap<>();
        try (Pool pool = Pool.create(dir, config())) {
            Volume v = pool.createVolume("v", 64L << 20);
            for (long lbn : new long[]{0, 1021}) {
                byte[] d = Blocks.random(r);
                assertEquals(null, outcome(v.write(lbn * BS, ByteBuffer.wrap(d), false)));
                durable.put(lbn, d);
            }
        }
        // reopened: block-map pages 0 and 1 are on disk, one slab is in use and its space reserved
        try (Pool pool = Pool.open(dir, config())) {
            Volume v = pool.createVolume("w", 4096);   // only to show admin writes work before the fill
            assertNotNull(v);
            Volume vol = pool.volume("v");
            fs.full = true;
            int stored = 0, refused = 0;
            for (long lbn = 1; lbn < 1021; lbn++) {
                byte[] d = Blocks.random(r);
                Throwable t = outcome(vol.write(lbn * BS, ByteBuffer.wrap(d), false));
                if (t == null) { durable.put(lbn, d); stored++; }
                else { assertNoSpace(t, "write of lbn " + lbn + " needing a new slab"); refused++; }
                assertFalse(pool.isReadOnly(), "pool went read-only: " + pool.readOnlyReason());
            }
            assertTrue(stored >= 200, "the reserved slab's blocks take writes: " + stored);
            assertTrue(refused > 500, "a slab whose space cannot be reserved is not used: " + refused + " refused");
            assertEquals(null, outcome(vol.flush()), "the journal's space is reserved: flushes still work");
            assertEquals(0L, pool.stats().get("no_space_lost_writes"), "no acknowledged write may be lost");
            verify(vol, durable, "with the filesystem full");
            fs.full = false;
            awaitWritesResume(pool, vol, 2000, Blocks.random(r), durable);
            verify(vol, durable, "after space came back");
            assertEquals(List.of(), pool.verifyReferenceCounts());
        }
        assertReopensClean(durable);
    }
}
