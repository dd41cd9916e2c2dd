package org.jvdo.core;

import org.jvdo.core.api.BlockStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/** An in-memory {@link BlockStore} for unit tests. */
final class MemBlockStore implements BlockStore {
    final Map<Long, byte[]> blocks = new HashMap<>();
    final String name;

    MemBlockStore(String name) { this.name = name; }

    @Override
    public synchronized void read(long blockNumber, ByteBuffer dst) {
        long b = blockNumber;
        while (dst.hasRemaining()) {
            byte[] d = blocks.get(b++);
            int n = Math.min(BLOCK_SIZE, dst.remaining());
            if (d == null) for (int i = 0; i < n; i++) dst.put((byte) 0);
            else dst.put(d, 0, n);
        }
    }

    @Override
    public synchronized void write(long blockNumber, ByteBuffer src) throws IOException {
        if (src.remaining() % BLOCK_SIZE != 0) throw new IOException("unaligned");
        long b = blockNumber;
        while (src.hasRemaining()) {
            byte[] d = new byte[BLOCK_SIZE];
            src.get(d);
            blocks.put(b++, d);
        }
    }

    @Override public void sync() { }

    @Override public synchronized long sizeInBlocks() { return blocks.keySet().stream().mapToLong(k -> k + 1).max().orElse(0); }

    @Override public String describe() { return name; }

    @Override public void close() { }
}
