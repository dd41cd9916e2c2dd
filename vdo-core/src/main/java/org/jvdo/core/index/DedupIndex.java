package org.jvdo.core.index;

import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Dedup advice: fingerprint → where a block with that fingerprint was last stored. Advice only:
 * the engine reads and compares the candidate before sharing it, so a lost, stale or wrong
 * entry costs a missed dedup (or one extra read), never data. Implementations:
 * {@link DenseIndex} (every fingerprint, the default), {@link SparseIndex} (sampled "hook"
 * fingerprints plus following the old block map), {@link MemoryIndex} (the version-1 table,
 * kept for comparison); {@link IndexFactory} builds the configured one. A clustered index can
 * live behind this interface.
 */
public interface DedupIndex extends AutoCloseable {
    /** The mapping ({@link Mapping#raw} or packed) last recorded for the fingerprint, or -1. */
    long lookup(long fpHigh, long fpLow);

    /** Records where a block with this fingerprint now lives. */
    void update(long fpHigh, long fpLow, long mapping);

    /**
     * {@link #lookup(long, long)} for a block being written to {@code lbn} of volume
     * {@code volume} (the id of {@code LogicalVolume}). An index that follows streams (sparse)
     * may propose a mapping from the write's context; the default ignores it.
     */
    default long lookup(long fpHigh, long fpLow, int volume, long lbn) { return lookup(fpHigh, fpLow); }

    /** {@link #update(long, long, long)} for a block now mapped at {@code lbn} of {@code volume}. */
    default void update(long fpHigh, long fpLow, long mapping, int volume, long lbn) { update(fpHigh, fpLow, mapping); }

    // ------------------------------------------------------------ asynchronous form (a network index)

    /**
     * True when lookups answer later, on another thread (a network index such as the clustered
     * one). The write path then calls {@link #lookupAsync} instead of {@link #lookup}, never waits
     * on a CPU thread for the answer, and goes on without dedup when no answer came within
     * {@link #answerTimeoutNanos()} ({@code dedupe_advice_timeouts}). Such an index must not block
     * in {@link #update}: it sends the update and returns.
     */
    default boolean answersLater() { return false; }

    /** How long the write path waits for {@link #lookupAsync}'s answer before writing without dedup. */
    default long answerTimeoutNanos() { return Long.MAX_VALUE; }

    /**
     * Starts a lookup whose answer comes later: {@code answer} is called at most once, on any
     * thread (possibly before this returns); a lookup that fails calls it with -1. The default
     * answers at once from {@link #lookup(long, long, int, long)}.
     */
    default void lookupAsync(long fpHigh, long fpLow, int volume, long lbn, Advice answer) {
        answer.advice(lookup(fpHigh, fpLow, volume, lbn), null);
    }

    /** The answer of {@link #lookupAsync}. */
    @FunctionalInterface
    interface Advice {
        /**
         * @param mapping     the mapping last recorded for the fingerprint, or -1
         * @param foreignPool null when {@code mapping} is in this pool; else the UUID of the pool
         *                    (served by another cluster member) that holds it
         */
        void advice(long mapping, UUID foreignPool);

        /**
         * True once the writer no longer waits: answered, or timed out and written without
         * dedup. An index may skip the work of a lookup whose writer has moved on; an answer
         * given now is dropped.
         */
        default boolean done() { return false; }
    }

    /** Entries held (fingerprints; hooks for the sparse index). */
    long entries();

    /** Heap bytes held by the index structure. */
    long memoryBytes();

    /** "dense" or "sparse" (the version-1 table is "dense"). */
    default String mode() { return IndexFactory.DENSE; }

    /** Saves the index (clean shutdown). */
    void save(Path file) throws IOException;

    @Override
    default void close() { }

    /** A volume's current mapping at an LBN, for an index that follows the old block map (supplied by the pool). */
    @FunctionalInterface
    interface MappingReader {
        /** The mapping of {@code lbn} in volume {@code volume}, or -1 when there is no such volume, LBN or block. */
        long mappingAt(int volume, long lbn);

        MappingReader NONE = (v, l) -> -1;
    }
}
