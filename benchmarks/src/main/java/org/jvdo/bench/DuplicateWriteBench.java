package org.jvdo.bench;

import org.jvdo.testsupport.Blocks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * Write throughput of fully duplicate data: setup stores a 64 MiB corpus of unique blocks
 * (RAW2050 shape) and flushes; the benchmark then writes copies of that corpus, 128 KiB per call
 * with {@code depth} calls in flight, sequentially over the rest of a 1 GiB volume (wrapping).
 * Every block is a dedupe hit on data already stored. One operation is one 4 KiB block.
 */
public class DuplicateWriteBench extends SequentialWriteBench {
    static final int CORPUS_BYTES = 64 << 20;

    private ByteBuffer corpus;
    private int corpusPos;

    @Override
    void prepare() throws IOException {
        corpus = ByteBuffer.allocate(CORPUS_BYTES);
        Blocks.fill(corpus, CORPUS_BYTES / Blocks.BS, Blocks.Shape.RAW2050, new SplittableRandom(7));
        for (int i = 0; i < CORPUS_BYTES / Blocks.BS; i++) Blocks.stamp(corpus, i, 7, i);
        corpus.clear();
        PoolFixture.await(fx.volume.write(0, corpus.duplicate(), false));
        fx.pool.quiesce();
        System.out.println("\nduplicate corpus stored: " + fx.summary());
    }

    @Override
    long firstOffset() { return CORPUS_BYTES; }

    @Override
    ByteBuffer next(int slot) {
        ByteBuffer b = corpus.slice(corpusPos, CALL_BYTES);
        corpusPos += CALL_BYTES;
        if (corpusPos >= CORPUS_BYTES) corpusPos = 0;
        return b;
    }

    @Override
    String label() { return "duplicate"; }
}
