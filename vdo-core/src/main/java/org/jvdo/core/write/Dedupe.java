package org.jvdo.core.write;

import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.read.StoredBlocks;

import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Logger;

/**
 * Stage "dedupe": index advice, then verification. Advice is only a hint: the candidate block's
 * count is raised first (so it cannot be freed and reused meanwhile; a block still write-locked
 * for its first data write is refused), then it is read, decompressed if packed, and compared
 * byte for byte. Equal: the vio shares it ({@code dedupe_advice_valid}). Otherwise the count is
 * dropped again ({@code dedupe_advice_stale}) and the block goes to compression.
 *
 * <p>An index that answers later ({@link DedupIndex#answersLater}, the clustered one) is asked
 * with {@link DedupIndex#lookupAsync}; the CPU thread goes on with other vios. The first of the
 * answer and the timeout wins: a late answer is dropped, a timeout counts
 * {@code dedupe_advice_timeouts} and the block is written without dedup. Either way the vio
 * continues on a CPU thread ({@link Flow#adviceArrived}). Advice naming another pool counts
 * {@code dedupe_advice_foreign}; in a cluster member's pool {@link ForeignPins} asks that pool's
 * owner to pin the block and compares it, and the vio maps it ({@code dedupe_foreign_shared}).
 */
final class Dedupe {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");
    private static final ThreadLocal<byte[]> CANDIDATE = ThreadLocal.withInitial(() -> new byte[4096]);

    private final Flow flow;
    private final DedupIndex index;
    private final SlabDepot depot;
    private final StoredBlocks stored;
    private final JournalAppender journal;
    private final LatencyHistogram latIndex, latVerify;
    private final ForeignPins foreign;

    Dedupe(Flow flow, DedupIndex index, SlabDepot depot, StoredBlocks stored, JournalAppender journal,
           LatencyHistogram latIndex, LatencyHistogram latVerify, ForeignPins foreign) {
        this.flow = flow;
        this.foreign = foreign;
        this.index = index;
        this.depot = depot;
        this.stored = stored;
        this.journal = journal;
        this.latIndex = latIndex;
        this.latVerify = latVerify;
    }

    void queryIndex(DataVio v) {
        if (index.answersLater()) {
            new Pending(v).start();
            return;
        }
        long ti = System.nanoTime();
        long advice = index.lookup(v.hash[0], v.hash[1], v.volume.id(), v.lbn);
        latIndex.since(ti);
        useAdvice(v, advice);
    }

    /** The advice is known (-1: none): verify and share it, or compress. On a CPU thread. */
    void useAdvice(DataVio v, long advice) {
        if (advice >= 0 && Mapping.isForeign(advice)) {
            // pinned in the other pool and compared byte for byte by ForeignPins
            share(v, advice, false, v.volume.counters.dedupeForeignShared);
            return;
        }
        if (advice >= 0) {
            long pbn = Mapping.pbn(advice);
            if (depot.incrementIfLive(pbn)) {
                boolean same = false;
                long tv = System.nanoTime();
                try {
                    byte[] candidate = CANDIDATE.get();
                    // the byte comparison is the verification here (a stale advice is no checksum error)
                    stored.readUnverified(v.volume, advice, candidate, "dedupe verify");
                    same = Arrays.equals(candidate, v.data);
                } catch (Throwable t) {
                    LOG.fine(() -> "dedupe candidate " + Mapping.describe(advice) + " unreadable: " + t);
                }
                latVerify.since(tv);
                if (same) {
                    share(v, advice, true, v.volume.counters.dedupeAdviceValid);
                    return;
                }
                depot.decrement(pbn, journal.lastAppendedSeq());
            }
            v.volume.counters.dedupeAdviceStale.increment();
        }
        flow.compress(v);
    }

    /**
     * The vio shares the verified block {@code mapping} instead of writing its own: {@code holdsRef}
     * as {@link DataVio#holdsRef} (true: the count this vio raised on a block of this pool),
     * {@code counter} counts this kind of share; the vio's reservation is released.
     */
    private void share(DataVio v, long mapping, boolean holdsRef, LongAdder counter) {
        v.newMapping = mapping;
        v.holdsRef = holdsRef;
        counter.increment();
        v.releaseReservation(depot);
        flow.stored(v);
    }

    /** Timers of lookups that answer later (one daemon thread for every pool of the process). */
    private static final class Timer {
        static final ScheduledThreadPoolExecutor EXEC = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "jvdo-index-timer");
            t.setDaemon(true);
            return t;
        });

        static {
            EXEC.setRemoveOnCancelPolicy(true);
        }
    }

    /** One lookup in flight at an index that answers later; the first of answer and timeout wins. */
    private final class Pending extends AtomicBoolean implements DedupIndex.Advice, Runnable {
        private final DataVio v;
        private final long started = System.nanoTime();
        private volatile ScheduledFuture<?> timer;

        Pending(DataVio v) { this.v = v; }

        void start() {
            try {
                index.lookupAsync(v.hash[0], v.hash[1], v.volume.id(), v.lbn, this);
            } catch (Throwable t) {
                LOG.fine(() -> "dedupe lookup failed: " + t);
                advice(-1, null);
                return;
            }
            // the timer starts once the lookup is sent (an answer before it is scheduled leaves it nothing to do)
            long timeout = index.answerTimeoutNanos();
            if (timeout != Long.MAX_VALUE && !get()) {
                timer = Timer.EXEC.schedule(this, timeout, TimeUnit.NANOSECONDS);
                if (get()) timer.cancel(false);
            }
        }

        @Override
        public boolean done() { return get(); }

        @Override
        public void advice(long mapping, UUID foreignPool) {
            if (!compareAndSet(false, true)) return; // timed out: the vio has moved on (and may be reused)
            ScheduledFuture<?> t = timer;
            if (t != null) t.cancel(false);
            latIndex.since(started);
            long use = mapping;
            if (foreignPool != null && mapping >= 0) {
                v.volume.counters.dedupeAdviceForeign.increment();
                // another pool's block: its owner pins it, then ForeignPins continues the vio
                if (foreign.pinLater(v, foreignPool, mapping)) return;
                use = -1;
            }
            flow.adviceArrived(v, use);
        }

        /** The timeout. */
        @Override
        public void run() {
            if (!compareAndSet(false, true)) return;
            latIndex.since(started);
            v.volume.counters.dedupeAdviceTimeouts.increment();
            flow.adviceArrived(v, -1);
        }
    }
}
