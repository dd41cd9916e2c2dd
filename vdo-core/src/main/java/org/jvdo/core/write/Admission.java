package org.jvdo.core.write;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.read.StoredBlocks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Stage "admission": a request is split into one {@link DataVio} per 4 KiB block, each taken from
 * the {@link VioPool} (an empty pool is the back-pressure: the request waits in line); each vio
 * joins its LBN's queue ({@link LogicalLocks}), a partial write is merged over the newest queued
 * data (or over what is stored, read first if it is first in line), a block is reserved and the
 * write acknowledged early when it may be. Only the first vio of an LBN queue is launched. Runs
 * on the submitter's thread (or the thread that returned a vio to a waiting request).
 */
final class Admission {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");
    private static final ByteBuffer ZEROS = ByteBuffer.allocate(4096).asReadOnlyBuffer();

    private final Flow flow;
    private final LogicalLocks locks;
    private final VioPool vios;
    /** The vios of internal volumes' writes (pins from other pools): never taken by this pool's own writes. */
    private VioPool internalVios;
    private final FlushTracker flushTracker;
    private final SlabDepot depot;
    private final Faults faults;
    private final StoredBlocks stored;
    private final PipelineThreads threads;
    private final Supplier<CompletableFuture<Void>> flush;
    private final LatencyHistogram latAck;
    /** Blocks of submitted writes, trims and write-zeroes not yet in their LBN's queue (waiting for a vio). */
    private final AtomicLong vioWaits = new AtomicLong();

    /** The separate vio pool of internal volumes. */
    void internalVios(VioPool p) { this.internalVios = p; }

    Admission(Flow flow, LogicalLocks locks, VioPool vios, FlushTracker flushTracker, SlabDepot depot, Faults faults,
              StoredBlocks stored, PipelineThreads threads, Supplier<CompletableFuture<Void>> flush, LatencyHistogram latAck) {
        this.flow = flow;
        this.locks = locks;
        this.vios = vios;
        this.internalVios = vios;
        this.flushTracker = flushTracker;
        this.depot = depot;
        this.faults = faults;
        this.stored = stored;
        this.threads = threads;
        this.flush = flush;
        this.latAck = latAck;
    }

    CompletableFuture<Void> submitWrite(LogicalVolume vol, long offset, ByteBuffer src, boolean fua, int kind) {
        try {
            faults.checkWritable();
        } catch (VdoException e) {
            return CompletableFuture.failedFuture(e);
        }
        int len = src.remaining();
        if (len == 0) return fua ? flush.get() : CompletableFuture.completedFuture(null);
        long first = offset / 4096, last = (offset + len - 1) / 4096;
        int n = (int) (last - first + 1);
        IoRequest req = newRequest(n, fua);
        int base = src.position();
        vioWaits.addAndGet(n);
        for (int i = 0; i < n; i++) {
            long lbn = first + i;
            long blockStart = lbn * 4096;
            int from = (int) (Math.max(offset, blockStart) - blockStart);
            int to = (int) (Math.min(offset + len, blockStart + 4096) - blockStart);
            ByteBuffer slice = src.slice(base + (int) (blockStart + from - offset), to - from);
            (vol.isInternal() ? internalVios : vios).acquire(v -> {
                try {
                    v.volume = vol;
                    v.lbn = lbn;
                    v.kind = kind;
                    v.request = req;
                    if (from == 0 && to == 4096) {
                        slice.get(0, v.data);
                    } else {
                        v.partialSrc = slice;
                        v.partialOffset = from;
                    }
                } catch (Throwable t) {
                    // not accepted: the vio goes back, the request hears of it
                    v.home.release(v);
                    req.fail(t);
                    vioWaits.decrementAndGet();
                    return;
                }
                try {
                    accept(v);
                } finally {
                    vioWaits.decrementAndGet();
                }
            });
        }
        src.position(src.limit());
        return req.future;
    }

    private IoRequest newRequest(int n, boolean fua) {
        IoRequest[] holder = new IoRequest[1];
        Runnable fuaDone = fua ? () -> flush.get().whenComplete((r, e) -> {
            if (e != null) holder[0].future.completeExceptionally(e);
            else holder[0].future.complete(null);
        }) : null;
        holder[0] = new IoRequest(n, fuaDone);
        return holder[0];
    }

    /** TRIM and WRITE_ZEROES: mapping-only for whole blocks, zeros written into partial edge blocks. */
    CompletableFuture<Void> submitRange(LogicalVolume vol, long offset, long length, boolean fua, int kind) {
        try {
            faults.checkWritableIgnoringSpace();
        } catch (VdoException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (length == 0) return fua ? flush.get() : CompletableFuture.completedFuture(null);
        long end = offset + length;
        long firstFull = (offset + 4095) / 4096, endFull = end / 4096;
        List<CompletableFuture<Void>> parts = new ArrayList<>(3);
        if (firstFull >= endFull) {
            // no whole block inside: one or two partial blocks
            long b = offset / 4096;
            long cut = Math.min(end, (b + 1) * 4096);
            parts.add(submitWrite(vol, offset, ZEROS.duplicate().limit((int) (cut - offset)), false, DataVio.WRITE));
            if (cut < end) parts.add(submitWrite(vol, cut, ZEROS.duplicate().limit((int) (end - cut)), false, DataVio.WRITE));
        } else {
            if (offset < firstFull * 4096) {
                parts.add(submitWrite(vol, offset, ZEROS.duplicate().limit((int) (firstFull * 4096 - offset)), false, DataVio.WRITE));
            }
            if (end > endFull * 4096) {
                parts.add(submitWrite(vol, endFull * 4096, ZEROS.duplicate().limit((int) (end - endFull * 4096)), false, DataVio.WRITE));
            }
            parts.add(submitMappingOnly(vol, firstFull, endFull, kind));
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(parts.toArray(new CompletableFuture[0]));
        return fua ? all.thenCompose(x -> flush.get()) : all;
    }

    private CompletableFuture<Void> submitMappingOnly(LogicalVolume vol, long firstLbn, long endLbn, int kind) {
        long wanted = kind == DataVio.TRIM ? Mapping.UNMAPPED_ENTRY : Mapping.ZERO_ENTRY;
        // skip blocks that already hold the wanted mapping and have no write in flight: a large
        // discard of an unused range costs a map lookup per block, not a request per block
        // (only while no request waits for a vio: a write submitted before this one but not yet
        // in its LBN's queue would otherwise land after the skipped trim)
        boolean maySkip = vioWaits.get() == 0;
        List<Long> todo = new ArrayList<>();
        try {
            for (long lbn = firstLbn; lbn < endLbn; lbn++) {
                if (maySkip && !locks.isLocked(vol, lbn) && vol.blockMap().get(lbn) == wanted) continue;
                todo.add(lbn);
            }
        } catch (IOException e) {
            return CompletableFuture.failedFuture(new VdoException(Errno.EIO, "volume " + vol.name() + ": block map read failed: " + e.getMessage(), e));
        }
        IoRequest req = newRequest(todo.size(), false);
        vioWaits.addAndGet(todo.size());
        for (long lbn : todo) {
            (vol.isInternal() ? internalVios : vios).acquire(v -> {
                v.volume = vol;
                v.lbn = lbn;
                v.kind = kind;
                v.request = req;
                try {
                    accept(v);
                } finally {
                    vioWaits.decrementAndGet();
                }
            });
        }
        return req.future;
    }

    /**
     * Takes a filled vio: joins its LBN's queue, is acknowledged when its data is complete,
     * launches if first in line. The accepting thread holds the vio until this returns (see
     * {@link DataVio#holdForAccept}); a failure before the vio joins its queue fails its request.
     */
    private void accept(DataVio v) {
        v.holdForAccept();
        v.stage = Stage.ACCEPT;
        boolean queued = false;
        boolean begun = false;
        try {
            if (v.volume.id() > LogicalLocks.MAX_VOLUME_ID || v.lbn < 0 || v.lbn > LogicalLocks.MAX_LBN) {
                throw new VdoException(Errno.EINVAL, v + ": volume id or block number beyond the lock-key range");
            }
            v.key = LogicalLocks.key(v.volume, v.lbn);
            v.acceptedAt = System.nanoTime();
            v.generation = flushTracker.begin();
            begun = true;
            boolean partial = v.partialSrc != null;
            // not while the host filesystem is (or was found) full: then a write is acknowledged only
            // once stored, so its ENOSPC reaches its client instead of the next flush
            boolean early = faults.earlyAckAllowed();
            // an internal volume's writes (another pool's pins) complete once their mapping is recorded,
            // so the pin can commit the journal without a flush that waits for every other write
            if (v.volume.isInternal()) early = false;
            if (v.kind == DataVio.WRITE) {
                boolean zero = !partial && v.isZeroBlock();
                if (!zero && early) v.reserved = depot.tryReserve();
                // without reserved space a write is acknowledged only once stored, so ENOSPC can reach the client
                v.ackEarly = (zero && early) || v.reserved;
            } else {
                // trim / write-zeroes: the block's new content is zeros; the reused buffer still holds
                // its previous write, which reads and partial writes queued behind would see
                Arrays.fill(v.data, (byte) 0);
                v.ackEarly = early;
            }
            if (!partial) v.ready = true;
            final boolean[] launch = {false};
            final boolean[] headPartial = {false};
            final List<DataVio> nowReady = new ArrayList<>(1);
            final DataVio[] kick = {null};
            locks.locks.compute(v.key, (k, l) -> {
                if (l == null) l = new LogicalLocks.LbnLock();
                DataVio pred = l.writes.peekLast();
                l.writes.addLast(v);
                if (pred == null) {
                    if (partial) headPartial[0] = true;
                    else launch[0] = true;
                } else {
                    v.stage = Stage.LBN_QUEUE;
                    DataVio head = l.writes.peekFirst();
                    if (head.inPacker) kick[0] = head;
                    if (partial) {
                        if (pred.ready) markReadyLocked(v, pred.data, nowReady);
                        else pred.addMergeWaiter(v);
                    }
                }
                if (v.ready) l.wakeReaders();
                return l;
            });
            queued = true;
            try {
                if (kick[0] != null) flow.kickPacker(kick[0]);
                if (!partial) acknowledgeEarly(v);
                for (DataVio r : nowReady) acknowledgeEarly(r);
            } catch (Throwable t) {
                // a client callback failing must not keep the vio from running (it is queued now)
                LOG.log(Level.WARNING, "acknowledgement of " + v + " failed", t);
            } finally {
                // the pipeline runs on the CPU threads, not on the submitter's (an NBD event loop)
                if (headPartial[0]) threads.runOnCpu(() -> readForMerge(v));
                else if (launch[0]) threads.runOnCpu(() -> flow.launch(v));
            }
        } catch (Throwable t) {
            if (queued) throw t;    // the pipeline owns it now and will complete it
            // never entered its queue: nothing else knows it, undo and tell the client
            v.releaseReservation(depot);
            if (v.claimAck()) v.request.fail(t);
            ArrayDeque<Runnable> flushes = begun ? flushTracker.end(v.generation) : new ArrayDeque<>();
            v.dropHold();   // the pipeline's hold: it never started (the finally drops the accept's and frees the vio)
            for (Runnable r : flushes) r.run();
        } finally {
            if (v.dropHold()) v.home.release(v);     // the accepting thread's hold
        }
    }

    /** Builds {@code v.data} from {@code base} plus its partial bytes; marks ready; merges its own waiters. Under the key's lock. */
    static void markReadyLocked(DataVio v, byte[] base, List<DataVio> nowReady) {
        if (base != v.data) System.arraycopy(base, 0, v.data, 0, 4096);
        if (v.partialSrc != null) {
            ByteBuffer src = v.partialSrc.duplicate();
            src.get(v.data, v.partialOffset, src.remaining());
            v.partialSrc = null;
        }
        v.ready = true;
        nowReady.add(v);
        if (v.mergeWaiters != null) {
            for (DataVio succ : v.mergeWaiters) markReadyLocked(succ, v.data, nowReady);
            v.mergeWaiters = null;
        }
    }

    /** The first write of an LBN is partial: read what is stored, lay the new bytes over it. */
    private void readForMerge(DataVio v) {
        v.stage = Stage.READ_FOR_MERGE;
        try {
            BlockMap map = v.volume.blockMap();
            stored.readStored(v.volume, v.lbn, map.get(v.lbn), map.checksum(v.lbn), v.data, "read-modify-write");
        } catch (Throwable t) {
            flow.fail(v, t);
            return;
        }
        final List<DataVio> nowReady = new ArrayList<>(2);
        locks.locks.compute(v.key, (k, l) -> {
            markReadyLocked(v, v.data, nowReady);
            l.wakeReaders();
            return l;
        });
        for (DataVio r : nowReady) acknowledgeEarly(r);
        flow.launch(v);
    }

    /** Acknowledges a vio whose data is complete, if it may be acknowledged before it is stored. */
    void acknowledgeEarly(DataVio v) {
        if (v.ackEarly && v.claimAck()) {
            latAck.since(v.acceptedAt);
            v.request.ack();
        }
    }
}
