package org.jvdo.core.write;

import net.openhft.hashing.LongTupleHashFunction;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.logical.BlockChecksum;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stage "fingerprint and hash lock" (dm-vdo's hash lock), and its end, the index update.
 * XXH3-128 of the block gives its fingerprint and its content checksum. The first vio with a
 * fingerprint is the agent that deduplicates or stores the block; identical ones arriving while
 * it works wait on its lock and, after a byte comparison with the agent's data, share its
 * result ({@code concurrent_data_matches}; equal fingerprints with different bytes are a
 * {@code concurrent_hash_collision} and go their own way). When the agent has stored (or
 * shared) its block, the index learns the location.
 */
final class HashLocks {
    private static final LongTupleHashFunction XX128 = LongTupleHashFunction.xx128();

    /** The agent of a fingerprint and the identical writes waiting for its result. */
    static final class HashLock {
        final DataVio agent;
        final List<DataVio> waiters = new ArrayList<>(2);

        HashLock(DataVio agent) { this.agent = agent; }
    }

    final ConcurrentHashMap<Fingerprint, HashLock> locks = new ConcurrentHashMap<>();
    private final Flow flow;
    private final SlabDepot depot;
    private final DedupIndex index;
    private final LatencyHistogram latHash;

    HashLocks(Flow flow, SlabDepot depot, DedupIndex index, LatencyHistogram latHash) {
        this.flow = flow;
        this.depot = depot;
        this.index = index;
        this.latHash = latHash;
    }

    /** Fingerprints the block; the agent goes on to dedupe, a waiter waits for the agent. */
    void hashAndLock(DataVio v) {
        long t = System.nanoTime();
        XX128.hashBytes(v.data, v.hash);
        latHash.since(t);
        // an internal volume's writes (other pools' pins) never wait on this pool's own writes, which may wait for pins
        v.fingerprint = new Fingerprint(v.hash[0], v.hash[1], v.volume.isInternal());
        v.checksum = BlockChecksum.of(v.hash);
        final boolean[] agent = {false};
        final DataVio[] kick = {null};
        locks.compute(v.fingerprint, (k, l) -> {
            if (l == null) { agent[0] = true; return new HashLock(v); }
            v.stage = Stage.HASH_LOCK_WAIT;
            l.waiters.add(v);
            if (l.agent.inPacker) kick[0] = l.agent;
            return l;
        });
        if (agent[0]) flow.dedupe(v);
        // a waiting duplicate: don't let the agent's fragment sit out the packer timeout
        else if (kick[0] != null) flow.kickPacker(kick[0]);
    }

    /** The agent has a location: teach the index, share it with the waiting identical writes. */
    void stored(DataVio v) {
        if (Mapping.hasBlock(v.newMapping)) index.update(v.hash[0], v.hash[1], v.newMapping, v.volume.id(), v.lbn);
        release(v, true);
    }

    /** Releases {@code v}'s lock if it is the agent; waiters share its block ({@code share}) or go their own way. */
    void release(DataVio v, boolean share) {
        if (v.fingerprint == null) return;
        HashLock l = locks.get(v.fingerprint);
        if (l == null || l.agent != v) return;
        locks.remove(v.fingerprint);
        List<DataVio> needCopy = null;
        for (DataVio w : l.waiters) {
            if (share && Mapping.isForeign(v.newMapping)) {
                // another pool's block: each LBN holds its own reference slot there, so each pins
                Trampoline.run(() -> flow.dedupe(w));
            } else if (share && Arrays.equals(w.data, v.data)) {
                if (depot.incrementIfLive(Mapping.pbn(v.newMapping))) {
                    w.newMapping = v.newMapping;
                    w.holdsRef = true;
                    w.volume.counters.concurrentDataMatches.increment();
                    w.releaseReservation(depot);
                    Trampoline.run(() -> flow.finish(w));
                } else {
                    // reference count at its maximum: a new copy is needed, but one for all of them
                    if (needCopy == null) needCopy = new ArrayList<>();
                    needCopy.add(w);
                }
            } else {
                if (share) w.volume.counters.concurrentHashCollisions.increment();
                Trampoline.run(() -> flow.dedupe(w));
            }
        }
        if (needCopy != null) fork(needCopy);
    }

    /**
     * Waiters the agent's block can take no more references for (dm-vdo's hash lock fork): the
     * first becomes the agent of a new hash lock and stores a new copy, the others wait on it and
     * share that copy. Storing one copy per waiter instead filled the pool with duplicates of a
     * block written by many requests at once.
     */
    private void fork(List<DataVio> waiters) {
        for (DataVio w : waiters) {
            final boolean[] agent = {false};
            locks.compute(w.fingerprint, (k, l) -> {
                if (l == null) { agent[0] = true; return new HashLock(w); }
                l.waiters.add(w);
                return l;
            });
            if (agent[0]) Trampoline.run(() -> flow.compress(w));
        }
    }

    int size() { return locks.size(); }
}
