package org.jvdo.core.write;

import java.util.ArrayDeque;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Level;

/**
 * The fixed pool of {@link DataVio}s: the engine's back-pressure. A request that finds the pool
 * empty waits in line (its callback runs when a vio is returned) instead of allocating more.
 *
 * <p>Admission is strictly first come, first served: every grant, whether at once or when a vio
 * comes back, goes through one queue that a single thread at a time drains. Handing vios to
 * waiters directly from each releasing thread would let a later request join its LBN's queue
 * before an earlier one and so reorder two writes of the same block.
 */
final class VioPool {
    private final ArrayDeque<DataVio> free = new ArrayDeque<>();
    private final ArrayDeque<Consumer<DataVio>> waiters = new ArrayDeque<>();
    private final ArrayDeque<Object[]> grants = new ArrayDeque<>();
    private boolean draining;
    private final int size;
    /** Every vio of the pool, for dumps of those in flight. */
    private final java.util.List<DataVio> all;

    VioPool(int size, Supplier<DataVio> factory) {
        this.size = size;
        java.util.List<DataVio> l = new java.util.ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            DataVio v = factory.get();
            v.home = this;
            l.add(v);
        }
        free.addAll(l);
        all = java.util.List.copyOf(l);
    }

    /** Every vio of the pool (in use or not). */
    java.util.List<DataVio> all() { return all; }

    /** Runs {@code user} with a vio now, or later on the thread that returns one; in arrival order. */
    void acquire(Consumer<DataVio> user) {
        synchronized (this) {
            DataVio v = free.pollFirst();
            if (v == null) { waiters.addLast(user); return; }
            grants.addLast(new Object[]{user, v});
        }
        drain();
    }

    void release(DataVio v) {
        v.reset();
        synchronized (this) {
            Consumer<DataVio> next = waiters.pollFirst();
            if (next == null) { free.addFirst(v); return; }
            grants.addLast(new Object[]{next, v});
        }
        drain();
    }

    @SuppressWarnings("unchecked")
    private void drain() {
        while (true) {
            Object[] g;
            synchronized (this) {
                if (draining) return;          // the draining thread will run it, in order
                g = grants.pollFirst();
                if (g == null) return;
                draining = true;
            }
            try {
                ((Consumer<DataVio>) g[0]).accept((DataVio) g[1]);
            } catch (Throwable t) {
                java.util.logging.Logger.getLogger("org.jvdo.core").log(Level.SEVERE, "request admission failed", t);
            } finally {
                synchronized (this) { draining = false; }
            }
        }
    }

    synchronized int inUse() { return size - free.size(); }

    synchronized int waiting() { return waiters.size(); }

    int size() { return size; }
}
