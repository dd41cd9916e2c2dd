package org.jvdo.core.compress;

/**
 * An asynchronous block compressor, chosen per volume like zram's {@code comp_algorithm}.
 *
 * <p>{@link #submit} returns at once; the engine later calls exactly one of the task's
 * {@link CompressionTask#compressed} or {@link CompressionTask#failed}, on a thread of its own.
 * The task's buffers belong to the engine until then. Implementations: {@link Lz4Engine},
 * {@link NoCompressionEngine}; the QAT engine (qat-bridge) implements the same interface.
 */
public interface CompressionEngine extends AutoCloseable {
    /** The name used in configuration and statistics ("lz4", "qat", "none"). */
    String name();

    /** Submits one 4 KiB block. */
    void submit(CompressionTask task);

    /** Requests submitted and not yet answered. */
    int queued();

    @Override
    void close();
}
