package org.jvdo.core.api;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The file layer under a pool: 4 KiB blocks addressed by block number. Everything above it is
 * the real engine; tests put a fault-injecting implementation here.
 */
public interface BlockStore extends AutoCloseable {
    int BLOCK_SIZE = org.jvdo.format.Block.SIZE;

    /**
     * Reads {@code dst.remaining()} bytes (a multiple of 4096) from block {@code blockNumber} on.
     * A pool's file is extended to its layout end whenever the layout grows ({@link #extendTo}),
     * so a read past the end of the store means it was truncated: implementations over files
     * fail it rather than invent zeros.
     */
    void read(long blockNumber, ByteBuffer dst) throws IOException;

    /** Writes {@code src} (a multiple of 4096 bytes) starting at block {@code blockNumber}. */
    void write(long blockNumber, ByteBuffer src) throws IOException;

    /** Makes every completed write durable. */
    void sync() throws IOException;

    /** Current size in blocks. */
    long sizeInBlocks() throws IOException;

    /**
     * Makes the store at least {@code blocks} long (a sparse extension: the new blocks read as
     * zeros); an IOException when it cannot be that large (e.g. the filesystem's file size limit).
     * The default writes one zero block at {@code blocks - 1} when the store is shorter, which
     * works through any wrapper that passes writes on.
     */
    default void extendTo(long blocks) throws IOException {
        if (blocks > 0 && sizeInBlocks() < blocks) write(blocks - 1, ByteBuffer.allocate(BLOCK_SIZE));
    }

    /**
     * Allocates space for blocks {@code [firstBlock, firstBlock + blocks)} for real, so that later
     * writes into them cannot fail for want of space (the pool file is sparse). Data in the range
     * is kept. True when the space is now allocated; false when this store cannot reserve (then
     * nothing is guaranteed). An IOException saying "No space left on device" when the
     * filesystem is full. The default reserves nothing.
     */
    default boolean reserve(long firstBlock, long blocks) throws IOException { return false; }

    /** A name for error messages (the file path). */
    String describe();

    @Override
    void close() throws IOException;
}
