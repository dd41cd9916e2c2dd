package org.jvdo.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.testsupport.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The clustered index with real Hazelcast members in this JVM on loopback: entries written
 * through one member are found through every other (named by their pool), the packed buckets
 * cost at most 24 bytes per entry per replica by Hazelcast's own map statistics, and with one
 * backup the entries outlive a member that is terminated (as a crash).
 */
class HazelcastIndexTest {
    /** The answer of one asynchronous lookup: {mapping, pool UUID (null: the asking pool's own)}. */
    record Answer(long mapping, UUID pool) { }

    static CompletableFuture<Answer> ask(HazelcastIndex index, long fpHigh, long fpLow) {
        CompletableFuture<Answer> f = new CompletableFuture<>();
        index.lookupAsync(fpHigh, fpLow, 0, 0, (m, p) -> f.complete(new Answer(m, p)));
        return f;
    }

    /** Fingerprints of {@code n} blocks, deterministic per seed. */
    static long[][] fingerprints(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[][] fp = new long[n][2];
        for (long[] f : fp) { f[0] = r.nextLong(); f[1] = r.nextLong(); }
        return fp;
    }

    /** Sends the updates with at most 4096 unanswered at once (each room waited for at most 60 s), then waits for all. */
    static void insert(HazelcastIndex index, long[][] fp, int from, int to) throws InterruptedException {
        for (int i = from; i < to; i++) {
            Await.until(() -> index.pendingUpdates() <= 4096, 60,
                    () -> "room for an update: " + index.pendingUpdates() + " unanswered (at most 4096 wanted)");
            index.update(fp[i][0], fp[i][1], 1000L + i);
        }
        assertTrue(index.awaitUpdates(60_000), "updates answered: " + index.pendingUpdates() + " left");
        assertEquals(0, index.failures(), "no update failed");
    }

    /** How many of the fingerprints the index finds with their mapping, asked with at most 4096 lookups in flight. */
    static long found(HazelcastIndex index, long[][] fp, UUID expectedPool) throws Exception {
        AtomicLong found = new AtomicLong(), answered = new AtomicLong(), wrong = new AtomicLong();
        java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(4096);
        for (int i = 0; i < fp.length; i++) {
            assertTrue(inFlight.tryAcquire(60, TimeUnit.SECONDS), "a lookup answered within 60 s");
            long want = 1000L + i;
            ask(index, fp[i][0], fp[i][1]).whenComplete((a, e) -> {
                inFlight.release();
                if (a != null && a.mapping() == want && java.util.Objects.equals(a.pool(), expectedPool)) found.incrementAndGet();
                else if (a != null && a.mapping() >= 0) wrong.incrementAndGet();
                answered.incrementAndGet();
            });
        }
        Await.until(() -> answered.get() == fp.length, 60, () -> answered + " of " + fp.length + " lookups answered");
        assertEquals(0, wrong.get(), "no lookup answered another entry's mapping or pool");
        return found.get();
    }

    @Test
    @Timeout(180)
    void entriesWrittenThroughOneMemberAreFoundThroughTheOthersNamedByTheirPool() throws Exception {
        try (ClusterFixture c = new ClusterFixture(3, 1)) {
            UUID poolA = UUID.randomUUID(), poolB = UUID.randomUUID();
            HazelcastIndex a = new HazelcastIndex(c.get(0), poolA);
            HazelcastIndex b = new HazelcastIndex(c.get(2), poolB);
            assertNotEquals(a.poolId(), b.poolId(), "each pool has its own cluster id");
            assertEquals(a.poolId(), new HazelcastIndex(c.get(1), poolA).poolId(), "a pool's id is the same on every member");
            assertTrue(a.answersLater() && a.answerTimeoutNanos() == TimeUnit.SECONDS.toNanos(10));
            long[][] fp = fingerprints(5000, 1);
            insert(a, fp, 0, fp.length);
            assertEquals(fp.length, a.entries(), "every insert added an entry");
            assertEquals(fp.length, found(a, fp, null), "the writer's pool finds its own entries (as its own)");
            assertEquals(fp.length, found(b, fp, poolA), "another member's pool finds them, naming pool A");
            assertEquals(fp.length, b.foreignHits());
            assertEquals(0, found(a, fingerprints(1000, 2), null), "fingerprints never written are not found");
            // the synchronous form answers own-pool advice only
            assertEquals(1000L, a.lookup(fp[0][0], fp[0][1]));
            assertEquals(-1, b.lookup(fp[0][0], fp[0][1]));
            // an update moves the entry: one entry per fingerprint, not a second one
            a.update(fp[0][0], fp[0][1], 77);
            assertTrue(a.awaitUpdates(10_000));
            assertEquals(77, ask(b, fp[0][0], fp[0][1]).get(10, TimeUnit.SECONDS).mapping());
            long entries = c.members.stream().mapToLong(m -> ((Number) m.localFigures().get("index_entries")).longValue()).sum();
            assertEquals(fp.length, entries, "the members' owned buckets hold each entry once");
            List<Map<String, Object>> figures = c.get(1).memberFigures(10_000);
            assertEquals(3, figures.size(), "every member answered: " + figures);
            assertEquals(1, figures.stream().filter(f -> Boolean.TRUE.equals(f.get("local"))).count());
        }
    }

    @Test
    @Timeout(300)
    void entriesCostAtMost24BytesPerReplica() throws Exception {
        try (ClusterFixture c = new ClusterFixture(3, 1)) {
            int n = 400_000; // about 24 entries per bucket of the default 16384
            long[][] fp = fingerprints(n, 3);
            List<HazelcastIndex> writers = new ArrayList<>();
            for (int i = 0; i < 3; i++) writers.add(new HazelcastIndex(c.get(i), UUID.randomUUID()));
            for (int i = 0; i < 3; i++) insert(writers.get(i), fp, i * n / 3, (i + 1) * n / 3);
            long entries = 0, owned = 0, backup = 0;
            for (ClusterMember m : c.members) {
                Map<String, Object> f = m.localFigures();
                entries += ((Number) f.get("index_entries")).longValue();
                owned += ((Number) f.get("index_memory_bytes")).longValue();
                backup += ((Number) f.get("index_backup_memory_bytes")).longValue();
            }
            assertEquals(n, entries, "every entry stored once (owned)");
            double perOwned = (double) owned / entries, perBackup = (double) backup / entries;
            System.out.printf("clustered index: %d entries, %.1f bytes per entry owned, %.1f per entry in backups (Hazelcast LocalMapStats)%n",
                    entries, perOwned, perBackup);
            assertTrue(perOwned <= 24, "bytes per entry in the owned replica: " + perOwned);
            assertTrue(perBackup <= 24 && perBackup > 10, "bytes per entry in the backup replica: " + perBackup);
        }
    }

    @Test
    @Timeout(300)
    void aPoolsSavedEntriesComeBackAfterTheWholeClusterRestarts(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        UUID pool = UUID.randomUUID();
        long[][] fp = fingerprints(20_000, 9);
        try (ClusterFixture c = new ClusterFixture(2, 1)) {
            HazelcastIndex index = new HazelcastIndex(c.get(0), pool);
            insert(index, fp, 0, fp.length);
            insert(new HazelcastIndex(c.get(1), UUID.randomUUID()), fingerprints(5_000, 10), 0, 5_000); // another pool's: not saved
            index.save(dir.resolve("index.jvdo"));
            assertEquals(fp.length, index.savedEntries(), "this pool's entries, and only those, saved");
        }
        java.nio.file.Path file = dir.resolve(HazelcastIndex.FILE);
        try (ClusterFixture c = new ClusterFixture(2, 1)) { // a new cluster knows nothing of the pool
            HazelcastIndex index = new HazelcastIndex(c.get(1), pool);
            assertEquals(fp.length, index.load(dir), "entries put back");
            assertEquals(fp.length, found(new HazelcastIndex(c.get(0), UUID.randomUUID()), fp, pool), "found through the other member");
            assertEquals(0, new HazelcastIndex(c.get(0), pool).load(dir), "a second open of the pool in the same cluster loads nothing");
        }
        byte[] b = java.nio.file.Files.readAllBytes(file);
        b[b.length / 2] ^= 1;
        java.nio.file.Files.write(file, b);
        try (ClusterFixture c = new ClusterFixture(1, 0)) {
            HazelcastIndex index = new HazelcastIndex(c.get(0), pool);
            assertEquals(0, index.load(dir), "a damaged file is skipped");
            assertEquals(0, found(new HazelcastIndex(c.get(0), UUID.randomUUID()), fp, pool), "nothing of it reached the cluster");
        }
    }

    @Test
    @Timeout(300)
    void withOneBackupTheEntriesOutliveATerminatedMember() throws Exception {
        try (ClusterFixture c = new ClusterFixture(3, 1)) {
            UUID pool = UUID.randomUUID();
            HazelcastIndex writer = new HazelcastIndex(c.get(0), pool);
            long[][] fp = fingerprints(60_000, 4);
            insert(writer, fp, 0, fp.length);
            c.get(1).terminate(); // no goodbye: its partitions are promoted from the backups
            Await.until(() -> c.get(0).hazelcast().getCluster().getMembers().size() == 2
                    && c.get(0).hazelcast().getPartitionService().isClusterSafe(), 60, () -> "the two survivors settle");
            HazelcastIndex reader = new HazelcastIndex(c.get(2), UUID.randomUUID());
            long found = found(reader, fp, pool);
            System.out.printf("after terminating one of 3 members (1 backup): %d of %d entries found%n", found, fp.length);
            assertTrue(found >= 0.99 * fp.length, "entries found after a member's death: " + found + " of " + fp.length);
        }
    }

    @Test
    @Timeout(60)
    void anIndexOfAStoppedMemberAnswersNoAdviceAtOnce() throws Exception {
        try (ClusterFixture c = new ClusterFixture(1, 0)) {
            HazelcastIndex index = new HazelcastIndex(c.get(0), UUID.randomUUID());
            c.get(0).close();
            Answer a = ask(index, 1, 2).get(10, TimeUnit.SECONDS);
            assertEquals(-1, a.mapping(), "no advice from a member that left");
            assertEquals(1, index.failures());
            index.update(1, 2, 3); // sent nowhere, counted, no exception
            assertEquals(2, index.failures());
            assertEquals(-1, index.lookup(1, 2));
        }
    }

    static { assertNotNull(DedupIndex.class); }
}
