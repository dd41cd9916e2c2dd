package org.jvdo.cluster;

import com.hazelcast.map.IMap;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.index.DedupIndex;

/**
 * One pool's view of the clustered index (docs/cluster.md). A lookup is a read-only entry
 * processor on the partition owner of the fingerprint's bucket ({@code submitToKey}), answered
 * on Hazelcast's thread; the write path does not wait for it ({@link #answersLater()}). An
 * update is an insert processor, sent and not waited for, that Hazelcast applies on the owner
 * and each backup. Entries name their pool by its cluster id; advice naming another pool is
 * answered with that pool's UUID (the engine counts it as foreign and, until pins exist, does
 * not use it).
 *
 * <p>Not saved: the entries live in the cluster (and its backups) and outlive this process.
 */
public final class HazelcastIndex implements DedupIndex {
    private static final Logger LOG = Logger.getLogger(HazelcastIndex.class.getName());

    private final ClusterMember member;
    private final IMap<Integer, byte[]> map;
    private final UUID pool;
    private final int poolId;
    private final long timeoutNanos;
    private final LongAdder lookups = new LongAdder(), hits = new LongAdder(), foreign = new LongAdder(),
            failures = new LongAdder(), updates = new LongAdder(), added = new LongAdder();
    private final LatencyHistogram latency = new LatencyHistogram();
    /** Updates sent and not yet applied by their owner (a clean close waits for them). */
    private final java.util.concurrent.atomic.AtomicLong pending = new java.util.concurrent.atomic.AtomicLong();

    public HazelcastIndex(ClusterMember member, UUID pool) {
        this.member = member;
        this.map = member.index();
        this.pool = pool;
        this.poolId = member.poolId(pool);
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(member.settings().indexTimeoutMillis());
    }

    public UUID pool() { return pool; }

    public int poolId() { return poolId; }

    @Override public boolean answersLater() { return true; }

    @Override public long answerTimeoutNanos() { return timeoutNanos; }

    @Override
    public void lookupAsync(long fpHigh, long fpLow, int volume, long lbn, Advice answer) {
        lookups.increment();
        long started = System.nanoTime();
        CompletionStage<long[]> asked;
        try {
            asked = map.submitToKey(ClusterMember.bucket(fpHigh), new IndexOps.Lookup(fpLow));
        } catch (RuntimeException e) { // not a member any more (shut down, split off)
            failures.increment();
            answer.advice(-1, null);
            return;
        }
        asked.whenCompleteAsync((found, error) -> {
            latency.since(started);
            if (error != null) {
                failures.increment();
                LOG.log(Level.FINE, "index lookup failed", error);
                answer.advice(-1, null);
            } else if (found == null) {
                answer.advice(-1, null);
            } else {
                hits.increment();
                int id = (int) found[1];
                if (id == poolId) {
                    answer.advice(found[0], null);
                } else {
                    foreign.increment();
                    UUID known = member.knownPoolUuid(id);
                    if (known != null) {
                        answer.advice(found[0], known);
                    } else { // the first advice naming this pool: its UUID is asked without blocking Hazelcast's thread
                        member.poolUuidAsync(id).whenCompleteAsync((u, e) ->
                                // an unknown id is still another pool's: a UUID no pool has says so
                                answer.advice(found[0], u != null ? u : new UUID(0, id)), ON_ANSWER);
                    }
                }
            }
        }, ON_ANSWER);
    }

    /**
     * Runs an answer's callback on the thread that completed it (cheap: the engine hands the
     * block to a CPU thread). Hazelcast's default for callbacks is the common ForkJoinPool, and
     * where that has a parallelism of 1 (a 2-core machine) a new thread per callback: about
     * 3,000 lookups/s instead of tens of thousands.
     */
    private static final java.util.concurrent.Executor ON_ANSWER = Runnable::run;

    /** Synchronous lookup (not used by the write path, which asks {@link #lookupAsync}); own-pool advice only. */
    @Override
    public long lookup(long fpHigh, long fpLow) {
        try {
            long[] found = map.submitToKey(ClusterMember.bucket(fpHigh), new IndexOps.Lookup(fpLow))
                    .toCompletableFuture().get(timeoutNanos, TimeUnit.NANOSECONDS);
            return found != null && (int) found[1] == poolId ? found[0] : -1;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            failures.increment();
            return -1;
        }
    }

    @Override
    public void update(long fpHigh, long fpLow, long mapping) {
        updates.increment();
        pending.incrementAndGet();
        try {
            map.submitToKey(ClusterMember.bucket(fpHigh), new IndexOps.Insert(fpLow, mapping, poolId, ClusterMember.BUCKET_ENTRIES))
                    .whenCompleteAsync((a, error) -> {
                        pending.decrementAndGet();
                        if (error != null) failures.increment();
                        else if (a != null && a == 1) added.increment();
                    }, ON_ANSWER);
        } catch (RuntimeException e) {
            pending.decrementAndGet();
            failures.increment();
        }
    }

    /** Entries this pool added to the cluster's index (since this open). */
    @Override public long entries() { return added.sum(); }

    /** The heap this member spends on its share of the whole index (owned buckets and backups, every pool's). */
    @Override
    public long memoryBytes() {
        try {
            var s = map.getLocalMapStats();
            return s.getOwnedEntryMemoryCost() + s.getBackupEntryMemoryCost();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    @Override public String mode() { return "cluster"; }

    /** Nothing to save: the entries live in the cluster. */
    @Override public void save(Path file) { }

    /** Updates sent and not yet answered by their partition's owner. */
    public long pendingUpdates() { return pending.get(); }

    /** Waits (at most {@code millis}) until every update sent has been applied; true when none is left. */
    public boolean awaitUpdates(long millis) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (pending.get() > 0) {
            if (System.nanoTime() > end) return false;
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** A clean close: the updates in flight are applied first (at most 10 s), so the entries outlive the pool's close. */
    @Override
    public void close() {
        if (!awaitUpdates(10_000)) LOG.warning("index: " + pending.get() + " updates still unanswered at close (their entries may be missing)");
    }

    public long lookups() { return lookups.sum(); }

    public long hits() { return hits.sum(); }

    public long foreignHits() { return foreign.sum(); }

    public long failures() { return failures.sum(); }

    public long updates() { return updates.sum(); }

    public LatencyHistogram.Snapshot lookupLatency() { return latency.snapshot(); }
}
