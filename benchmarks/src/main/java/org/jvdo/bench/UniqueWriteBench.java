package org.jvdo.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import org.jvdo.testsupport.Blocks;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Write throughput of unique (never deduplicated) data through the whole engine: hash, index
 * lookup, LZ4, packer, slab allocation, journal. One operation is one 4 KiB block; each call
 * writes 128 KiB (32 blocks) and keeps {@code depth} calls in flight. Writes go sequentially
 * through a 1 GiB volume and wrap (overwrites free the old blocks). MB/s = ops/s * 4096 / 1e6.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class UniqueWriteBench {
    static final int BLOCKS_PER_CALL = 32;
    static final int CALL_BYTES = BLOCKS_PER_CALL * Blocks.BS;
    static final long VOLUME_BYTES = 1L << 30;

    @Param({"RAW2050", "PACKED1800"})
    public Blocks.Shape shape;

    @Param({"64"})
    public int depth;

    private PoolFixture fx;
    private ByteBuffer[] bufs;
    private InFlight inflight;
    private long offset;
    private long counter;
    private long nonce;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        fx = new PoolFixture(VOLUME_BYTES, 8L << 30);
        SplittableRandom rnd = new SplittableRandom(42);
        nonce = System.nanoTime();
        bufs = new ByteBuffer[depth];
        inflight = new InFlight(depth);
        for (int i = 0; i < depth; i++) {
            bufs[i] = ByteBuffer.allocate(CALL_BYTES);
            Blocks.fill(bufs[i], BLOCKS_PER_CALL, shape, rnd);
        }
        System.out.printf("%n%s: average LZ4 size %.0f bytes per 4 KiB block, depth %d x 128 KiB%n",
                shape, averageLz4Size(bufs[0], BLOCKS_PER_CALL), depth);
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS_PER_CALL)
    public void write() {
        int s = inflight.next();
        ByteBuffer b = bufs[s];
        for (int i = 0; i < BLOCKS_PER_CALL; i++) Blocks.stamp(b, i, nonce, counter++);
        b.clear();
        inflight.started(s, fx.volume.write(offset, b, false));
        offset += CALL_BYTES;
        if (offset >= VOLUME_BYTES) offset = 0;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        inflight.awaitAll();
        fx.pool.quiesce();
        System.out.println("\n" + shape + " " + fx.summary());
        fx.close();
    }

    /** Average LZ4 (fast compressor) size of the first {@code n} blocks of {@code buf}, to print what the data really is. */
    static double averageLz4Size(ByteBuffer buf, int n) {
        LZ4Compressor c = LZ4Factory.fastestInstance().fastCompressor();
        byte[] src = new byte[Blocks.BS];
        byte[] dst = new byte[c.maxCompressedLength(Blocks.BS)];
        long total = 0;
        for (int i = 0; i < n; i++) {
            buf.get(i * Blocks.BS, src);
            total += c.compress(src, 0, Blocks.BS, dst, 0, dst.length);
        }
        return (double) total / n;
    }
}
