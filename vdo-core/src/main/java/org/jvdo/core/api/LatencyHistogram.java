package org.jvdo.core.api;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A lock-free latency histogram for the hot path: recording is one {@code numberOfLeadingZeros}
 * and an atomic add on the bucket plus a {@link LongAdder} add for the sum. Buckets are powers
 * of two of nanoseconds, from 1.024 µs ({@code 2^10}) to about 68.7 s ({@code 2^36}), plus one
 * for everything larger. Counts are kept per bucket (not cumulative); {@link #snapshot()}
 * gives the cumulative form Prometheus wants.
 */
public final class LatencyHistogram {
    /** Exponent of the first bucket's upper bound: {@code 2^10} ns. */
    public static final int FIRST_SHIFT = 10;
    /** Finite buckets; the last slot counts observations above the last bound. */
    public static final int BUCKETS = 27;

    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS + 1);
    private final LongAdder sumNanos = new LongAdder();

    /** Upper bound of finite bucket {@code i}, in nanoseconds (inclusive). */
    public static long boundNanos(int i) { return 1L << (FIRST_SHIFT + i); }

    public static int bucketOf(long nanos) {
        if (nanos <= (1L << FIRST_SHIFT)) return 0;
        // smallest i with nanos <= 2^(FIRST_SHIFT+i)
        int bits = 64 - Long.numberOfLeadingZeros(nanos - 1);
        int i = bits - FIRST_SHIFT;
        return Math.min(i, BUCKETS);
    }

    public void record(long nanos) {
        if (nanos < 0) nanos = 0;
        counts.incrementAndGet(bucketOf(nanos));
        sumNanos.add(nanos);
    }

    /** Records the time since {@code startNanos} (a {@link System#nanoTime()} value). */
    public void since(long startNanos) { record(System.nanoTime() - startNanos); }

    /** A consistent-enough copy: cumulative counts per finite bucket, total count, sum. */
    public Snapshot snapshot() {
        long[] cumulative = new long[BUCKETS];
        long running = 0;
        for (int i = 0; i < BUCKETS; i++) {
            running += counts.get(i);
            cumulative[i] = running;
        }
        long total = running + counts.get(BUCKETS);
        return new Snapshot(cumulative, total, sumNanos.sum());
    }

    /** {@code cumulative[i]} observations were at most {@link #boundNanos(int) boundNanos(i)}. */
    public record Snapshot(long[] cumulative, long count, long sumNanos) {
        /** The upper bound of the bucket holding quantile {@code q} (0..1), in ns; 0 when nothing was recorded. */
        public long quantileNanos(double q) {
            if (count == 0) return 0;
            long want = Math.max(1, (long) Math.ceil(q * count));
            for (int b = 0; b < cumulative.length; b++) if (cumulative[b] >= want) return boundNanos(b);
            return boundNanos(cumulative.length - 1);
        }
    }
}
