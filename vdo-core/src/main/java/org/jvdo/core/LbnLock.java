package org.jvdo.core;

import java.util.ArrayDeque;

/**
 * The logical lock of one LBN (dm-vdo's per-LBN lock): the queue of writes to it in arrival
 * order (the head is the one in progress; the tail holds the newest data, which reads return),
 * and the reads of stored data in progress, which a write must not overtake when it changes the
 * mapping. Guarded by the owning map's per-key compute.
 */
final class LbnLock {
    final ArrayDeque<DataVio> writes = new ArrayDeque<>(2);
    int readers;
    DataVio finishWaiter;
    /** Reads waiting for the newest write's data to be complete (a partial write reading its base). */
    private java.util.concurrent.CompletableFuture<Void> readyWaiters;

    /** For a read that found the newest write incomplete: completes when any write here becomes ready or leaves. */
    java.util.concurrent.CompletableFuture<Void> readerWaiting() {
        if (readyWaiters == null) readyWaiters = new java.util.concurrent.CompletableFuture<>();
        return readyWaiters;
    }

    /** Wakes the waiting reads (they look again). */
    void wakeReaders() {
        if (readyWaiters != null) { readyWaiters.complete(null); readyWaiters = null; }
    }

    boolean idle() { return writes.isEmpty() && readers == 0 && finishWaiter == null; }
}
