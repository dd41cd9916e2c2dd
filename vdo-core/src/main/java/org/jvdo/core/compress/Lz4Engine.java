package org.jvdo.core.compress;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * LZ4 (lz4-java's fastest implementation) on a small set of worker threads fed by a bounded
 * queue; each result goes to the task's callback on the worker thread. The queue is larger than
 * the engine's request pool, so a submitter never waits on it.
 */
public final class Lz4Engine implements CompressionEngine {
    private static final CompressionTask POISON = new CompressionTask() {
        public byte[] source() { return null; }
        public byte[] target() { return null; }
        public void compressed(int size, int encoding) { }
        public void failed(Throwable error) { }
    };

    private final LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();
    private final BlockingQueue<CompressionTask> queue;
    private final Thread[] workers;
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytesIn = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private volatile boolean closed;

    public Lz4Engine(int threads, int queueCapacity) {
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.workers = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            workers[i] = new Thread(this::run, "jvdo-lz4-" + i);
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    @Override
    public String name() { return "lz4"; }

    @Override
    public void submit(CompressionTask task) {
        if (closed) { task.failed(new IllegalStateException("lz4 engine closed")); return; }
        queued.incrementAndGet();
        try {
            queue.put(task);
        } catch (InterruptedException e) {
            queued.decrementAndGet();
            Thread.currentThread().interrupt();
            task.failed(e);
        }
    }

    private void run() {
        while (true) {
            CompressionTask t;
            try {
                t = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (t == POISON) return;
            int size;
            try {
                byte[] out = t.target();
                size = compressor.compress(t.source(), 0, 4096, out, 0, out.length);
            } catch (RuntimeException e) {
                queued.decrementAndGet();
                errors.incrementAndGet();
                deliverFailure(t, e);
                continue;
            }
            queued.decrementAndGet();   // counted until compressed, as CompressionEngine.queued() says
            requests.incrementAndGet();
            bytesIn.addAndGet(4096);
            bytesOut.addAndGet(size);
            try {
                t.compressed(size, FragmentCodec.LZ4_BLOCK);
            } catch (Throwable e) {
                // a callback must never kill the worker: every later request would hang
                java.util.logging.Logger.getLogger("org.jvdo.core").log(java.util.logging.Level.SEVERE, "compression callback failed", e);
            }
        }
    }

    private static void deliverFailure(CompressionTask t, Throwable e) {
        try {
            t.failed(e);
        } catch (Throwable e2) {
            java.util.logging.Logger.getLogger("org.jvdo.core").log(java.util.logging.Level.SEVERE, "compression callback failed", e2);
        }
    }

    @Override
    public int queued() { return queued.get(); }

    public long requests() { return requests.get(); }

    public long bytesIn() { return bytesIn.get(); }

    public long bytesOut() { return bytesOut.get(); }

    @Override
    public java.util.Map<String, Long> stats() {
        return java.util.Map.of("requests", requests.get(), "bytes_in", bytesIn.get(), "bytes_out", bytesOut.get(),
                "fallbacks", 0L, "errors", errors.get());
    }

    @Override
    public void close() {
        closed = true;
        for (int i = 0; i < workers.length; i++) queue.offer(POISON);
        for (Thread w : workers) {
            try { w.join(5000); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        }
    }
}
