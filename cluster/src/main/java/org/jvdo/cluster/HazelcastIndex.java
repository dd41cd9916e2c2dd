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
 * <p>The entries live in the cluster (and its backups) and outlive this process. For a restart of
 * the whole cluster, a clean close also saves this pool's entries into {@value #FILE} beside the
 * pool's index file, and {@link #load} puts them back when the cluster knew nothing of the pool.
 */
public final class HazelcastIndex implements DedupIndex {
    private static final Logger LOG = Logger.getLogger(HazelcastIndex.class.getName());
    /** The pool's entries saved at its clean close, for a whole-cluster restart (beside {@code index.jvdo}). */
    public static final String FILE = "cluster-index.jvdo";
    private static final long MAGIC = 0x4a56444f43495831L; // "JVDOCIX1"
    private static final int VERSION = 1;

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
                        if (error != null) failures.increment();
                        else if (a != null && a == 1) added.increment();
                        updateDone(); // after the figures: a waiter for none left reads them complete
                    }, ON_ANSWER);
        } catch (RuntimeException e) {
            updateDone();
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

    /**
     * Saves this pool's entries (every bucket's, asked of its owner with a read-only processor)
     * into {@value #FILE} beside {@code file}: magic, version, bucket bits, entry count, then per
     * bucket {int bucket, int pairs, pairs of (long check, long mapping)}, then a CRC-32C of all
     * before it; written to a temporary file, synced and renamed over the old one.
     */
    @Override
    public void save(Path file) throws java.io.IOException {
        if (!awaitUpdates(10_000)) LOG.warning("index: " + pending.get() + " updates still unanswered while saving");
        java.util.Map<Integer, byte[]> parts;
        try {
            parts = map.executeOnEntries(new IndexOps.Extract(poolId));
        } catch (RuntimeException e) {
            throw new java.io.IOException("cannot read this pool's entries from the cluster: " + e.getMessage(), e);
        }
        long count = 0;
        int buckets = 0;
        for (byte[] b : parts.values()) {
            if (b != null) {
                count += b.length / 16;
                buckets++;
            }
        }
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(Math.toIntExact(24 + buckets * 8L + count * 16 + 4));
        out.putLong(MAGIC).putInt(VERSION).putInt(ClusterMember.BUCKET_BITS).putLong(count);
        for (java.util.Map.Entry<Integer, byte[]> e : new java.util.TreeMap<>(parts).entrySet()) {
            if (e.getValue() == null) continue;
            out.putInt(e.getKey()).putInt(e.getValue().length / 16).put(e.getValue());
        }
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(out.array(), 0, out.position());
        out.putInt((int) crc.getValue());
        Path target = file.resolveSibling(FILE), tmp = file.resolveSibling(FILE + ".tmp");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            out.flip();
            while (out.hasRemaining()) ch.write(out);
            ch.force(true);
        }
        java.nio.file.Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        saved = count;
    }

    private volatile long saved = -1, loaded = -1;

    /** Entries written by the last {@link #save} (-1: none yet). */
    public long savedEntries() { return saved; }

    /** Entries put back by {@link #load} (-1: nothing loaded). */
    public long loadedEntries() { return loaded; }

    /**
     * Puts this pool's saved entries ({@value #FILE} in {@code dir}) back into the cluster, when the
     * cluster knew nothing of the pool ({@link ClusterMember#numberedHere}: a restart of the whole
     * cluster). Otherwise the cluster still holds them, newer than the file, and the file is left
     * alone. A missing, damaged or foreign-layout file is skipped with a warning: advice only.
     * Returns the entries put back.
     */
    public long load(Path dir) {
        Path f = dir.resolve(FILE);
        if (!member.numberedHere(pool) || !java.nio.file.Files.exists(f)) return 0;
        java.nio.ByteBuffer in;
        try {
            in = java.nio.ByteBuffer.wrap(java.nio.file.Files.readAllBytes(f));
        } catch (java.io.IOException e) {
            LOG.warning("index: cannot read " + f + " (advice only, the pool starts without it): " + e.getMessage());
            return 0;
        }
        String bad = null;
        if (in.remaining() < 28 || in.getLong(0) != MAGIC) bad = "not a jvdo cluster index file";
        else if (in.getInt(8) != VERSION) bad = "version " + in.getInt(8) + ", this jvdo reads " + VERSION;
        else if (in.getInt(12) != ClusterMember.BUCKET_BITS) bad = "saved with " + in.getInt(12) + " bucket bits, the cluster uses " + ClusterMember.BUCKET_BITS;
        else {
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(in.array(), 0, in.limit() - 4);
            if ((int) crc.getValue() != in.getInt(in.limit() - 4)) bad = "its checksum does not match (damaged)";
        }
        if (bad != null) {
            LOG.warning("index: " + f + " is skipped (advice only): " + bad);
            return 0;
        }
        in.position(24).limit(in.limit() - 4);
        long count = 0;
        while (in.remaining() >= 8) {
            int bucket = in.getInt(), pairs = in.getInt();
            if (pairs < 0 || pairs * 16L > in.remaining()) {
                LOG.warning("index: " + f + " is cut short at bucket " + bucket + "; the rest is skipped");
                break;
            }
            byte[] b = new byte[pairs * 16];
            in.get(b);
            count += pairs;
            pending.incrementAndGet();
            map.submitToKey(bucket, new IndexOps.InsertAll(b, poolId, ClusterMember.BUCKET_ENTRIES)).whenCompleteAsync((a, error) -> {
                if (error != null) failures.increment();
                else if (a != null) added.add(a);
                updateDone();
            }, ON_ANSWER);
            // a bounded window: the open waits, not the heap
            if (!awaitPendingAtMost(LOAD_WINDOW, 60_000)) {
                LOG.warning("index: loading " + f + " stalled (" + pending.get() + " inserts unanswered for 60 s); the rest is skipped");
                break;
            }
        }
        if (!awaitUpdates(60_000)) LOG.warning("index: loading " + f + " did not finish within 60 s");
        loaded = count;
        return count;
    }

    /** Updates sent and not yet answered by their partition's owner. */
    public long pendingUpdates() { return pending.get(); }

    /** Waits (at most {@code millis}) until every update sent has been applied; true when none is left. */
    public boolean awaitUpdates(long millis) { return awaitPendingAtMost(0, millis); }

    /** Inserts of a load in flight at most. */
    private static final long LOAD_WINDOW = 256;

    /** An update answered: the waiters for none left (or for the load's window) are woken. */
    private void updateDone() {
        long left = pending.decrementAndGet();
        if (left == 0 || left == LOAD_WINDOW) {
            synchronized (pending) {
                pending.notifyAll();
            }
        }
    }

    /** Waits (at most {@code millis}) until at most {@code max} updates are unanswered; false on the timeout. */
    private boolean awaitPendingAtMost(long max, long millis) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (pending) {
            while (pending.get() > max) {
                long left = end - System.nanoTime();
                if (left <= 0) return false;
                try {
                    pending.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
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
