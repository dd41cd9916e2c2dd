package org.jvdo.core.write;

import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.read.StoredBlocks;

import java.util.Arrays;
import java.util.logging.Logger;

/**
 * Stage "dedupe": index advice, then verification. Advice is only a hint: the candidate block's
 * count is raised first (so it cannot be freed and reused meanwhile; a block still write-locked
 * for its first data write is refused), then it is read, decompressed if packed, and compared
 * byte for byte. Equal: the vio shares it ({@code dedupe_advice_valid}). Otherwise the count is
 * dropped again ({@code dedupe_advice_stale}) and the block goes to compression.
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

    Dedupe(Flow flow, DedupIndex index, SlabDepot depot, StoredBlocks stored, JournalAppender journal,
           LatencyHistogram latIndex, LatencyHistogram latVerify) {
        this.flow = flow;
        this.index = index;
        this.depot = depot;
        this.stored = stored;
        this.journal = journal;
        this.latIndex = latIndex;
        this.latVerify = latVerify;
    }

    void queryIndex(DataVio v) {
        long ti = System.nanoTime();
        long advice = index.lookup(v.hash[0], v.hash[1], v.volume.id(), v.lbn);
        latIndex.since(ti);
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
                    v.newMapping = advice;
                    v.holdsRef = true;
                    v.volume.counters.dedupeAdviceValid.increment();
                    v.releaseReservation(depot);
                    flow.stored(v);
                    return;
                }
                depot.decrement(pbn, journal.lastAppendedSeq());
            }
            v.volume.counters.dedupeAdviceStale.increment();
        }
        flow.compress(v);
    }
}
