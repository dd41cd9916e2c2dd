package org.jvdo.core.logical;

import org.jvdo.core.compress.CompressionEngine;
import org.jvdo.core.compress.FallbackEngine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the engine knows of one volume (dm-vdo's logical zone view of it): its id and name, its
 * logical size, its block map, the compression engine its new writes use, its usage and event
 * counters, and the requests in flight that a delete waits for. The public face of a volume, the
 * {@code BlockDevice} that splits requests, is the root package's {@code Volume}, which wraps this.
 */
public final class LogicalVolume {
    private final int id;
    private final String name;
    private volatile long logicalBlocks;
    private volatile boolean deleted;
    private final BlockMap blockMap;
    private volatile CompressionEngine engine;
    public final Counters counters = new Counters();
    private final AtomicLong usedBlocks;
    private final AtomicLong zeroBlocks;
    /** Requests started and not yet finished; a delete waits for none. */
    private final AtomicInteger active = new AtomicInteger();

    public LogicalVolume(int id, String name, long logicalBlocks, long usedBlocks, long zeroBlocks, BlockMap blockMap,
                         CompressionEngine engine) {
        this.id = id;
        this.name = name;
        this.logicalBlocks = logicalBlocks;
        this.blockMap = blockMap;
        this.engine = engine;
        this.usedBlocks = new AtomicLong(usedBlocks);
        this.zeroBlocks = new AtomicLong(zeroBlocks);
    }

    public int id() { return id; }

    public String name() { return name; }

    public long logicalBlocks() { return logicalBlocks; }

    /** Once the block map covers {@code blocks} (grow only). */
    public void setLogicalBlocks(long blocks) { this.logicalBlocks = blocks; }

    public BlockMap blockMap() { return blockMap; }

    public CompressionEngine engine() { return engine; }

    public void setEngine(CompressionEngine e) { this.engine = e; }

    /** The engine the volume is configured for (differs from {@code engine().name()} while it falls back). */
    public String configuredEngine() {
        CompressionEngine e = engine;
        return e instanceof FallbackEngine f ? f.configured() : e.name();
    }

    /** True once a delete has begun: every new request fails. */
    public boolean isDeleted() { return deleted; }

    /**
     * An internal volume: the reference slots another pool's mappings use (name
     * {@code "~" + pool UUID + "." + volume id}, docs/cluster.md); never exported, never a source of pins.
     */
    public boolean isInternal() { return name().startsWith("~"); }

    public synchronized boolean markDeleted() {
        if (deleted) return false;
        deleted = true;
        return true;
    }

    /** A delete that could not finish: the volume serves again. */
    public synchronized void unmarkDeleted() { deleted = false; }

    /** Counts a request as active, then checks for deletion, so a delete that waits for none misses nothing; false if deleted. */
    public boolean enterRequest() {
        active.incrementAndGet();
        if (!deleted) return true;
        active.decrementAndGet();
        return false;
    }

    public void exitRequest() { active.decrementAndGet(); }

    public int activeRequests() { return active.get(); }

    public long usedBlocks() { return usedBlocks.get(); }

    public long zeroBlocks() { return zeroBlocks.get(); }

    public void resetUsage(long used, long zero) { usedBlocks.set(used); zeroBlocks.set(zero); }

    /** Keeps the used and zero block counts as the mapping of one LBN changes from {@code old} to {@code now}. */
    public void noteMappingChange(long old, long now) {
        boolean wasUsed = old != Mapping.UNMAPPED_ENTRY, isUsed = now != Mapping.UNMAPPED_ENTRY;
        if (wasUsed != isUsed) usedBlocks.addAndGet(isUsed ? 1 : -1);
        boolean wasZero = Mapping.state(old) == Mapping.ZERO, isZero = Mapping.state(now) == Mapping.ZERO;
        if (wasZero != isZero) zeroBlocks.addAndGet(isZero ? 1 : -1);
    }

    @Override
    public String toString() { return "volume " + name; }
}
