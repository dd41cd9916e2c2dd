package org.jvdo.core.index;

import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Dedup advice: fingerprint → where a block with that fingerprint was last stored. Advice only:
 * the engine reads and compares the candidate before sharing it, so a lost, stale or wrong
 * entry costs a missed dedup, never data. Implementations: {@link MemoryIndex} (embedded); a
 * clustered one can live behind this interface.
 */
public interface DedupIndex extends AutoCloseable {
    /** The mapping ({@link Mapping#raw} or packed) last recorded for the fingerprint, or -1. */
    long lookup(long fpHigh, long fpLow);

    /** Records where a block with this fingerprint now lives. */
    void update(long fpHigh, long fpLow, long mapping);

    long entries();

    /** Heap bytes held by the index structure. */
    long memoryBytes();

    /** Saves the index (clean shutdown). */
    void save(Path file) throws IOException;

    @Override
    default void close() { }
}
