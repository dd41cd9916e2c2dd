package org.jvdo.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongPredicate;
import java.util.function.UnaryOperator;

/**
 * A sparse in-memory {@link BlockStore} that models power loss: completed writes stay in a
 * volatile cache until {@link #sync}, and {@link #powerLoss} drops whatever was not synced.
 * Chosen writes can be failed. Used through {@link PoolConfig#storeWrapper}: the pool's real
 * file is opened (and closed with this store) but holds nothing, so sizes far beyond the host
 * filesystem fit.
 */
final class PowerLossStore implements BlockStore {
    private final Map<Long, byte[]> durable = new HashMap<>();
    private final Map<Long, byte[]> cache = new HashMap<>();
    private final String name;
    private BlockStore file;
    volatile LongPredicate failWrite = b -> false;
    long syncs;

    PowerLossStore(String name) { this.name = name; }

    /** For {@code cfg.storeWrapper}: keeps the pool's file only to close it. */
    UnaryOperator<BlockStore> wrapper() {
        return f -> { file = f; return this; };
    }

    synchronized void powerLoss() { cache.clear(); }

    synchronized int unsyncedBlocks() { return cache.size(); }

    @Override
    public synchronized void read(long blockNumber, ByteBuffer dst) {
        long b = blockNumber;
        while (dst.hasRemaining()) {
            byte[] d = cache.get(b);
            if (d == null) d = durable.get(b);
            b++;
            int n = Math.min(BLOCK_SIZE, dst.remaining());
            if (d == null) for (int i = 0; i < n; i++) dst.put((byte) 0);
            else dst.put(d, 0, n);
        }
    }

    @Override
    public synchronized void write(long blockNumber, ByteBuffer src) throws IOException {
        if (src.remaining() % BLOCK_SIZE != 0) throw new IOException("unaligned");
        for (long b = blockNumber; b < blockNumber + src.remaining() / BLOCK_SIZE; b++) {
            if (failWrite.test(b)) throw new IOException("injected write error at block " + b);
        }
        long b = blockNumber;
        while (src.hasRemaining()) {
            byte[] d = new byte[BLOCK_SIZE];
            src.get(d);
            cache.put(b++, d);
        }
    }

    @Override
    public synchronized void sync() {
        durable.putAll(cache);
        cache.clear();
        syncs++;
    }

    @Override
    public synchronized long sizeInBlocks() {
        long m = 0;
        for (long k : durable.keySet()) m = Math.max(m, k + 1);
        for (long k : cache.keySet()) m = Math.max(m, k + 1);
        return m;
    }

    @Override
    public String describe() { return name; }

    @Override
    public synchronized void close() throws IOException {
        if (file != null) { file.close(); file = null; }
    }
}
