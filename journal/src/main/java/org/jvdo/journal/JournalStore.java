package org.jvdo.journal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The region the recovery journal lives in: a fixed number of 4 KiB blocks addressed by index.
 *
 * <p>It exists so the journal does not care where its blocks are kept: the pool adapts a slice of
 * its file ({@link FileJournalStore}), tests use in-memory and fault-injecting implementations.
 * Buffers passed in are exactly {@link JournalBlockFormat#BLOCK_SIZE} bytes between position and
 * limit; implementations read/write exactly that many bytes.
 */
public interface JournalStore {

    /** Number of blocks in the region; valid indexes are {@code [0, blockCount())}. */
    int blockCount();

    /** Fills {@code dst} (4096 bytes remaining) with the contents of block {@code index}. */
    void readBlock(long index, ByteBuffer dst) throws IOException;

    /** Writes the 4096 remaining bytes of {@code src} to block {@code index}. */
    void writeBlock(long index, ByteBuffer src) throws IOException;

    /** Makes every completed {@link #writeBlock} durable. */
    void sync() throws IOException;
}
