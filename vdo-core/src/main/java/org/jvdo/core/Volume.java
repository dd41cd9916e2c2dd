package org.jvdo.core;

import org.jvdo.core.compress.CompressionEngine;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A volume of a pool: its own logical address space and block map over the pool's shared slab
 * depot and index, served as one NBD export. Implements the byte-addressed {@link BlockDevice}
 * by splitting requests into 4 KiB {@link DataVio}s.
 */
public final class Volume implements BlockDevice {
    private final Pool pool;
    private final int id;
    private final String name;
    private volatile long logicalBlocks;
    private volatile boolean deleted;
    private final BlockMap blockMap;
    private volatile CompressionEngine engine;
    final Counters counters = new Counters();
    private final AtomicLong usedBlocks;
    private final AtomicLong zeroBlocks;

    Volume(Pool pool, SuperBlock.VolumeRecord rec, BlockMap blockMap, CompressionEngine engine) {
        this.pool = pool;
        this.id = rec.id;
        this.name = rec.name;
        this.logicalBlocks = rec.logicalBlocks;
        this.blockMap = blockMap;
        this.engine = engine;
        this.usedBlocks = new AtomicLong(rec.usedBlocks);
        this.zeroBlocks = new AtomicLong(rec.zeroBlocks);
    }

    public int id() { return id; }

    @Override
    public String name() { return name; }

    @Override
    public long size() { return logicalBlocks * 4096L; }

    public long logicalBlocks() { return logicalBlocks; }

    /** Called by the pool once the block map covers {@code blocks} (grow only). */
    void setLogicalBlocks(long blocks) { this.logicalBlocks = blocks; }

    /** True once {@link Pool#deleteVolume} has begun: every new request fails. */
    public boolean isDeleted() { return deleted; }

    void markDeleted() { deleted = true; }

    /** A delete that could not finish: the volume serves again. */
    void unmarkDeleted() { deleted = false; }

    /** Requests started and not yet finished; {@link Pool#deleteVolume} waits for none. */
    private final java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();

    int activeRequests() { return active.get(); }

    /** Counts the request as active first, then checks for deletion, so a delete that waits for none misses nothing. */
    private CompletableFuture<Void> tracked(java.util.function.Supplier<CompletableFuture<Void>> op) {
        active.incrementAndGet();
        if (deleted) {
            active.decrementAndGet();
            return CompletableFuture.failedFuture(deletedError());
        }
        CompletableFuture<Void> f;
        try {
            f = op.get();
        } catch (RuntimeException e) {
            active.decrementAndGet();
            throw e;
        }
        f.whenComplete((r, e) -> active.decrementAndGet());
        return f;
    }

    private VdoException deletedError() {
        return new VdoException(Errno.ESHUTDOWN, "volume " + name + " has been deleted");
    }

    @Override
    public boolean readOnly() { return pool.isReadOnly(); }

    BlockMap blockMap() { return blockMap; }

    CompressionEngine engine() { return engine; }

    /** The engine this volume's new writes use now. */
    public String engineName() { return engine.name(); }

    /** The engine the volume is configured for (differs from {@link #engineName} while it falls back). */
    public String configuredEngine() {
        CompressionEngine e = engine;
        return e instanceof org.jvdo.core.compress.FallbackEngine f ? f.configured() : e.name();
    }

    void setEngine(CompressionEngine e) { this.engine = e; }

    long usedBlocks() { return usedBlocks.get(); }

    long zeroBlocks() { return zeroBlocks.get(); }

    void resetUsage(long used, long zero) { usedBlocks.set(used); zeroBlocks.set(zero); }

    void noteMappingChange(long old, long now) {
        boolean wasUsed = old != Mapping.UNMAPPED_ENTRY, isUsed = now != Mapping.UNMAPPED_ENTRY;
        if (wasUsed != isUsed) usedBlocks.addAndGet(isUsed ? 1 : -1);
        boolean wasZero = Mapping.state(old) == Mapping.ZERO, isZero = Mapping.state(now) == Mapping.ZERO;
        if (wasZero != isZero) zeroBlocks.addAndGet(isZero ? 1 : -1);
    }

    private VdoException rangeError(String op, long offset, long length) {
        return new VdoException(Errno.EINVAL, "volume " + name + ": " + op + " of " + length + " bytes at " + offset
                + " is outside the volume (" + size() + " bytes)");
    }

    private boolean outOfRange(long offset, long length) {
        return offset < 0 || length < 0 || offset > size() || length > size() - offset;
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        int length = dst.remaining();
        if (deleted) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("read", offset, length));
        counters.biosInRead.increment();
        counters.bytesRead.add(length);
        return tracked(() -> pool.submitRead(this, offset, dst));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        int length = src.remaining();
        if (deleted) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("write", offset, length));
        counters.biosInWrite.increment();
        counters.bytesWritten.add(length);
        return tracked(() -> pool.submitWrite(this, offset, src, fua, DataVio.WRITE));
    }

    @Override
    public CompletableFuture<Void> flush() {
        counters.biosInFlush.increment();
        return pool.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        if (deleted) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("trim", offset, length));
        counters.biosInDiscard.increment();
        return tracked(() -> pool.submitRange(this, offset, length, fua, DataVio.TRIM));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean noHole, boolean fua) {
        if (deleted) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("write zeroes", offset, length));
        counters.biosInZero.increment();
        return tracked(() -> pool.submitRange(this, offset, length, fua, noHole ? DataVio.WRITE_ZERO : DataVio.TRIM));
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        if (deleted) throw deletedError();
        if (outOfRange(offset, length)) throw rangeError("block status", offset, length);
        List<Extent> out = new ArrayList<>();
        long pos = offset, end = offset + length;
        boolean curHole = false, curZero = false;
        long curLen = 0;
        while (pos < end && out.size() < 1024) {
            long lbn = pos / 4096;
            long blockEnd = Math.min(end, (lbn + 1) * 4096);
            long m;
            try {
                m = pool.currentMapping(this, lbn);
            } catch (java.io.IOException e) {
                throw new VdoException(Errno.EIO, "volume " + name + ": block status at " + pos + ": " + e.getMessage(), e);
            }
            boolean hole = m == Mapping.UNMAPPED_ENTRY;
            boolean zero = hole || Mapping.state(m) == Mapping.ZERO;
            if (curLen > 0 && (hole != curHole || zero != curZero)) {
                out.add(new Extent(curLen, curHole, curZero));
                curLen = 0;
            }
            curHole = hole;
            curZero = zero;
            curLen += blockEnd - pos;
            pos = blockEnd;
        }
        if (curLen > 0) out.add(new Extent(curLen, curHole, curZero));
        return out;
    }

    /** This volume's statistics, {@code vdostats --verbose} names in snake_case. */
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("logical_blocks", logicalBlocks);
        m.put("logical_blocks_used", usedBlocks.get());
        m.put("same_pages", zeroBlocks.get());
        counters.addTo(m);
        return m;
    }

    @Override
    public String toString() { return "volume " + name; }
}
