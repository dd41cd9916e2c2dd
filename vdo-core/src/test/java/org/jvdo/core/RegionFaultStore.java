package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.physical.SuperBlock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;

/**
 * Test double of the file layer only: fails the reads, writes or syncs of one region of the
 * pool file (super block, journal, block-map pages, reference-count blocks, data blocks),
 * classifying block numbers from the super block's geometry. A sync fails when a write to the
 * chosen region is among the writes it would make durable. The engine above it is the real one.
 */
final class RegionFaultStore implements BlockStore {
    enum Op { READ, WRITE, SYNC }

    enum Region { DATA, JOURNAL, BLOCK_MAP, SUPER_BLOCK, REFCOUNT, OTHER }

    /** Block ranges of each region, from a super block. */
    static final class Geometry {
        long journalStart, journalEnd;
        final List<long[]> maps = new ArrayList<>();
        long slabAreaStart, slabAreaEnd;
        int refBlocks, dataBlocks;

        static Geometry of(SuperBlock sb) {
            Geometry g = new Geometry();
            g.journalStart = sb.journalStart;
            g.journalEnd = sb.journalStart + sb.journalBlocks;
            for (SuperBlock.VolumeRecord v : new ArrayList<>(sb.volumes)) g.maps.add(new long[]{v.mapStart, v.mapStart + BlockMap.regionBlocks(v.mapPages)});
            g.slabAreaStart = sb.slabAreaStart;
            g.slabAreaEnd = sb.mapAreaStart;
            g.refBlocks = sb.slabRefBlocks;
            g.dataBlocks = sb.slabDataBlocks;
            return g;
        }

        Region classify(long b) {
            if (b < SuperBlock.JOURNAL_START) return Region.SUPER_BLOCK;
            if (b >= journalStart && b < journalEnd) return Region.JOURNAL;
            for (long[] m : maps) if (b >= m[0] && b < m[1]) return Region.BLOCK_MAP;
            if (b >= slabAreaStart && b < slabAreaEnd) {
                long inSlab = (b - slabAreaStart) % (refBlocks + (long) dataBlocks);
                return inSlab < refBlocks ? Region.REFCOUNT : Region.DATA;
            }
            return Region.OTHER;
        }
    }

    private final BlockStore inner;
    volatile Geometry geometry;
    volatile Op failOp;
    volatile Region failRegion;
    /** Extra filter on the block numbers that fail (null: the whole region). */
    volatile LongPredicate failBlocks;
    /** When set, a failing read first signals {@link #readEntered} and waits for {@link #releaseRead} (bounded), then fails. */
    volatile CountDownLatch readEntered, releaseRead;
    final AtomicLong faults = new AtomicLong();
    private final EnumSet<Region> dirty = EnumSet.noneOf(Region.class);
    final List<String> faultLog = java.util.Collections.synchronizedList(new ArrayList<>());

    RegionFaultStore(BlockStore inner) {
        this.inner = inner;
        try {
            if (inner.sizeInBlocks() >= SuperBlock.JOURNAL_START) geometry = Geometry.of(SuperBlock.read(inner));
        } catch (IOException | RuntimeException e) {
            geometry = null;
        }
    }

    void arm(Op op, Region region) { failBlocks = null; failRegion = region; failOp = op; }

    void disarm() { failOp = null; }

    void refresh(Pool p) throws Exception {
        var f = Pool.class.getDeclaredField("sb");
        f.setAccessible(true);
        SuperBlock sb = (SuperBlock) f.get(p);
        synchronized (sb) { geometry = Geometry.of(sb); }
    }

    Region classify(long b) {
        Geometry g = geometry;
        return g == null ? (b < SuperBlock.JOURNAL_START ? Region.SUPER_BLOCK : Region.OTHER) : g.classify(b);
    }

    private boolean hits(Op op, long b) {
        if (failOp != op || classify(b) != failRegion) return false;
        LongPredicate p = failBlocks;
        return p == null || p.test(b);
    }

    private void where(String what) {
        StackTraceElement[] st = new Throwable().getStackTrace();
        StringBuilder sb = new StringBuilder(what).append(" from ");
        for (int i = 2; i < Math.min(st.length, 7); i++) sb.append(st[i].getClassName().replace("org.jvdo.", "")).append('.').append(st[i].getMethodName()).append(' ');
        faultLog.add(sb.toString());
    }

    @Override
    public void read(long blockNumber, ByteBuffer dst) throws IOException {
        int n = Math.max(1, dst.remaining() / BLOCK_SIZE);
        for (long b = blockNumber; b < blockNumber + n; b++) {
            if (hits(Op.READ, b)) {
                faults.incrementAndGet();
                where("read of block " + b);
                CountDownLatch entered = readEntered, release = releaseRead;
                if (entered != null && release != null) {
                    entered.countDown();
                    try { release.await(20, TimeUnit.SECONDS); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
                }
                throw new IOException("injected read error at block " + b + " (" + failRegion + ")");
            }
        }
        inner.read(blockNumber, dst);
    }

    @Override
    public void write(long blockNumber, ByteBuffer src) throws IOException {
        int n = src.remaining() / BLOCK_SIZE;
        for (long b = blockNumber; b < blockNumber + n; b++) {
            if (hits(Op.WRITE, b)) {
                faults.incrementAndGet();
                where("write of block " + b);
                throw new IOException("injected write error at block " + b + " (" + failRegion + ")");
            }
        }
        synchronized (dirty) {
            for (long b = blockNumber; b < blockNumber + n; b++) dirty.add(classify(b));
        }
        inner.write(blockNumber, src);
    }

    @Override
    public void sync() throws IOException {
        synchronized (dirty) {
            if (failOp == Op.SYNC && dirty.contains(failRegion)) {
                faults.incrementAndGet();
                where("sync");
                throw new IOException("injected sync error (unsynced writes to " + failRegion + ")");
            }
            dirty.clear();
        }
        inner.sync();
    }

    @Override
    public long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }

    @Override
    public String describe() { return inner.describe(); }

    @Override
    public void close() throws IOException { inner.close(); }
}
