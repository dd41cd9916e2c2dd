package org.jvdo.core;

import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A volume of a pool, served as one NBD export: its own logical address space and block map over
 * the pool's shared slab depot and index. Implements the byte-addressed {@link BlockDevice}:
 * checks ranges, counts the request while it runs (a delete waits for none), and hands it to the
 * pool's write pipeline or read path. Its state is a {@link LogicalVolume}.
 */
public final class Volume implements BlockDevice {
    private final Pool pool;
    private final LogicalVolume v;

    Volume(Pool pool, LogicalVolume v) {
        this.pool = pool;
        this.v = v;
    }

    public int id() { return v.id(); }

    @Override
    public String name() { return v.name(); }

    @Override
    public long size() { return v.logicalBlocks() * 4096L; }

    public long logicalBlocks() { return v.logicalBlocks(); }

    /** True once {@link Pool#deleteVolume} has begun: every new request fails. */
    public boolean isDeleted() { return v.isDeleted(); }

    LogicalVolume state() { return v; }

    BlockMap blockMap() { return v.blockMap(); }

    /** The engine this volume's new writes use now. */
    public String engineName() { return v.engine().name(); }

    /** The engine the volume is configured for (differs from {@link #engineName} while it falls back). */
    public String configuredEngine() { return v.configuredEngine(); }

    long usedBlocks() { return v.usedBlocks(); }

    long zeroBlocks() { return v.zeroBlocks(); }

    @Override
    public boolean readOnly() { return pool.isReadOnly(); }

    /** Counts the request as active first, then checks for deletion, so a delete that waits for none misses nothing. */
    private CompletableFuture<Void> tracked(Supplier<CompletableFuture<Void>> op) {
        if (!v.enterRequest()) return CompletableFuture.failedFuture(deletedError());
        CompletableFuture<Void> f;
        try {
            f = op.get();
        } catch (RuntimeException e) {
            v.exitRequest();
            throw e;
        }
        f.whenComplete((r, e) -> v.exitRequest());
        return f;
    }

    private VdoException deletedError() {
        return new VdoException(Errno.ESHUTDOWN, "volume " + v.name() + " has been deleted");
    }

    private VdoException rangeError(String op, long offset, long length) {
        return new VdoException(Errno.EINVAL, "volume " + v.name() + ": " + op + " of " + length + " bytes at " + offset
                + " is outside the volume (" + size() + " bytes)");
    }

    private boolean outOfRange(long offset, long length) {
        return offset < 0 || length < 0 || offset > size() || length > size() - offset;
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        int length = dst.remaining();
        if (v.isDeleted()) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("read", offset, length));
        v.counters.biosInRead.increment();
        v.counters.bytesRead.add(length);
        return tracked(() -> pool.reads().submit(v, offset, dst));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        int length = src.remaining();
        if (v.isDeleted()) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("write", offset, length));
        CompletableFuture<Void> fenced = pool.refusedByFence();
        if (fenced != null) return fenced;
        v.counters.biosInWrite.increment();
        v.counters.bytesWritten.add(length);
        return tracked(() -> pool.pipeline().write(v, offset, src, fua));
    }

    @Override
    public CompletableFuture<Void> flush() {
        v.counters.biosInFlush.increment();
        return pool.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        if (v.isDeleted()) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("trim", offset, length));
        CompletableFuture<Void> fenced = pool.refusedByFence();
        if (fenced != null) return fenced;
        v.counters.biosInDiscard.increment();
        return tracked(() -> pool.pipeline().trim(v, offset, length, fua));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean noHole, boolean fua) {
        if (v.isDeleted()) return CompletableFuture.failedFuture(deletedError());
        if (outOfRange(offset, length)) return CompletableFuture.failedFuture(rangeError("write zeroes", offset, length));
        CompletableFuture<Void> fenced = pool.refusedByFence();
        if (fenced != null) return fenced;
        v.counters.biosInZero.increment();
        return tracked(() -> noHole ? pool.pipeline().writeZeroes(v, offset, length, fua) : pool.pipeline().trim(v, offset, length, fua));
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        if (v.isDeleted()) throw deletedError();
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
                m = pool.pipeline().currentMapping(v, lbn);
            } catch (IOException e) {
                throw new VdoException(Errno.EIO, "volume " + v.name() + ": block status at " + pos + ": " + e.getMessage(), e);
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
        m.put("logical_blocks", v.logicalBlocks());
        m.put("logical_blocks_used", v.usedBlocks());
        m.put("same_pages", v.zeroBlocks());
        v.counters.addTo(m);
        return m;
    }

    @Override
    public String toString() { return "volume " + v.name(); }
}
