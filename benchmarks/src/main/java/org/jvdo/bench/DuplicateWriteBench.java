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
 * Write throughput of fully duplicate data: setup stores a 64 MiB corpus of unique blocks
 * (RAW2050 shape) and flushes; the benchmark then writes copies of that corpus, 128 KiB per call
 * with {@code depth} calls in flight, sequentially over the rest of a 1 GiB volume (wrapping).
 * Every block is a dedupe hit on data already stored. One operation is one 4 KiB block.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class DuplicateWriteBench {
    static final int BLOCKS_PER_CALL = UniqueWriteBench.BLOCKS_PER_CALL;
    static final int CALL_BYTES = UniqueWriteBench.CALL_BYTES;
    static final long VOLUME_BYTES = 1L << 30;
    static final int CORPUS_BYTES = 64 << 20;

    @Param({"64"})
    public int depth;

    private PoolFixture fx;
    private ByteBuffer corpus;
    private InFlight inflight;
    private long offset;
    private int corpusPos;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        fx = new PoolFixture(VOLUME_BYTES, 8L << 30);
        corpus = ByteBuffer.allocate(CORPUS_BYTES);
        Blocks.fill(corpus, CORPUS_BYTES / Blocks.BS, Blocks.Shape.RAW2050, new SplittableRandom(7));
        for (int i = 0; i < CORPUS_BYTES / Blocks.BS; i++) Blocks.stamp(corpus, i, 7, i);
        corpus.clear();
        PoolFixture.await(fx.volume.write(0, corpus.duplicate(), false));
        fx.pool.quiesce();
        System.out.println("\nduplicate corpus stored: " + fx.summary());
        inflight = new InFlight(depth);
        offset = CORPUS_BYTES;
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS_PER_CALL)
    public void write() {
        inflight.started(inflight.next(), fx.volume.write(offset, corpus.slice(corpusPos, CALL_BYTES), false));
        corpusPos += CALL_BYTES;
        if (corpusPos >= CORPUS_BYTES) corpusPos = 0;
        offset += CALL_BYTES;
        if (offset >= VOLUME_BYTES) offset = CORPUS_BYTES;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        inflight.awaitAll();
        fx.pool.quiesce();
        System.out.println("\nduplicate " + fx.summary());
        fx.close();
    }
}
