package org.jvdo.nbd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The server-wide budget for request payload memory (WRITE payloads being received and READ
 * data being produced), shared by every connection. A request reserves its bytes before any
 * buffer is allocated and gives them back when it has been answered; a request that does not
 * fit waits in FIFO order (its connection stops reading meanwhile), so the heap the payloads
 * of all connections take is bounded by {@link #capacity()} however many clients announce
 * large writes at once.
 */
final class MemoryBudget {
    private record Waiter(long bytes, Runnable granted) { }

    private final long capacity;
    private long used;
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();

    MemoryBudget(long capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("budget must be positive");
        }
        this.capacity = capacity;
    }

    long capacity() {
        return capacity;
    }

    synchronized long used() {
        return used;
    }

    synchronized int waiting() {
        return waiters.size();
    }

    /**
     * Reserves {@code bytes} (at most {@link #capacity()}) and runs {@code granted} once they
     * are reserved: at once on this thread if they fit and nobody waits, else later on the
     * thread of the {@link #release} that made room.
     */
    void acquire(long bytes, Runnable granted) {
        if (bytes > capacity) {
            throw new IllegalArgumentException(bytes + " bytes exceed the budget of " + capacity);
        }
        synchronized (this) {
            if (!waiters.isEmpty() || used + bytes > capacity) {
                waiters.add(new Waiter(bytes, granted));
                return;
            }
            used += bytes;
        }
        granted.run();
    }

    /** Gives back bytes reserved by {@link #acquire}; wakes the waiters that now fit. */
    void release(long bytes) {
        if (bytes == 0) {
            return;
        }
        List<Runnable> wake = new ArrayList<>();
        synchronized (this) {
            used -= bytes;
            if (used < 0) {
                used = 0;
                throw new IllegalStateException("budget released more than reserved");
            }
            while (!waiters.isEmpty() && used + waiters.peek().bytes() <= capacity) {
                Waiter w = waiters.poll();
                used += w.bytes();
                wake.add(w.granted());
            }
        }
        for (Runnable r : wake) {
            r.run();
        }
    }
}
