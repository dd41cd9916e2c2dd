package org.jvdo.core.index;

import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The sparse index against a simulated engine: an "image" of unique blocks written to volume 1,
 * then a copy with 2% of its blocks changed in place and a few changed runs written to volume
 * 2. Each advice is checked as the engine would (equal to the content's true mapping, or not).
 */
class SparseIndexTest {
    /** Fingerprint halves of content {@code c}. */
    static long hi(long c) { return DenseIndexTest.fp(11, c); }

    static long lo(long c) { return DenseIndexTest.fp(12, c); }

    /*
     * Contents are numbers; a block "written" gets a new PBN unless the advice names a PBN
     * holding the same content (what the engine's byte comparison decides).
     */
    /** The simulated pool: block maps of two volumes, content per PBN, and the engine's dedupe step. */
    static final class Sim {
        final long[][] map = new long[3][];
        final long[] contentOfPbn;
        long nextPbn = 1000;
        long written, found, wrong;
        final SparseIndex idx;

        Sim(int blocks, long maxSlots) {
            map[1] = new long[blocks];
            map[2] = new long[blocks];
            contentOfPbn = new long[4 * blocks + 2000];
            idx = new SparseIndex(1024, maxSlots, (vol, lbn) -> vol >= 1 && vol <= 2 && lbn >= 0 && lbn < blocks && map[vol][(int) lbn] != 0 ? map[vol][(int) lbn] : -1);
        }

        /** Writes content {@code c} to {@code lbn} of {@code vol}: advice, verification, store or share, index update. */
        void write(int vol, int lbn, long c) {
            written++;
            long advice = idx.lookup(hi(c), lo(c), vol, lbn);
            long m;
            if (advice >= 0 && contentOfPbn[(int) Mapping.pbn(advice)] == c) {
                m = advice;
                found++;
            } else {
                if (advice >= 0) wrong++;
                long pbn = nextPbn++;
                contentOfPbn[(int) pbn] = c;
                m = Mapping.raw(pbn);
            }
            map[vol][lbn] = m;
            idx.update(hi(c), lo(c), m, vol, lbn);
        }
    }

    /** LBNs 0..n-1 in the order a pipeline might process them: shuffled within windows of 32. */
    static int[] order(int n, SplittableRandom r) {
        int[] o = new int[n];
        for (int i = 0; i < n; i++) o[i] = i;
        for (int base = 0; base < n; base += 32) {
            int end = Math.min(n, base + 32);
            for (int i = end - 1; i > base; i--) { int j = base + r.nextInt(i - base + 1); int t = o[i]; o[i] = o[j]; o[j] = t; }
        }
        return o;
    }

    @Test
    @Timeout(120)
    void findsTheDuplicatesOfACopyWithChangesUnderOneBytePerBlock() {
        int n = 1 << 18;
        Sim sim = new Sim(n, 64 << 20);
        SplittableRandom r = new SplittableRandom(5);
        double worst = 0;
        long worstAt = 0;
        // the image: unique blocks, but 5% repeat an earlier block (their hooks point elsewhere)
        long[] image = new long[n];
        for (int l = 0; l < n; l++) image[l] = l > 0 && r.nextInt(100) < 5 ? image[r.nextInt(l)] : l + 1;
        for (int lbn : order(n, r)) {
            sim.write(1, lbn, image[lbn]);
            if (sim.written >= 65536 && (sim.written & 1023) == 0) {
                double b = (double) sim.idx.memoryBytes() / sim.written;
                if (b > worst) { worst = b; worstAt = sim.written; }
            }
        }
        // the copy: 2% changed in place, and three changed runs of 300 blocks
        long[] copy = new long[n];
        long fresh = 10L * n;
        long present = 0;
        for (int l = 0; l < n; l++) copy[l] = r.nextInt(100) < 2 ? fresh++ : image[l];
        for (int run = 0; run < 3; run++) {
            int s = r.nextInt(n - 300);
            for (int l = s; l < s + 300; l++) copy[l] = fresh++;
        }
        for (int l = 0; l < n; l++) if (copy[l] <= n) present++;   // the image's contents are 1..n
        long found0 = sim.found;
        for (int lbn : order(n, r)) {
            sim.write(2, lbn, copy[lbn]);
            if ((sim.written & 1023) == 0) {
                double b = (double) sim.idx.memoryBytes() / sim.written;
                if (b > worst) { worst = b; worstAt = sim.written; }
            }
        }
        double foundFraction = (double) (sim.found - found0) / present;
        assertTrue(foundFraction >= 0.95, "found " + (sim.found - found0) + " of " + present + " duplicates (" + foundFraction + ")");
        assertTrue(worst <= 1.0, worst + " bytes per block written at " + worstAt + " blocks");
        // wrong proposals (each one extra read) stay near the changed blocks' count
        assertTrue(sim.wrong < 3 * (n - present) + 1000, sim.wrong + " wrong proposals for " + (n - present) + " changed blocks");
        System.out.printf("sparse simulation: found %.4f, %.3f bytes per block written (worst), %d hooks, %d wrong proposals%n",
                foundFraction, worst, sim.idx.entries(), sim.wrong);
    }

    @Test
    void onlyHooksAreIndexedAndAHookHitFollowsTheOldVolume() {
        Sim sim = new Sim(4096, 1 << 20);
        for (int l = 0; l < 4096; l++) sim.write(1, l, l + 1);
        long hooks = 0;
        for (int c = 1; c <= 4096; c++) if (SparseIndex.isHook(lo(c))) hooks++;
        assertEquals(hooks, sim.idx.entries());
        assertTrue(hooks > 20 && hooks < 120, hooks + " hooks in 4096");
        // a non-hook block with no cursor: no advice
        int nonHook = 1;
        while (SparseIndex.isHook(lo(nonHook))) nonHook++;
        assertEquals(-1, sim.idx.lookup(hi(nonHook), lo(nonHook), 2, 3000));
        // after the first hook of a copy at another offset (volume 2 LBN = volume 1 LBN + 10), the next blocks are proposed
        int hook = 100;
        while (!SparseIndex.isHook(lo(hook + 1))) hook++;
        assertEquals(sim.map[1][hook], sim.idx.lookup(hi(hook + 1), lo(hook + 1), 2, hook + 10));
        for (int k = 1; k < 50; k++) assertEquals(sim.map[1][hook + k], sim.idx.lookup(hi(hook + k + 1), lo(hook + k + 1), 2, hook + 10 + k), "k " + k);
        // the copy's block at +50 is written: the proposal was right, the cursor is confirmed
        assertEquals(sim.found + 1, foundAfter(sim, 2, hook + 10 + 50, hook + 50 + 1));
        // a confirmed cursor that keeps being wrong only probes (one LBN in 16), until a probe is right again
        int l = hook + 100;
        for (int misses = 0; misses < SparseIndex.MISS_LIMIT; l++) {
            long c = 1_000_000 + l;
            if (SparseIndex.isHook(lo(c))) continue;
            sim.write(2, l, c);
            misses++;
        }
        int probe = 5_000_000;
        while (SparseIndex.isHook(lo(probe))) probe++;
        int off = l % SparseIndex.PROBE_EVERY == 0 ? l + 1 : l;
        assertEquals(-1, sim.idx.lookup(hi(probe), lo(probe), 2, off), "only probing after " + SparseIndex.MISS_LIMIT + " misses");
        int at = (l / SparseIndex.PROBE_EVERY + 1) * SparseIndex.PROBE_EVERY;
        assertEquals(sim.map[1][at - 10], sim.idx.lookup(hi(probe), lo(probe), 2, at), "a probe");
        sim.write(2, at, at - 10 + 1);     // the copy resumes: the probe was right
        assertEquals(sim.map[1][at + 1 - 10], sim.idx.lookup(hi(probe), lo(probe), 2, at + 1), "following again");
        // beyond the window from its anchor a cursor proposes nothing
        assertEquals(-1, sim.idx.lookup(hi(probe), lo(probe), 2, at + SparseIndex.WINDOW + 1 < 4096 ? at + SparseIndex.WINDOW + 1 : 4095 + SparseIndex.WINDOW));
    }

    static long foundAfter(Sim sim, int vol, int lbn, long c) {
        sim.write(vol, lbn, c);
        return sim.found;
    }

    @Test
    void aCursorNeverConfirmedIsDroppedAfterAFewMisses() {
        Sim sim = new Sim(4096, 1 << 20);
        for (int l = 0; l < 4096; l++) sim.write(1, l, l + 1);
        int hook = 100;
        while (!SparseIndex.isHook(lo(hook + 1))) hook++;
        // a hook of volume 1's block written again to volume 2 at LBN 3000: a cursor (offset hook - 3000)
        sim.write(2, 3000, hook + 1);
        int probe = 5_000_000;
        while (SparseIndex.isHook(lo(probe))) probe++;
        assertEquals(sim.map[1][hook + 1], sim.idx.lookup(hi(probe), lo(probe), 2, 3001), "the new cursor proposes");
        // but what follows is other data: wrong proposals; after 4 the cursor is gone
        int written = 0;
        for (int l = 3001; written < SparseIndex.UNCONFIRMED_MISS_LIMIT; l++) {
            long c = 2_000_000 + l;
            if (SparseIndex.isHook(lo(c))) continue;
            sim.write(2, l, c);
            written++;
        }
        assertEquals(SparseIndex.UNCONFIRMED_MISS_LIMIT, sim.wrong);
        for (int l = 3100; l < 3140; l++) assertEquals(-1, sim.idx.lookup(hi(probe), lo(probe), 2, l), "lbn " + l);
    }

    @Test
    void boundedAtTheMaximum() {
        Sim sim = new Sim(1 << 17, 1 << 16);   // at most 1024 hooks
        for (int l = 0; l < 1 << 17; l++) sim.write(1, l, l + 1);
        assertTrue(sim.idx.capacity() <= 1024, "capacity " + sim.idx.capacity());
        int hits = 0;
        for (int c = 1; c <= 1 << 17; c++) {
            if (!SparseIndex.isHook(lo(c))) continue;
            long m = sim.idx.lookup(hi(c), lo(c));
            if (m >= 0) { assertEquals(sim.map[1][c - 1], m); hits++; }
        }
        assertTrue(hits > 500, "hits " + hits);
    }
}
