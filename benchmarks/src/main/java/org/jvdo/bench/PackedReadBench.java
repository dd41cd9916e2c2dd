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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Read throughput of packed (compressed, two fragments per block) data: setup writes 256 MiB of
 * PACKED1800 blocks and flushes (the pool file is then in the page cache); the benchmarks read it
 * sequentially, wrapping, in 128 KiB or 1 MiB calls with {@code depth} calls in flight. One
 * operation is one 4 KiB block: MB/s = ops/s * 4096 / 1e6.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PackedReadBench {
    static final long DATA_BYTES = 256L << 20;

    @Param({"64"})
    public int depth;

    private PoolFixture fx;
    private ByteBuffer[] small;
    private ByteBuffer[] large;
    private InFlight inflight;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        fx = new PoolFixture(1L << 30, 4L << 30);
        int chunk = 16 << 20;
        ByteBuffer buf = ByteBuffer.allocate(chunk);
        Blocks.fill(buf, chunk / Blocks.BS, Blocks.Shape.PACKED1800, new SplittableRandom(11));
        long counter = 0;
        for (long off = 0; off < DATA_BYTES; off += chunk) {
            for (int i = 0; i < chunk / Blocks.BS; i++) Blocks.stamp(buf, i, 11, counter++);
            buf.clear();
            PoolFixture.await(fx.volume.write(off, buf, false));
        }
        fx.pool.quiesce();
        // one sanity check of the data path (not timed): the last chunk reads back as written
        ByteBuffer back = ByteBuffer.allocate(chunk);
        PoolFixture.await(fx.volume.read(DATA_BYTES - chunk, back));
        if (!back.flip().equals(buf.clear())) throw new IllegalStateException("read-back mismatch: benchmark data is wrong");
        System.out.println("\npacked data stored: " + fx.summary());
        small = new ByteBuffer[depth];
        large = new ByteBuffer[depth];
        inflight = new InFlight(depth, 0, DATA_BYTES);
    }

    private void read(ByteBuffer[] bufs, int size) {
        int s = inflight.next();
        ByteBuffer b = bufs[s];
        if (b == null) b = bufs[s] = ByteBuffer.allocate(size);
        b.clear();
        inflight.started(s, fx.volume.read(inflight.claim(size), b));
    }

    @Benchmark
    @OperationsPerInvocation(32)
    public void read128k() { read(small, 128 << 10); }

    @Benchmark
    @OperationsPerInvocation(256)
    public void read1m() { read(large, 1 << 20); }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        inflight.awaitAll();
        fx.close();
    }
}
