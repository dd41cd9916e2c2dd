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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The write benchmarks' common part: a pool with one 1 GiB volume, written sequentially from
 * {@link #firstOffset} to its end and wrapping, 128 KiB (32 blocks) per call with {@code depth}
 * calls in flight. One operation is one 4 KiB block: MB/s = ops/s * 4096 / 1e6. A subclass
 * prepares its data and says what each call writes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public abstract class SequentialWriteBench {
    static final int BLOCKS_PER_CALL = 32;
    static final int CALL_BYTES = BLOCKS_PER_CALL * org.jvdo.testsupport.Blocks.BS;
    static final long VOLUME_BYTES = 1L << 30;

    @Param({"64"})
    public int depth;

    PoolFixture fx;
    private InFlight inflight;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        fx = new PoolFixture(VOLUME_BYTES, 8L << 30);
        prepare();
        inflight = new InFlight(depth, firstOffset(), VOLUME_BYTES);
    }

    /** Makes the data (once {@link #fx} exists). */
    abstract void prepare() throws IOException;

    /** Where the timed writes start (and wrap back to). */
    abstract long firstOffset();

    /** The 128 KiB to write in slot {@code slot} (no call of that slot is in flight any more). */
    abstract ByteBuffer next(int slot);

    /** What the data is, to head the pool summary printed after the trial. */
    abstract String label();

    @Benchmark
    @OperationsPerInvocation(BLOCKS_PER_CALL)
    public void write() {
        int s = inflight.next();
        inflight.started(s, fx.volume.write(inflight.claim(CALL_BYTES), next(s), false));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        inflight.awaitAll();
        fx.pool.quiesce();
        System.out.println("\n" + label() + " " + fx.summary());
        fx.close();
    }
}
