package org.jvdo.core.compress;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The worker side of the queue-fed engines ({@link Lz4Engine}, the QAT engine): one bounded
 * queue of tasks, daemon worker threads that take from it until {@link #close}, the count of
 * requests {@linkplain CompressionEngine#queued() queued}, and task callbacks that can never kill
 * a worker (what a callback throws is logged).
 *
 * <p>A request counts as queued from {@link #put}/{@link #offer} until the engine calls
 * {@link #dequeued} for it, where its own definition of "no longer queued" says.
 */
public final class CompressionWorkers {
    private static final CompressionTask POISON = new CompressionTask() {
        public byte[] source() { return null; }
        public byte[] target() { return null; }
        public void compressed(int size, int encoding) { }
        public void failed(Throwable error) { }
    };

    private final ArrayBlockingQueue<CompressionTask> queue;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final Logger log;
    private volatile boolean closed;

    /** A queue of {@code capacity} tasks; callback failures go to {@code log}. */
    public CompressionWorkers(int capacity, Logger log) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.log = log;
    }

    /** Starts a daemon worker thread called {@code name} running {@code body}, which should end in {@link #serve}. */
    public synchronized void start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    /** On a worker thread: hands each task taken to {@code handler} until {@link #close} (or an interrupt). */
    public void serve(Consumer<CompressionTask> handler) {
        while (true) {
            CompressionTask t;
            try {
                t = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (t == POISON) return;
            handler.accept(t);
        }
    }

    /** True once {@link #close} has begun. */
    public boolean isClosed() { return closed; }

    /** Queues {@code task}, waiting for room; interrupted, the task fails with the interrupt. */
    public void put(CompressionTask task) {
        queued.incrementAndGet();
        try {
            queue.put(task);
        } catch (InterruptedException e) {
            queued.decrementAndGet();
            Thread.currentThread().interrupt();
            task.failed(e);
        }
    }

    /** Queues {@code task} if there is room; false (and not counted) if the queue is full. */
    public boolean offer(CompressionTask task) {
        queued.incrementAndGet();
        if (queue.offer(task)) return true;
        queued.decrementAndGet();
        return false;
    }

    /** A task taken by a worker no longer counts as queued. */
    public void dequeued() { queued.decrementAndGet(); }

    /** Requests queued (see the class comment). */
    public int queued() { return queued.get(); }

    /** Worker threads still running. */
    public synchronized int alive() {
        int n = 0;
        for (Thread t : threads) if (t.isAlive()) n++;
        return n;
    }

    /** Answers {@code t} with its result; a callback that throws is logged. */
    public void complete(CompressionTask t, int size, int encoding) {
        try {
            t.compressed(size, encoding);
        } catch (Throwable e) {
            // a callback must never kill the worker: every later request would hang
            log.log(Level.SEVERE, "compression callback failed", e);
        }
    }

    /** Fails {@code t} with {@code error}; a callback that throws is logged. */
    public void fail(CompressionTask t, Throwable error) {
        try {
            t.failed(error);
        } catch (Throwable e2) {
            log.log(Level.SEVERE, "compression callback failed", e2);
        }
    }

    /**
     * Stops the workers once they have answered what is queued: one stop marker per worker (waiting
     * up to 5 s for room each), then up to 5 s for each worker to end.
     */
    public void close() {
        closed = true;
        List<Thread> all;
        synchronized (this) {
            all = new ArrayList<>(threads);
        }
        for (int i = 0; i < all.size(); i++) {
            try {
                if (!queue.offer(POISON, 5, TimeUnit.SECONDS)) break;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Thread w : all) {
            try { w.join(5000); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        }
    }
}
