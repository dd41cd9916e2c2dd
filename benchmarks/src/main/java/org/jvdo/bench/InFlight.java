package org.jvdo.bench;

import java.util.concurrent.CompletableFuture;

/**
 * {@code depth} I/O calls kept in flight, one per slot, round robin: before a slot is reused its
 * previous call (the oldest in flight) must have completed.
 */
final class InFlight {
    private final CompletableFuture<?>[] calls;
    private int slot;

    InFlight(int depth) {
        calls = new CompletableFuture<?>[depth];
    }

    /** The next slot, once the call it held (if any) has completed. */
    int next() {
        int s = slot;
        slot = s + 1 == calls.length ? 0 : s + 1;
        CompletableFuture<?> prev = calls[s];
        if (prev != null) PoolFixture.await(prev);
        return s;
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
