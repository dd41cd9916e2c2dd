package org.jvdo.core.compress;

/**
 * An asynchronous block compressor, chosen per volume like zram's {@code comp_algorithm}.
 *
 * <p>{@link #submit} returns at once; the engine later calls exactly one of the task's
 * {@link CompressionTask#compressed} or {@link CompressionTask#failed}, on a thread of its own.
 * The task's buffers belong to the engine until then. Implementations: {@link Lz4Engine},
 * {@link NoCompressionEngine}; the QAT engine (qat-bridge) implements the same interface and is
 * found through {@link CompressionEngineProvider}.
 */
public interface CompressionEngine extends AutoCloseable {
    /** The name used in configuration and statistics ("lz4", "qat", "none"). */
    String name();

    /** Submits one 4 KiB block. */
    void submit(CompressionTask task);

    /** Requests submitted and not yet compressed (waiting or being compressed). */
    int queued();

    /**
     * Counters for statistics, reported by the pool as {@code engine_<name>_<key>}: at least
     * {@code requests}, {@code bytes_in}, {@code bytes_out}, {@code fallbacks} (requests served by
     * a substitute, e.g. software when hardware failed) and {@code errors}, where they apply.
     */
    default java.util.Map<String, Long> stats() { return java.util.Map.of(); }

    @Override
    void close();
}
