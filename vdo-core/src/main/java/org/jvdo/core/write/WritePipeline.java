package org.jvdo.core.write;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.read.LogicalReads;
import org.jvdo.core.read.StoredBlocks;
import org.jvdo.packer.Packer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * The write path of one 4 KiB block, as a {@link DataVio} passes it (dm-vdo's vio-write.c).
 * Each arrow is a hand-off through this class ({@link Flow}), which records the vio's
 * {@link Stage} and checks that pipeline stages run on the pool's threads:
 *
 * <pre>
 * submit ........ Admission: split into vios; no free vio -> wait in line (back-pressure)
 *   ACCEPT ...... Admission: join the LBN queue (LogicalLocks); merge a partial write over the
 *                 newest queued data; reserve a block; acknowledge early if the data is complete
 *   LBN_QUEUE ... not first in line: wait for the write ahead to release (-> launch)
 *   READ_FOR_MERGE  first in line and partial: read the stored block (StoredBlocks), merge
 * launch
 *   ZERO_CHECK .. ZeroCheck: trim / write-zeroes / all-zero block ------------------> finish
 *   HASH ........ HashLocks: XXH3-128 fingerprint + checksum; waiter? HASH_LOCK_WAIT
 *                 (shares the agent's block after a byte compare ------------------> finish)
 *   DEDUPE ...... Dedupe: index advice -> raise count -> read + compare ----- equal -> stored
 *   COMPRESS .... CompressionHandoff: engine thread calls back
 *   PACK ........ fragment <= 4040 bytes: a packer bin; else, or failed ------------> raw
 *   PHYSICAL_WRITE  PhysicalWrite: allocate (write-locked until written), write raw or packed
 * stored
 *   INDEX_UPDATE  HashLocks: index learns the location; waiters share it
 * finish
 *   READERS_WAIT  MappingUpdate: reads of the old mapping in progress finish first
 *   MAPPING_UPDATE  MappingUpdate: journal entry, block map, old block's count; acknowledge
 *   RELEASE ..... Release: leave the LBN queue (next write of the LBN -> launch), end the flush
 *                 generation, vio back to the pool
 * fail (any stage) Release: undo reference / reservation / hash lock; tell client or pool
 * </pre>
 *
 * Threads: ACCEPT runs on the submitter's thread; from launch on, the CPU threads (the
 * submitter only hops), the engine's threads after compression, the flusher for packer kicks,
 * the I/O threads when a read was the last to leave an LBN a write waited for. A continuation
 * that would nest (a finished vio launching the next one) goes through {@link Trampoline}.
 */
public final class WritePipeline implements Flow {
    final LatencyHistogram latHash = new LatencyHistogram(), latIndex = new LatencyHistogram(),
            latVerify = new LatencyHistogram(), latCompress = new LatencyHistogram(), latPack = new LatencyHistogram(),
            latJournal = new LatencyHistogram(), latAck = new LatencyHistogram();
    private final FlushTracker flushTracker = new FlushTracker();
    private final PipelineThreads threads;
    private final VioPool vios, internalVios;
    private final LogicalLocks locks;
    private final Packer<DataVio> packer;
    private final Admission admission;
    private final ZeroCheck zeroCheck;
    private final HashLocks hashLocks;
    private final Dedupe dedupe;
    private final CompressionHandoff compression;
    private final PhysicalWrite physical;
    private final MappingUpdate mapping;
    private final Release release;
    private final ForeignPins foreign;

    /**
     * @param flush the pool's flush (for FUA writes)
     * @param clock the packer's clock
     */
    public WritePipeline(int vioPoolSize, BlockStore store, SlabDepot depot, DedupIndex index, JournalAppender journal,
                         Faults faults, ReentrantReadWriteLock mappingLock, StoredBlocks stored, PipelineThreads threads,
                         Supplier<CompletableFuture<Void>> flush, java.util.function.LongSupplier clock) {
        this.threads = threads;
        this.locks = new LogicalLocks(this::recordMapping);
        this.vios = new VioPool(vioPoolSize, () -> new DataVio(this));
        this.physical = new PhysicalWrite(this, depot, store, faults, journal, latPack);
        this.packer = new Packer<>(Packer.DEFAULT_BIN_COUNT, Packer.DEFAULT_MIN_FREE_BYTES, physical::writeBin, clock);
        this.admission = new Admission(this, locks, vios, flushTracker, depot, faults, stored, threads, flush, latAck);
        this.internalVios = new VioPool(Math.max(16, vioPoolSize / 4), () -> new DataVio(this));
        admission.internalVios(internalVios);
        this.zeroCheck = new ZeroCheck(depot);
        this.hashLocks = new HashLocks(this, depot, index, latHash);
        this.foreign = new ForeignPins(this, journal);
        this.dedupe = new Dedupe(this, index, depot, stored, journal, latIndex, latVerify, foreign);
        this.compression = new CompressionHandoff(this, packer, latCompress);
        this.mapping = new MappingUpdate(this, locks, mappingLock, journal, depot, faults, latJournal, latAck, foreign);
        this.release = new Release(this, locks, vios, flushTracker, depot, journal, faults);
    }

    /** A cluster member's pool: advice naming other pools is pinned there and used (docs/cluster.md). */
    public void enableForeign(org.jvdo.core.api.ForeignBlocks spi, org.jvdo.core.read.ForeignPools table,
                              Supplier<java.util.UUID> uuid, java.util.function.LongSupplier epoch,
                              Supplier<java.util.Collection<LogicalVolume>> volumes) {
        foreign.enable(spi, table, uuid, epoch, volumes);
    }

    /** Stops the pins thread (the pool closes). */
    public void stopForeign(boolean drain) { foreign.stop(drain); }

    /** Pins done / refused, unpins sent / waiting (statistics). */
    public long[] foreignFigures() {
        return new long[] {foreign.pinned.sum(), foreign.refused.sum(), foreign.unpinned.sum(), foreign.waitingUnpins(), foreign.reconciled.sum()};
    }

    // ---------------------------------------------------------------- entry points

    public CompletableFuture<Void> write(LogicalVolume vol, long offset, ByteBuffer src, boolean fua) {
        return admission.submitWrite(vol, offset, src, fua, DataVio.WRITE);
    }

    public CompletableFuture<Void> trim(LogicalVolume vol, long offset, long length, boolean fua) {
        return admission.submitRange(vol, offset, length, fua, DataVio.TRIM);
    }

    public CompletableFuture<Void> writeZeroes(LogicalVolume vol, long offset, long length, boolean fua) {
        return admission.submitRange(vol, offset, length, fua, DataVio.WRITE_ZERO);
    }

    /** The mapping a read would see now (a write in flight counts as data). */
    public long currentMapping(LogicalVolume vol, long lbn) throws IOException {
        long pending = locks.pendingMapping(vol, lbn);
        return pending != -1 ? pending : vol.blockMap().get(lbn);
    }

    /** How reads meet the writes in flight. */
    public LogicalReads logicalReads() { return locks; }

    public FlushTracker flushTracker() { return flushTracker; }

    /** True while a write or read of volume {@code id} is in flight. */
    public boolean hasRequestsOf(int volumeId) { return locks.hasLocksOf(volumeId); }

    /** True while any vio is in use or any accepted write has not recorded its mapping. */
    public boolean busy() { return vios.inUse() > 0 || internalVios.inUse() > 0 || flushTracker.outstandingWrites() > 0; }

    /** Writes every packer bin, on the flusher thread (the close and a volume delete ask while they wait for writes to end). */
    public void flushPacker() { threads.runOnFlusher(packer::flush); }

    /** Writes every bin whose oldest fragment was added before {@code nanoTime}. */
    public void flushPackerOlderThan(long nanoTime) { packer.flushOlderThan(nanoTime); }

    public int fragmentsInPacker() { return packer.fragmentsWaiting(); }

    public long compressedBlocksWritten() { return physical.compressedBlocksWritten.sum(); }

    public int vioPoolSize() { return vios.size(); }

    public int vioPoolInUse() { return vios.inUse(); }

    public int vioPoolWaiting() { return vios.waiting(); }

    /**
     * The vios in flight, one line each: volume, LBN, kind, stage, time since accepted; then the
     * queue and lock counts. For a dump when something is stuck.
     */
    public List<String> inFlight() {
        long now = System.nanoTime();
        List<String> out = new ArrayList<>();
        for (DataVio v : java.util.stream.Stream.concat(vios.all().stream(), internalVios.all().stream()).toList()) {
            if (v.stage != Stage.FREE) out.add(v.describe(now));
        }
        out.add("vios in use " + vios.inUse() + " of " + vios.size() + ", requests waiting for a vio " + vios.waiting()
                + ", LBN locks " + locks.size() + ", hash locks " + hashLocks.size() + ", fragments in packer "
                + packer.fragmentsWaiting() + ", writes not yet mapped " + flushTracker.outstandingWrites()
                + ", flush waiting " + flushTracker.flushWaiting());
        return out;
    }

    /**
     * Latency of each write-path stage: hash (fingerprint), index (lookup), verify (read and
     * compare of dedupe advice), compress (engine submit to completion), pack (waiting in the
     * packer until the block is written), journal (append), ack (accept to acknowledgement).
     */
    public Map<String, LatencyHistogram> stageLatencies() {
        Map<String, LatencyHistogram> m = new LinkedHashMap<>();
        m.put("hash", latHash);
        m.put("index", latIndex);
        m.put("verify", latVerify);
        m.put("compress", latCompress);
        m.put("pack", latPack);
        m.put("journal", latJournal);
        m.put("ack", latAck);
        return m;
    }

    // ---------------------------------------------------------------- hand-offs (Flow)

    private void enter(DataVio v, Stage s) {
        v.stage = s;
        assert !s.onPipelineThread || threads.onPipelineThread()
                : v + ": stage " + s + " runs on " + Thread.currentThread().getName() + ", not on a pool thread";
    }

    @Override
    public void launch(DataVio v) {
        try {
            enter(v, Stage.ZERO_CHECK);
            if (zeroCheck.settle(v)) { finish(v); return; }
            enter(v, Stage.HASH);
            hashLocks.hashAndLock(v);
        } catch (Throwable t) {
            fail(v, t);
        }
    }

    @Override
    public void dedupe(DataVio v) {
        enter(v, Stage.DEDUPE);
        dedupe.queryIndex(v);
    }

    @Override
    public void adviceArrived(DataVio v, long advice) {
        threads.runOnCpu(() -> {
            try {
                enter(v, Stage.DEDUPE);
                dedupe.useAdvice(v, advice);
            } catch (Throwable t) {
                fail(v, t);
            }
        });
    }

    @Override
    public void compress(DataVio v) {
        v.stage = Stage.COMPRESS;
        compression.submit(v);
    }

    @Override
    public void compressed(DataVio v, int size, int encoding, Throwable error) {
        try {
            compression.done(v, size, encoding, error);
        } catch (Throwable t) {
            fail(v, t);
        }
    }

    @Override
    public void writeRaw(DataVio v) {
        enter(v, Stage.PHYSICAL_WRITE);
        physical.writeRaw(v);
    }

    @Override
    public void stored(DataVio v) {
        enter(v, Stage.INDEX_UPDATE);
        hashLocks.stored(v);
        finish(v);
    }

    @Override
    public void finish(DataVio v) {
        mapping.finish(v);
    }

    @Override
    public void recordMapping(DataVio v) {
        enter(v, Stage.MAPPING_UPDATE);
        mapping.record(v);
    }

    @Override
    public void release(DataVio v, Throwable failure) {
        v.stage = Stage.RELEASE;
        release.release(v, failure);
    }

    @Override
    public void fail(DataVio v, Throwable t) {
        release.fail(v, t);
    }

    @Override
    public void abandonHashLock(DataVio v) { hashLocks.release(v, false); }

    @Override
    public void kickPacker(DataVio waiting) {
        threads.runOnFlusher(() -> packer.flushBinOf(waiting));
    }

    /**
     * A waiting FLUSH needs the packer's bins written, but not one fragment at a time: once every
     * write still in flight is a fragment waiting in a bin, nothing more is coming to pack with
     * them, so the bins go now. (Writes held behind a waiting fragment kick its bin; the packer
     * timeout is the backstop.)
     */
    @Override
    public void packForFlush() {
        if (flushTracker.flushWaiting() && flushTracker.outstandingWrites() <= packer.fragmentsWaiting()) packer.flush();
    }

    @Override
    public void packForFlushSoon() { threads.runOnFlusher(this::packForFlush); }
}
