package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.index.MemoryIndex;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class MemoryIndexTest {
    @TempDir Path dir;

    static long mapping(Random r) {
        long pbn = r.nextLong() & ((1L << 36) - 1);
        return r.nextBoolean() ? Mapping.raw(pbn) : Mapping.packed(pbn, r.nextInt(Mapping.MAX_SLOTS));
    }

    /** n distinct fingerprints (high halves distinct and non-zero) with their mappings. */
    static long[][] data(long seed, int n) {
        Random r = new Random(seed);
        java.util.HashSet<Long> seen = new java.util.HashSet<>();
        long[][] d = new long[n][3];
        for (int i = 0; i < n; i++) {
            long hi;
            do { hi = r.nextLong(); } while (hi == 0 || hi == 1 || !seen.add(hi));
            d[i][0] = hi;
            d[i][1] = r.nextLong();
            d[i][2] = mapping(r);
        }
        return d;
    }

    @Test
    void insertLookupGrowKeepsEveryEntry() {
        long[][] d = data(1, 200_000);
        MemoryIndex idx = new MemoryIndex(64, 1 << 24);
        double worst = 0;
        for (int i = 0; i < d.length; i++) {
            int capBefore = idx.capacity();
            idx.update(d[i][0], d[i][1], d[i][2]);
            if (idx.capacity() != capBefore) {
                // right after growth: every entry so far is still there
                for (int j = 0; j <= i; j += 97) assertEquals(d[j][2], idx.lookup(d[j][0], d[j][1]), "entry " + j + " after growth to " + idx.capacity());
            }
            if (i > 1000) worst = Math.max(worst, (double) idx.memoryBytes() / idx.entries());
        }
        assertEquals(d.length, idx.entries());
        for (long[] e : d) assertEquals(e[2], idx.lookup(e[0], e[1]));
        assertEquals(-1, idx.lookup(12345, 0));
        assertTrue(worst <= 32, "bytes per entry peaked at " + worst);
        double now = (double) idx.memoryBytes() / idx.entries();
        assertTrue(now <= 32, "bytes per entry " + now);
        // an update replaces, it does not add
        idx.update(d[5][0], d[5][1], Mapping.raw(77));
        assertEquals(Mapping.raw(77), idx.lookup(d[5][0], d[5][1]));
        assertEquals(d.length, idx.entries());
        // mappings without a block are not advice
        idx.update(999, 0, Mapping.ZERO_ENTRY);
        assertEquals(-1, idx.lookup(999, 0));
    }

    @Test
    void boundedAtMaximumCapacity() {
        long[][] d = data(2, 5000);
        MemoryIndex idx = new MemoryIndex(64, 1024);
        for (long[] e : d) idx.update(e[0], e[1], e[2]);
        assertTrue(idx.capacity() <= 1024);
        assertTrue(idx.entries() <= 1024);
        // whatever it still returns is right
        int hits = 0;
        for (long[] e : d) { long m = idx.lookup(e[0], e[1]); if (m >= 0) { assertEquals(e[2], m); hits++; } }
        assertTrue(hits > 500, "hits " + hits);
    }

    @Test
    void saveLoadRoundTrip() throws Exception {
        long[][] d = data(3, 30_000);
        MemoryIndex idx = new MemoryIndex(1000, 1 << 20);
        for (long[] e : d) idx.update(e[0], e[1], e[2]);
        Path f = dir.resolve("index.jvdo");
        idx.save(f);
        MemoryIndex back = MemoryIndex.load(f, 1 << 20);
        assertEquals(idx.entries(), back.entries());
        for (long[] e : d) assertEquals(e[2], back.lookup(e[0], e[1]));
        // it keeps working (growing) after a load
        long[][] more = data(4, 30_000);
        for (long[] e : more) back.update(e[0], e[1], e[2]);
        for (long[] e : d) assertEquals(e[2], back.lookup(e[0], e[1]));
        assertThrows(NoSuchFileException.class, () -> MemoryIndex.load(dir.resolve("missing"), 1 << 20));
    }

    @Test
    void truncatedOrCorruptFileIsCorruptPool() throws Exception {
        long[][] d = data(5, 2000);
        MemoryIndex idx = new MemoryIndex(64, 1 << 20);
        for (long[] e : d) idx.update(e[0], e[1], e[2]);
        Path f = dir.resolve("index.jvdo");
        idx.save(f);
        byte[] good = Files.readAllBytes(f);
        Random r = new Random(6);
        for (int trial = 0; trial < 30; trial++) {
            Path t = dir.resolve("t" + trial);
            byte[] bad;
            if (trial % 2 == 0) {
                bad = java.util.Arrays.copyOf(good, r.nextInt(good.length));
            } else {
                bad = good.clone();
                bad[r.nextInt(bad.length)] ^= (byte) (1 + r.nextInt(255));
            }
            Files.write(t, bad);
            CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> MemoryIndex.load(t, 1 << 20),
                    "trial " + trial + (trial % 2 == 0 ? " truncated to " + bad.length : " one byte changed"));
            assertTrue(e.getMessage().contains(t.toString()), e.getMessage());
        }
    }
}
