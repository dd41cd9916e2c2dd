package org.jvdo.bench;

import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.index.DenseIndex;
import org.jvdo.core.index.MemoryIndex;
import org.jvdo.core.logical.Mapping;

/**
 * Lookup and update cost of the old {@link MemoryIndex} against {@link DenseIndex}, in process,
 * one thread: inserts {@code n} random fingerprints (growing from empty), then looks all of them
 * up (hits) and {@code n} others (misses), three rounds each, printing ns per operation and
 * bytes per entry. {@code java -cp benchmarks.jar:lib/* org.jvdo.bench.IndexCost [n (2000000)]}.
 * A rough comparison (no JMH forks), on a shared machine: read the load average with it.
 */
public final class IndexCost {
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2_000_000;
        long maxPbn = (16L << 30) / 4096;
        for (int round = 0; round < 3; round++) {
            measure("MemoryIndex", new MemoryIndex(1024, 64 << 20), n, maxPbn);
            measure("DenseIndex ", new DenseIndex(1024, 64 << 20, maxPbn), n, maxPbn);
        }
    }

    static long fp(long i) {
        long z = (i + 0x9E3779B97F4A7C15L) * 0xBF58476D1CE4E5B9L;
        z ^= z >>> 31;
        z *= 0x94D049BB133111EBL;
        return z ^ (z >>> 29);
    }

    private static void measure(String name, DedupIndex idx, int n, long maxPbn) {
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) idx.update(fp(i), 0, Mapping.raw(i % maxPbn));
        long t1 = System.nanoTime();
        long sink = 0;
        for (int i = 0; i < n; i++) sink += idx.lookup(fp(i), 0);
        long t2 = System.nanoTime();
        for (int i = 0; i < n; i++) sink += idx.lookup(fp(n + (long) i), 0);
        long t3 = System.nanoTime();
        System.out.printf("%s n=%d  update %.0f ns  lookup hit %.0f ns  lookup miss %.0f ns  %.2f B/entry  (%d)%n",
                name, n, (t1 - t0) / (double) n, (t2 - t1) / (double) n, (t3 - t2) / (double) n,
                (double) idx.memoryBytes() / idx.entries(), sink & 1);
    }
}
