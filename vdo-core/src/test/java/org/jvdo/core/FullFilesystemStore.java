package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.physical.FileBlockStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Test double of the file layer only: wraps the real {@link FileBlockStore} and behaves like a
 * filesystem that can fill up. It remembers which blocks have space (written or reserved while
 * there was room); while {@link #full} is set, a write that needs a block without space, a
 * reservation of one, or an extension fails with {@code IOException("No space left on device")}
 * as the JDK reports ENOSPC, while overwrites of blocks that have space still succeed, as on a
 * real non-copy-on-write filesystem. {@link #failSyncs} makes syncs fail with ENOSPC as well.
 */
final class FullFilesystemStore implements BlockStore {
    private final BlockStore inner;
    /** Blocks that have space in the file; shared by the stores of one pool across reopens. */
    private final BitSet hasSpace;
    volatile boolean full;
    volatile boolean failSyncs;
    /** False: {@link #reserve} reserves nothing (a filesystem without fallocate). */
    volatile boolean reserveWorks = true;
    final AtomicLong faults = new AtomicLong();

    FullFilesystemStore(BlockStore inner, BitSet hasSpace) {
        this.inner = inner;
        this.hasSpace = hasSpace;
    }

    private IOException noSpace(String what) {
        faults.incrementAndGet();
        return new IOException("No space left on device (injected: " + what + ")");
    }

    /** Takes space for the blocks or fails, all or nothing. */
    private void take(long first, long n, String what) throws IOException {
        int from = (int) first, to = (int) (first + n);
        synchronized (hasSpace) {
            if (full && hasSpace.nextClearBit(from) < to) throw noSpace(what + " of blocks " + from + ".." + (to - 1));
            hasSpace.set(from, to);
        }
    }

    @Override
    public void read(long blockNumber, ByteBuffer dst) throws IOException { inner.read(blockNumber, dst); }

    @Override
    public void write(long blockNumber, ByteBuffer src) throws IOException {
        take(blockNumber, Math.max(1, src.remaining() / BLOCK_SIZE), "write");
        inner.write(blockNumber, src);
    }

    @Override
    public boolean reserve(long firstBlock, long blocks) throws IOException {
        if (!reserveWorks) return false;
        take(firstBlock, blocks, "reserve");
        return inner.reserve(firstBlock, blocks);
    }

    @Override
    public void sync() throws IOException {
        if (failSyncs) throw noSpace("sync");
        inner.sync();
    }

    @Override
    public long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }

    @Override
    public String describe() { return inner.describe(); }

    @Override
    public void close() throws IOException { inner.close(); }
}
