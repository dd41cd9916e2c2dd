package org.jvdo.core.write;

import java.util.ArrayDeque;
import java.util.TreeMap;

/**
 * Which acknowledged writes a FLUSH must wait for: each write joins the current generation when
 * it is accepted; a flush closes the generation and is ready once every write of it and of the
 * generations before it has reached the block map and the journal.
 */
public final class FlushTracker {
    private final TreeMap<Long, int[]> outstanding = new TreeMap<>();
    private final ArrayDeque<long[]> waitingGens = new ArrayDeque<>();
    private final ArrayDeque<Runnable> waitingActions = new ArrayDeque<>();
    private long generation = 1;
    /** Mirrors {@code !waitingGens.isEmpty()} for the lock-free {@link #flushWaiting} (asked after every write). */
    private volatile boolean flushWaiting;

    synchronized long begin() {
        outstanding.computeIfAbsent(generation, g -> new int[1])[0]++;
        return generation;
    }

    /** A write of generation {@code gen} is done; returns flush actions that became ready. */
    ArrayDeque<Runnable> end(long gen) {
        synchronized (this) {
            int[] c = outstanding.get(gen);
            if (--c[0] == 0) outstanding.remove(gen);
            return readyLocked();
        }
    }

    /** Registers a flush; {@code action} runs (on the caller's or a finishing write's thread) once it is ready. */
    public void flush(Runnable action) {
        ArrayDeque<Runnable> ready;
        synchronized (this) {
            long gen = generation++;
            waitingGens.addLast(new long[]{gen});
            waitingActions.addLast(action);
            flushWaiting = true;
            ready = readyLocked();
        }
        for (Runnable r : ready) r.run();
    }

    private ArrayDeque<Runnable> readyLocked() {
        ArrayDeque<Runnable> ready = new ArrayDeque<>();
        long lowest = outstanding.isEmpty() ? Long.MAX_VALUE : outstanding.firstKey();
        while (!waitingGens.isEmpty() && waitingGens.peekFirst()[0] < lowest) {
            waitingGens.pollFirst();
            ready.add(waitingActions.pollFirst());
        }
        flushWaiting = !waitingGens.isEmpty();
        return ready;
    }

    public boolean flushWaiting() { return flushWaiting; }

    public synchronized int outstandingWrites() {
        int n = 0;
        for (int[] c : outstanding.values()) n += c[0];
        return n;
    }
}
