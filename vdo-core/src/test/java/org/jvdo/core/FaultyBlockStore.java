package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.physical.FileBlockStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;

/**
 * Test double of the file layer only: wraps the real {@link FileBlockStore} and fails chosen
 * reads or writes with an I/O error, or tears a write (writes part of it, then fails). The engine
 * above it is the real one.
 */
final class FaultyBlockStore implements BlockStore {
    private final BlockStore inner;
    volatile LongPredicate failWrite = b -> false;
    volatile LongPredicate failRead = b -> false;
    /** When set, a failing write first writes this many bytes of its data (a torn write). */
    volatile int tearBytes = -1;
    final AtomicLong writeFaults = new AtomicLong();
    final AtomicLong readFaults = new AtomicLong();

    FaultyBlockStore(BlockStore inner) { this.inner = inner; }

    @Override
    public void read(long blockNumber, ByteBuffer dst) throws IOException {
        for (long b = blockNumber; b < blockNumber + Math.max(1, dst.remaining() / BLOCK_SIZE); b++) {
            if (failRead.test(b)) {
                readFaults.incrementAndGet();
                throw new IOException("injected read error at block " + b);
            }
        }
        inner.read(blockNumber, dst);
    }

    @Override
    public void write(long blockNumber, ByteBuffer src) throws IOException {
        int blocks = src.remaining() / BLOCK_SIZE;
        for (int i = 0; i < blocks; i++) {
            if (failWrite.test(blockNumber + i)) {
                writeFaults.incrementAndGet();
                if (tearBytes >= 0) {
                    ByteBuffer part = ByteBuffer.allocate(BLOCK_SIZE);
                    ByteBuffer s = src.duplicate();
                    s.limit(s.position() + Math.min(tearBytes, s.remaining()));
                    part.put(s);
                    // keep the rest of the old block: read it, overlay the torn prefix
                    ByteBuffer old = ByteBuffer.allocate(BLOCK_SIZE);
                    inner.read(blockNumber + i, old);
                    old.clear();
                    old.put(part.array(), 0, Math.min(tearBytes, BLOCK_SIZE));
                    old.clear();
                    inner.write(blockNumber + i, old);
                }
                throw new IOException("injected write error at block " + (blockNumber + i));
            }
        }
        inner.write(blockNumber, src);
    }

    @Override
    public void sync() throws IOException { inner.sync(); }

    @Override
    public long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }

    @Override
    public String describe() { return inner.describe(); }

    @Override
    public void close() throws IOException { inner.close(); }
}
