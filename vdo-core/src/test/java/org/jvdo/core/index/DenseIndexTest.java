package org.jvdo.core.index;

import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class DenseIndexTest {
    static final long PBN_16GIB = (16L << 30) / 4096 + 100_000;   // a 16 GiB pool's data blocks plus its metadata

    static long mapping(SplittableRandom r, long maxPbn) {
        long pbn = r.nextLong(maxPbn + 1);
        return r.nextBoolean() ? Mapping.raw(pbn) : Mapping.packed(pbn, r.nextInt(Mapping.MAX_SLOTS));
    }

    /** The i-th test fingerprint's high half (distinct for distinct i: a bijection of i). */
    static long fp(long seed, long i) {
        long z = (i + seed * 0x9E3779B97F4A7C15L) * 0xBF58476D1CE4E5B9L;
        z ^= z >>> 31;
        z *= 0x94D049BB133111EBL;
        return z ^ (z >>> 29);
    }

    static long mappingOf(long i, long maxPbn) {
        long h = fp(99, i) >>> 1;
        return (h & 16) == 0 ? Mapping.raw(h % (maxPbn + 1)) : Mapping.packed(h % (maxPbn + 1), (int) (h >>> 40) % Mapping.MAX_SLOTS);
    }

    @Test
    @Timeout(120)
    void everyEntryIsFoundAfterGrowingAndUpdatesReplace() {
        int n = 300_000;
        DenseIndex idx = new DenseIndex(64, 1 << 24, PBN_16GIB);
        SplittableRandom r = new SplittableRandom(1);
        long[] maps = new long[n];
        for (int i = 0; i < n; i++) {
            maps[i] = mapping(r, PBN_16GIB);
            idx.update(fp(1, i), 0, maps[i]);
            if (i % 50_000 == 0) for (int j = 0; j <= i; j += 101) assertTrue(idx.lookup(fp(1, j), 0) >= 0, "entry " + j + " at " + i);
        }
        // distinct fingerprints equal in all key bits share one entry (the last one's mapping wins)
        int shift = 64 - idx.keyBits();
        java.util.HashMap<Long, Long> last = new java.util.HashMap<>();
        for (int i = 0; i < n; i++) last.put(fp(1, i) >>> shift, maps[i]);
        assertEquals(last.size(), idx.entries());
        assertTrue(n - last.size() < 5, (n - last.size()) + " key collisions");
        for (int i = 0; i < n; i++) assertEquals(last.get(fp(1, i) >>> shift), idx.lookup(fp(1, i), 0), "entry " + i);
        idx.update(fp(1, 5), 0, Mapping.raw(77));
        assertEquals(Mapping.raw(77), idx.lookup(fp(1, 5), 0));
        assertEquals(last.size(), idx.entries(), "an update replaces, it does not add");
        idx.update(fp(1, 999_999_999), 0, Mapping.ZERO_ENTRY);
        assertEquals(-1, idx.lookup(fp(1, 999_999_999), 0), "a mapping without a block is no advice");
        // fingerprints never stored: the false-match rate stays below the stated bound
        int falseMatches = 0, probes = 1_000_000;
        for (int i = 0; i < probes; i++) if (idx.lookup(fp(2, i), 0) >= 0) falseMatches++;
        assertTrue(falseMatches < probes * 0.95 / (1 << DenseIndex.MIN_REMAINDER_BITS), "false matches " + falseMatches + " of " + probes);
    }

    /** Threads updating and looking up at once (one lock per segment): every entry is there afterwards, no lookup saw a wrong mapping. */
    @Test
    @Timeout(120)
    void concurrentUpdatesAndLookupsKeepEveryEntry() throws Exception {
        DenseIndex idx = new DenseIndex(1024, 1 << 24, PBN_16GIB);
        int threads = 4, per = 60_000;
        int shift = 64 - idx.keyBits();
        // test data without two fingerprints equal in all key bits (those share an entry, and
        // which thread's mapping wins would be a race); the first such seed from 8 on
        long seed = 8;
        for (java.util.HashSet<Long> keys = new java.util.HashSet<>(); ; seed++, keys.clear()) {
            for (int i = 0; i < threads * per; i++) keys.add(fp(seed, i) >>> shift);
            if (keys.size() == threads * per) break;
        }
        final long sd = seed;
        java.util.concurrent.atomic.AtomicReference<String> wrong = new java.util.concurrent.atomic.AtomicReference<>();
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int base = t * per;
            ts[t] = new Thread(() -> {
                for (int i = base; i < base + per; i++) {
                    idx.update(fp(sd, i), 0, mappingOf(i, PBN_16GIB));
                    int j = base + (i - base) / 2;
                    long m = idx.lookup(fp(sd, j), 0);
                    if (m != mappingOf(j, PBN_16GIB) && wrong.get() == null) wrong.set("entry " + j + ": " + m);
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        assertEquals(threads * per, idx.entries());
        assertNull(wrong.get());
        for (int i = 0; i < threads * per; i++) assertEquals(mappingOf(i, PBN_16GIB), idx.lookup(fp(sd, i), 0), "entry " + i);
    }

    @Test
    void aPbnBeyondTheWidthRebuildsWider() {
        DenseIndex idx = new DenseIndex(1024, 1 << 20, 1000);
        for (int i = 0; i < 5000; i++) idx.update(fp(3, i), 0, Mapping.raw(i % 1000));
        long big = Mapping.packed((1L << 36) - 1, 13);
        idx.update(fp(3, 9_000_000), 0, big);
        assertEquals(big, idx.lookup(fp(3, 9_000_000), 0));
        for (int i = 0; i < 5000; i++) assertEquals(Mapping.raw(i % 1000), idx.lookup(fp(3, i), 0));
    }

    /** The largest bytes per entry seen while inserting {@code n} entries, from 64k entries on, sampled every 1024 inserts. */
    static double[] worstBytesPerEntry(DenseIndex idx, long n, long maxPbn) {
        double worst = 0;
        long worstAt = 0;
        for (long i = 0; i < n; i++) {
            idx.update(fp(4, i), 0, mappingOf(i, maxPbn));
            if (i + 1 >= 65536 && (i & 1023) == 0) {
                double b = (double) idx.memoryBytes() / idx.entries();
                if (b > worst) { worst = b; worstAt = i + 1; }
            }
        }
        return new double[] {worst, worstAt};
    }

    /**
     * The bound, default configuration (64M slots at most, a 16 GiB pool's PBNs): at most 8
     * bytes per entry (memoryBytes / entries) at every size from 64k entries to 2M.
     */
    @Test
    @Timeout(300)
    void atMostEightBytesPerEntryFrom64kUpwardsByDefault() {
        DenseIndex idx = new DenseIndex(1024, 64 << 20, PBN_16GIB);
        double[] w = worstBytesPerEntry(idx, 2_000_000, PBN_16GIB);
        System.out.printf("dense, default maximum, 16 GiB pool: worst %.3f bytes per entry at %d entries%n", w[0], (long) w[1]);
        assertTrue(w[0] <= 8.0, w[0] + " bytes per entry at " + (long) w[1] + " entries");
    }

    /**
     * The bound up to the maximum and past it (replacing), for a 16 GiB pool's PBNs and a 1 TiB
     * pool's: at most 8 bytes per entry from 64k entries on, and what it still returns is right.
     */
    @Test
    @Timeout(300)
    void atMostEightBytesPerEntryUpToTheMaximumAndBeyond() {
        for (long maxPbn : new long[] {PBN_16GIB, (1L << 40) / 4096 + 100_000}) {
            int max = 1 << 21;
            DenseIndex idx = new DenseIndex(1024, max, maxPbn);
            long n = max + (max >> 2);
            double[] w = worstBytesPerEntry(idx, n, maxPbn);
            System.out.printf("dense, maximum %d, max PBN %d: worst %.3f bytes per entry at %d entries, %.3f at the end%n",
                    max, maxPbn, w[0], (long) w[1], (double) idx.memoryBytes() / idx.entries());
            assertTrue(idx.capacity() <= max, "capacity " + idx.capacity() + " beyond " + max);
            assertTrue(w[0] <= 8.0, "max PBN " + maxPbn + ": " + w[0] + " bytes per entry at " + (long) w[1] + " entries");
            int hits = 0;
            for (long j = n - 10_000; j < n; j++) {
                long m = idx.lookup(fp(4, j), 0);
                if (m >= 0) { assertEquals(mappingOf(j, maxPbn), m, "entry " + j); hits++; }
            }
            assertTrue(hits > 9_000, "recent entries found " + hits);
        }
    }
}
