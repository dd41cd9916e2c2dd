package org.jvdo.bench;

import java.util.concurrent.CompletableFuture;

/**
 * {@code depth} I/O calls kept in flight, one per slot, round robin: before a slot is reused its
 * previous call (the oldest in flight) must have completed. The calls go sequentially through
 * the byte range {@code [start, end)} of the volume and wrap back to {@code start}.
 */
final class InFlight {
    private final CompletableFuture<?>[] calls;
    private final long start;
    private final long end;
    private int slot;
    private long offset;

    InFlight(int depth, long start, long end) {
        this.calls = new CompletableFuture<?>[depth];
        this.start = start;
        this.end = end;
        this.offset = start;
    }

    /** The next slot, once the call it held (if any) has completed. */
    int next() {
        int s = slot;
        slot = s + 1 == calls.length ? 0 : s + 1;
        CompletableFuture<?> prev = calls[s];
        if (prev != null) PoolFixture.await(prev);
        return s;
    }

    /** The offset for the next call of {@code bytes} bytes (the range wraps once it is passed). */
    long claim(int bytes) {
        long at = offset;
        offset += bytes;
        if (offset >= end) offset = start;
        return at;
    }

    /** Records {@code call} as the one in flight in slot {@code s}. */
    void started(int s, CompletableFuture<?> call) {
        calls[s] = call;
    }

    /** Waits for every call still in flight. */
    void awaitAll() {
        PoolFixture.awaitAll(calls);
    }
}
