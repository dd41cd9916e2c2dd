package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Eight threads writing shared blocks (contents from a small set, so dedup and hash-lock sharing
 * happen), partial writes of disjoint byte ranges of the same blocks from different threads,
 * their own blocks, and reading all of them concurrently.
 */
class ConcurrencyStressTest {
    static final int THREADS = 8;
    static final int SHARED = 64;                 // blocks 0..63: everyone writes whole blocks
    static final int SEG_FIRST = 64, SEG_BLOCKS = 32; // blocks 64..95: thread t owns bytes [t*512, t*512+512)
    static final int SEG = BS / THREADS;
    static final int OWN_FIRST = 96, OWN_BLOCKS = 64; // thread t owns OWN_FIRST + t*64 .. +63
    static final int VOLUME_BLOCKS = OWN_FIRST + THREADS * OWN_BLOCKS;
    static final int OTHER_BLOCKS = 16;           // second volume: thread t owns t*16 .. +15

    @TempDir Path dir;

    static long id(byte[] b, int off, int len) {
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(b, off, len);
        long h = 1;
        for (int i = off; i < off + len; i++) h = h * 1_000_003L + b[i];
        return (c.getValue() << 32) ^ h;
    }

    static final class Shared {
        final Map<Integer, Set<Long>> sharedSeen = new ConcurrentHashMap<>();      // block -> ids of contents written
        final Map<Long, Set<Long>> segSeen = new ConcurrentHashMap<>();            // block*8+t -> ids of segment contents
        final List<byte[]> set;
        final long seed;

        Shared(long seed) {
            this.seed = seed;
            this.set = Blocks.dupSet(seed, 12);
            long zero = id(new byte[BS], 0, BS);
            for (int b = 0; b < SHARED; b++) sharedSeen.computeIfAbsent(b, k -> ConcurrentHashMap.newKeySet()).add(zero);
            long zseg = id(new byte[SEG], 0, SEG);
            for (int b = SEG_FIRST; b < SEG_FIRST + SEG_BLOCKS; b++)
                for (int t = 0; t < THREADS; t++) segSeen.computeIfAbsent((long) b * THREADS + t, k -> ConcurrentHashMap.newKeySet()).add(zseg);
        }
    }

    /** One writer thread and its exact model of what it owns. */
    static final class Worker {
        final int t;
        final Random r;
        final Shared sh;
        final Volume v, other;
        final byte[] own = new byte[OWN_BLOCKS * BS];
        final boolean[] ownMapped = new boolean[OWN_BLOCKS];
        final byte[] seg = new byte[SEG_BLOCKS * SEG];
        final byte[] otherOwn = new byte[OTHER_BLOCKS * BS];
        final Set<Integer> sharedWritten = new HashSet<>();
        final Set<Integer> segWritten = new HashSet<>();
        final boolean[] otherMapped = new boolean[OTHER_BLOCKS];

        Worker(int t, Shared sh, Volume v, Volume other) {
            this.t = t;
            this.sh = sh;
            this.r = new Random(sh.seed * 31 + t);
            this.v = v;
            this.other = other;
        }

        String ctx() { return "seed " + sh.seed + " thread " + t; }

        byte[] content() {
            int k = r.nextInt(10);
            if (k < 6) return sh.set.get(r.nextInt(sh.set.size())).clone();
            if (k < 8) return Blocks.text(r);
            if (k < 9) return new byte[BS];
            return Blocks.random(r);
        }

        void run(int ops) throws Exception {
            for (int i = 0; i < ops; i++) {
                int k = r.nextInt(100);
                if (k < 25) writeShared();
                else if (k < 40) writeSegment();
                else if (k < 60) writeOwn();
                else if (k < 65) batchOwn();
                else if (k < 70) trimOwn();
                else if (k < 75) writeOther();
                else if (k < 85) readOwn();
                else if (k < 92) readShared();
                else readSegment();
            }
        }

        void writeShared() throws Exception {
            int b = r.nextInt(SHARED);
            byte[] c = content();
            sh.sharedSeen.get(b).add(id(c, 0, BS));
            sharedWritten.add(b);
            Await.value(v.write((long) b * BS, ByteBuffer.wrap(c), r.nextInt(50) == 0), ctx());
        }

        void writeSegment() throws Exception {
            int bi = r.nextInt(SEG_BLOCKS);
            // a sub-range of this thread's segment, usually all of it
            int from = r.nextInt(3) == 0 ? r.nextInt(SEG) : 0;
            int len = from == 0 && r.nextBoolean() ? SEG : 1 + r.nextInt(SEG - from);
            byte[] c = new byte[len];
            r.nextBytes(c);
            byte[] next = Arrays.copyOfRange(seg, bi * SEG, (bi + 1) * SEG);
            System.arraycopy(c, 0, next, from, len);
            int b = SEG_FIRST + bi;
            sh.segSeen.get((long) b * THREADS + t).add(id(next, 0, SEG));
            segWritten.add(b);
            Await.value(v.write((long) b * BS + t * SEG + from, ByteBuffer.wrap(c), false), ctx());
            System.arraycopy(next, 0, seg, bi * SEG, SEG);
        }

        long ownBase() { return (long) (OWN_FIRST + t * OWN_BLOCKS) * BS; }

        void writeOwn() throws Exception {
            if (r.nextInt(3) == 0) {
                // unaligned, may cross blocks inside the own range
                int len = 1 + r.nextInt(2 * BS);
                int off = r.nextInt(OWN_BLOCKS * BS - len);
                byte[] c = new byte[len];
                if (r.nextBoolean()) r.nextBytes(c); else System.arraycopy(Blocks.text(r), 0, c, 0, Math.min(len, BS));
                Await.value(v.write(ownBase() + off, ByteBuffer.wrap(c), false), ctx());
                System.arraycopy(c, 0, own, off, len);
                for (int b = off / BS; b <= (off + len - 1) / BS; b++) ownMapped[b] = true;
            } else {
                int b = r.nextInt(OWN_BLOCKS);
                byte[] c = content();
                Await.value(v.write(ownBase() + (long) b * BS, ByteBuffer.wrap(c), false), ctx());
                System.arraycopy(c, 0, own, b * BS, BS);
                ownMapped[b] = true;
            }
        }

        void batchOwn() throws Exception {
            List<Integer> bs = new ArrayList<>();
            int n = 4 + r.nextInt(12);
            while (bs.size() < n) { int b = r.nextInt(OWN_BLOCKS); if (!bs.contains(b)) bs.add(b); }
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int b : bs) {
                byte[] c = content();
                fs.add(v.write(ownBase() + (long) b * BS, ByteBuffer.wrap(c), false));
                System.arraycopy(c, 0, own, b * BS, BS);
                ownMapped[b] = true;
            }
            Await.value(CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])), ctx());
        }

        void trimOwn() throws Exception {
            int b = r.nextInt(OWN_BLOCKS);
            int n = 1 + r.nextInt(Math.min(4, OWN_BLOCKS - b));
            Await.value(v.trim(ownBase() + (long) b * BS, (long) n * BS, false), ctx());
            Arrays.fill(own, b * BS, (b + n) * BS, (byte) 0);
            for (int i = b; i < b + n; i++) ownMapped[i] = false;
        }

        void writeOther() throws Exception {
            int b = r.nextInt(OTHER_BLOCKS);
            byte[] c = sh.set.get(r.nextInt(sh.set.size()));
            Await.value(other.write((long) (t * OTHER_BLOCKS + b) * BS, ByteBuffer.wrap(c), false), ctx());
            System.arraycopy(c, 0, otherOwn, b * BS, BS);
            otherMapped[b] = true;
        }

        void readOwn() throws Exception {
            int b = r.nextInt(OWN_BLOCKS);
            int n = 1 + r.nextInt(Math.min(4, OWN_BLOCKS - b));
            byte[] got = Volumes.read(v, ownBase() + (long) b * BS, n * BS);
            int i = Arrays.mismatch(got, 0, n * BS, own, b * BS, (b + n) * BS);
            if (i >= 0) fail(ctx() + ": own block " + (OWN_FIRST + t * OWN_BLOCKS + b + i / BS) + " byte " + (i % BS) + " reads "
                    + got[i] + ", last write holds " + own[b * BS + i]);
        }

        void readShared() throws Exception {
            int b = r.nextInt(SHARED);
            byte[] got = Volumes.read(v, (long) b * BS, BS);
            if (!sh.sharedSeen.get(b).contains(id(got, 0, BS))) {
                fail(ctx() + ": shared block " + b + " reads " + Blocks.describe(got, 0) + ", which no thread wrote to it");
            }
        }

        void readSegment() throws Exception {
            int b = SEG_FIRST + r.nextInt(SEG_BLOCKS);
            byte[] got = Volumes.read(v, (long) b * BS, BS);
            for (int s = 0; s < THREADS; s++) {
                if (s == t) {
                    if (!Arrays.equals(got, t * SEG, (t + 1) * SEG, seg, (b - SEG_FIRST) * SEG, (b - SEG_FIRST + 1) * SEG)) {
                        fail(ctx() + ": block " + b + " own segment " + t + " differs from this thread's last partial write");
                    }
                } else if (!sh.segSeen.get((long) b * THREADS + s).contains(id(got, s * SEG, SEG))) {
                    fail(ctx() + ": block " + b + " segment " + s + " holds bytes thread " + s + " never wrote there");
                }
            }
        }
    }

    @Test
    void eightThreads() throws Exception {
        long seed = Long.getLong("jvdo.seed", System.nanoTime() & 0xFFFFFF);
        int ops = Integer.getInteger("jvdo.stressOps", 3000);
        System.out.println("ConcurrencyStressTest seed " + seed + " (rerun with -Djvdo.seed=" + seed + ")");
        String ctx = "seed " + seed + " (rerun with -Djvdo.seed=" + seed + ")";
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.vioPoolSize = 64; // back-pressure: requests wait for vios
        Shared sh = new Shared(seed);
        Pool pool = Pool.create(dir, cfg);
        Worker[] ws = new Worker[THREADS];
        try {
            Volume v = pool.createVolume("stress", (long) VOLUME_BLOCKS * BS);
            Volume other = pool.createVolume("other", (long) THREADS * OTHER_BLOCKS * BS);
            for (int t = 0; t < THREADS; t++) ws[t] = new Worker(t, sh, v, other);
            CyclicBarrier start = new CyclicBarrier(THREADS);
            ExecutorService ex = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> fs = new ArrayList<>();
            for (Worker w : ws) fs.add(ex.submit(() -> { start.await(); w.run(ops); return null; }));
            try {
                for (Future<?> f : fs) {
                    try {
                        f.get(120, TimeUnit.SECONDS);
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (e.getCause() instanceof AssertionError a) throw a;
                        throw new AssertionError(ctx + ": worker failed: " + e.getCause(), e.getCause());
                    }
                }
            } finally {
                ex.shutdownNow();
            }
            pool.quiesce();
            check(pool, ws, sh, ctx, "after quiesce");
            Map<String, Long> s = pool.stats();
            System.out.println(ctx + ": " + s);
            assertTrue(s.get("concurrent_data_matches") + s.get("dedupe_advice_valid") > 0, ctx + ": no dedup happened: " + s);
            pool.close();
            pool = Pool.open(dir, cfg);
            check(pool, ws, sh, ctx, "after clean reopen");
            pool.crash();
            pool = Pool.open(dir, cfg);
            check(pool, ws, sh, ctx, "after crash reopen of a clean pool");
        } finally {
            pool.close();
        }
    }

    static void check(Pool pool, Worker[] ws, Shared sh, String ctx, String when) throws Exception {
        Volume v = pool.volume("stress"), other = pool.volume("other");
        String c = ctx + " " + when;
        byte[] all = Volumes.read(v, 0, VOLUME_BLOCKS * BS);
        for (int b = 0; b < SHARED; b++) {
            assertTrue(sh.sharedSeen.get(b).contains(id(all, b * BS, BS)), c + ": shared block " + b + " holds content nobody wrote to it");
        }
        for (Worker w : ws) {
            for (int bi = 0; bi < SEG_BLOCKS; bi++) {
                int b = SEG_FIRST + bi;
                int i = Arrays.mismatch(all, b * BS + w.t * SEG, b * BS + (w.t + 1) * SEG, w.seg, bi * SEG, (bi + 1) * SEG);
                assertEquals(-1, i, c + ": block " + b + " segment of thread " + w.t + " lost its last partial write (byte " + i + ")");
            }
            int base = (OWN_FIRST + w.t * OWN_BLOCKS) * BS;
            int i = Arrays.mismatch(all, base, base + OWN_BLOCKS * BS, w.own, 0, OWN_BLOCKS * BS);
            assertEquals(-1, i, c + ": thread " + w.t + " own block " + (OWN_FIRST + w.t * OWN_BLOCKS + i / BS) + " differs from its last write");
            byte[] o = Volumes.read(other, (long) w.t * OTHER_BLOCKS * BS, OTHER_BLOCKS * BS);
            assertEquals(-1, Arrays.mismatch(o, w.otherOwn), c + ": volume other, blocks of thread " + w.t + " differ");
        }
        List<String> problems = pool.verifyReferenceCounts();
        assertTrue(problems.isEmpty(), c + ": reference counts: " + problems);

        // logical usage: every block ever written and not trimmed
        Set<Integer> sharedUsed = new HashSet<>(), segUsed = new HashSet<>();
        long expectStress = 0, expectOther = 0;
        for (Worker w : ws) {
            sharedUsed.addAll(w.sharedWritten);
            segUsed.addAll(w.segWritten);
            for (boolean m : w.ownMapped) if (m) expectStress++;
            for (boolean m : w.otherMapped) if (m) expectOther++;
        }
        expectStress += sharedUsed.size() + segUsed.size();
        Map<String, Long> s = pool.stats();
        assertEquals(expectStress, v.stats().get("logical_blocks_used"), c + ": logical_blocks_used of volume stress");
        assertEquals(expectOther, other.stats().get("logical_blocks_used"), c + ": logical_blocks_used of volume other");
        assertEquals(expectStress + expectOther, s.get("logical_blocks_used"), c + ": pool logical_blocks_used");

        // physical usage: distinct blocks the block maps reference
        Set<Long> pbns = new HashSet<>();
        for (Volume vol : pool.volumes()) {
            vol.blockMap().forEachMapped((lbn, m) -> { if (Mapping.hasBlock(m)) pbns.add(Mapping.pbn(m)); });
        }
        assertEquals(pbns.size(), s.get("data_blocks_used"), c + ": data_blocks_used vs distinct referenced blocks");
    }
}
