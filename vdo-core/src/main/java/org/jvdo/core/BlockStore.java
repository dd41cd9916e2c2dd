package org.jvdo.core;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The file layer under a pool: 4 KiB blocks addressed by block number. Everything above it is
 * the real engine; tests put a fault-injecting implementation here.
 */
public interface BlockStore extends AutoCloseable {
    int BLOCK_SIZE = 4096;

    /** Reads {@code dst.remaining()} bytes (a multiple of 4096) from block {@code blockNumber} on. Blocks past the end read as zeros. */
    void read(long blockNumber, ByteBuffer dst) throws IOException;

    /** Writes {@code src} (a multiple of 4096 bytes) starting at block {@code blockNumber}. */
    void write(long blockNumber, ByteBuffer src) throws IOException;

    /** Makes every completed write durable. */
    void sync() throws IOException;

    /** Current size in blocks. */
    long sizeInBlocks() throws IOException;

    /** A name for error messages (the file path). */
    String describe();

    @Override
    void close() throws IOException;
}
