package org.jvdo.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One volume's block map alone, all pages cached (no I/O): {@code update} is what a write's
 * mapping update does to it (get the old entry, then set the new one), {@code lookup} a single
 * read; random LBNs over 1024 pages (about 1.3 GiB of volume). Run it with {@code -t 1} and
 * {@code -t 4}: with one lock for the whole map 4 threads are no faster than 1; with striped
 * locks they scale with the cores. One op = one LBN.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class BlockMapBench {
    static final int PAGES = 1024;
    static final long LBNS = (long) PAGES * BlockMap.ENTRIES_PER_PAGE;

    /** Sparse, in memory: only the region's top bitmap page is ever written here. */
    static final class MemStore implements BlockStore {
        final ConcurrentHashMap<Long, byte[]> blocks = new ConcurrentHashMap<>();

        @Override public void read(long b, ByteBuffer dst) {
            byte[] d = blocks.get(b);
            if (d == null) while (dst.hasRemaining()) dst.put((byte) 0);
            else dst.put(d, 0, Math.min(d.length, dst.remaining()));
        }

        @Override public void write(long b, ByteBuffer src) {
            byte[] d = new byte[BLOCK_SIZE];
            src.get(d);
            blocks.put(b, d);
        }

        @Override public void sync() { }
        @Override public long sizeInBlocks() { return Long.MAX_VALUE / 2; }
        @Override public String describe() { return "mem"; }
        @Override public void close() { }
    }

    private BlockMap map;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        MemStore store = new MemStore();
        BlockMap.formatRegion(store, 0, PAGES);
        map = new BlockMap("bench", store, 0, PAGES, LBNS, 2 * PAGES, seq -> { });
        for (long lbn = 0; lbn < LBNS; lbn += BlockMap.ENTRIES_PER_PAGE) map.get(lbn);   // every page cached
    }

    @Benchmark
    public long update() throws IOException {
        long lbn = ThreadLocalRandom.current().nextLong(LBNS);
        long old = map.get(lbn);
        long s = lbn + 1;                    // the entry's journal sequence; a shared counter would be the bottleneck measured
        map.set(lbn, Mapping.raw(s), (int) s | 1, s);
        return old;
    }

    @Benchmark
    public long lookup() throws IOException {
        return map.get(ThreadLocalRandom.current().nextLong(LBNS));
    }
}
