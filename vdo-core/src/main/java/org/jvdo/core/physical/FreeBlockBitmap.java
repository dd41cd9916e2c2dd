package org.jvdo.core.physical;

/**
 * The free blocks of one slab as a bitmap with a summary level, so the allocator finds the next
 * free block without scanning reference counts: bit {@code i} of {@link #words} is set when data
 * block {@code i} is free (count 0 and not write-locked), and bit {@code j} of {@link #summary}
 * is set when word {@code j} has any bit set. A search looks at the word holding its start, then
 * at the summary (one long covers 4096 blocks: 8 longs for a 32768-block slab) and lands on the
 * first set bit with {@link Long#numberOfTrailingZeros}: its cost does not depend on how full the
 * slab is. In memory only (the reference counts are the persistent truth; the bitmap is derived
 * from them at attach, load and rebuild). Not thread-safe: guarded by the {@link SlabDepot}'s monitor.
 */
final class FreeBlockBitmap {
    private final int size;
    private final long[] words;
    private final long[] summary;

    FreeBlockBitmap(int size) {
        this.size = size;
        this.words = new long[(size + 63) >>> 6];
        this.summary = new long[(words.length + 63) >>> 6];
    }

    int size() { return size; }

    boolean get(int i) { return (words[i >>> 6] & (1L << i)) != 0; }

    void set(int i) {
        int w = i >>> 6;
        words[w] |= 1L << i;
        summary[w >>> 6] |= 1L << w;
    }

    void clear(int i) {
        int w = i >>> 6;
        long v = words[w] & ~(1L << i);
        words[w] = v;
        if (v == 0) summary[w >>> 6] &= ~(1L << w);
    }

    /** Clears every bit, then sets bits {@code [0, n)}. */
    void resetTo(int n) {
        java.util.Arrays.fill(words, 0);
        java.util.Arrays.fill(summary, 0);
        int full = n >>> 6;
        java.util.Arrays.fill(words, 0, full, -1L);
        if ((n & 63) != 0) words[full] = (1L << n) - 1;
        for (int w = 0; w < words.length; w++) if (words[w] != 0) summary[w >>> 6] |= 1L << w;
    }

    /** The first set bit at or after {@code from}, or -1. */
    int nextSet(int from) {
        if (from < 0) from = 0;
        if (from >= size) return -1;
        int w = from >>> 6;
        long m = words[w] & (-1L << from);
        if (m != 0) return (w << 6) + Long.numberOfTrailingZeros(m);
        int next = w + 1;
        if (next >= words.length) return -1;
        int sw = next >>> 6;
        long sm = summary[sw] & (-1L << next);
        while (true) {
            if (sm != 0) {
                int word = (sw << 6) + Long.numberOfTrailingZeros(sm);
                return (word << 6) + Long.numberOfTrailingZeros(words[word]);
            }
            if (++sw >= summary.length) return -1;
            sm = summary[sw];
        }
    }
}
