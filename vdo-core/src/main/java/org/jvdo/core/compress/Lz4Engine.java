package org.jvdo.core.compress;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * LZ4 (lz4-java's fastest implementation) on a small set of worker threads fed by a bounded
 * queue ({@link CompressionWorkers}); each result goes to the task's callback on the worker
 * thread. The queue is larger than the engine's request pool, so a submitter never waits on it.
 */
public final class Lz4Engine implements CompressionEngine {
    private final LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();
    private final CompressionWorkers workers;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytesIn = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();

    public Lz4Engine(int threads, int queueCapacity) {
        this.workers = new CompressionWorkers(queueCapacity, Logger.getLogger("org.jvdo.core"));
        for (int i = 0; i < threads; i++) workers.start("jvdo-lz4-" + i, () -> workers.serve(this::compress));
    }

    @Override
    public String name() { return "lz4"; }

    @Override
    public void submit(CompressionTask task) {
        if (workers.isClosed()) { task.failed(new IllegalStateException("lz4 engine closed")); return; }
        workers.put(task);
    }

    private void compress(CompressionTask t) {
        int size;
        try {
            byte[] out = t.target();
            size = compressor.compress(t.source(), 0, 4096, out, 0, out.length);
        } catch (RuntimeException e) {
            workers.dequeued();
            errors.incrementAndGet();
            workers.fail(t, e);
            return;
        }
        workers.dequeued();   // counted until compressed, as CompressionEngine.queued() says
        requests.incrementAndGet();
        bytesIn.addAndGet(4096);
        bytesOut.addAndGet(size);
        workers.complete(t, size, FragmentCodec.LZ4_BLOCK);
    }

    @Override
    public int queued() { return workers.queued(); }

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
        workers.close();
    }
}
