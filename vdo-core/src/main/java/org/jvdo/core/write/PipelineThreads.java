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

    /**
     * Runs a pipeline step on the CPU threads (inline once they are shut down). On a CPU or LZ4
     * thread that is already running a continuation, the step runs on this thread right after
     * it ({@link Trampoline}) instead: a vio released there hands its place to the next request,
     * and that request's block need not wake another thread to start (1M writes: the LZ4
     * threads release most vios). Only those two kinds of thread: nothing a step does can block
     * them (the CPU pool's queue is unbounded, the LZ4 queue holds twice the vio pool), while a
     * QAT worker's queue has a configurable size and a worker blocked on its own full queue
     * would wait forever.
     */
    void runOnCpu(Runnable step) {
        if (Trampoline.active() && mayRunInline(Thread.currentThread().getName())) {
            Trampoline.run(step);
            return;
        }
        try {
            cpu.execute(() -> Trampoline.run(step));
        } catch (RejectedExecutionException e) {
            inline = true;
            Trampoline.run(step);
        }
    }

    static boolean mayRunInline(String threadName) {
        return threadName.startsWith("jvdo-cpu-") || threadName.startsWith("jvdo-lz4-");
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
