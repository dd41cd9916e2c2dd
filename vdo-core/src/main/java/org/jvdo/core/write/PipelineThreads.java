package org.jvdo.core.write;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * The threads the write path hops to: the CPU threads (every stage from the zero check on) and
 * the flusher (packer kicks). Once the pool has shut them down, steps run inline on the caller
 * (the close drains what is left), and the thread check is off.
 */
public final class PipelineThreads {
    private final ExecutorService cpu;
    private final ExecutorService flusher;
    private volatile boolean inline;

    public PipelineThreads(ExecutorService cpu, ExecutorService flusher) {
        this.cpu = cpu;
        this.flusher = flusher;
    }

    /** Runs a pipeline step on the CPU threads (inline once they are shut down). */
    void runOnCpu(Runnable step) {
        try {
            cpu.execute(() -> Trampoline.run(step));
        } catch (RejectedExecutionException e) {
            inline = true;
            Trampoline.run(step);
        }
    }

    /** Runs {@code task} on the flusher thread; dropped when it is shut down (the close writes every bin). */
    void runOnFlusher(Runnable task) {
        try {
            flusher.execute(task);
        } catch (RejectedExecutionException e) {
            inline = true;
        }
    }

    /**
     * True on the pool's own threads: names start with {@code jvdo-} (CPU, I/O, flusher, and the
     * compression engines' workers), or anywhere once the pool's threads are shut down.
     */
    boolean onPipelineThread() {
        return inline || Thread.currentThread().getName().startsWith("jvdo-");
    }
}
