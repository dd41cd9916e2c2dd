package org.jvdo.core;

import java.util.ArrayDeque;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The fixed pool of {@link DataVio}s: the engine's back-pressure. A request that finds the pool
 * empty waits in line (its callback runs when a vio is returned) instead of allocating more.
 */
final class VioPool {
    private final ArrayDeque<DataVio> free = new ArrayDeque<>();
    private final ArrayDeque<Consumer<DataVio>> waiters = new ArrayDeque<>();
    private final int size;
    private long waits;

    VioPool(int size, Supplier<DataVio> factory) {
        this.size = size;
        for (int i = 0; i < size; i++) free.add(factory.get());
    }

    /** Runs {@code user} with a vio now, or later on the thread that returns one. */
    void acquire(Consumer<DataVio> user) {
        DataVio v;
        synchronized (this) {
            v = free.pollFirst();
            if (v == null) { waiters.addLast(user); waits++; return; }
        }
        user.accept(v);
    }

    void release(DataVio v) {
        v.reset();
        Consumer<DataVio> next;
        synchronized (this) {
            next = waiters.pollFirst();
            if (next == null) { free.addFirst(v); return; }
        }
        Trampoline.run(() -> next.accept(v));
    }

    synchronized int inUse() { return size - free.size(); }

    synchronized int waiting() { return waiters.size(); }

    synchronized long waits() { return waits; }

    int size() { return size; }
}
