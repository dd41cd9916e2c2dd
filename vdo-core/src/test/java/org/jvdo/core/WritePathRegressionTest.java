package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Targeted reproductions of engine bugs found by the randomized tests. */
class WritePathRegressionTest {
    @TempDir Path dir;

    /**
     * A trim or write-zeroes queued behind an in-flight write of the same block: a partial write
     * queued behind it merges over the trim's data, and a read returns it; both must be zeros.
     * (Bug: the trim's reused vio buffer still held the data of its previous write.)
     */
    @Test
    void partialWriteAndReadBehindQueuedTrimSeeZeros() throws Exception {
        Random r = new Random(7);
        try (Pool pool = Pool.create(dir, PoolConfig.small(64L << 20))) {
            Volume v = pool.createVolume("v", 256L * BS);
            for (int round = 0; round < 200; round++) {
                int b = round % 64;
                boolean noHoleZeroes = round % 3 == 0;
                // fill the vio pool's buffers with recognizable data
                List<CompletableFuture<Void>> fs = new ArrayList<>();
                for (int i = 0; i < 8; i++) fs.add(v.write((long) (100 + i) * BS, ByteBuffer.wrap(Blocks.text(r)), false));
                CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get();
                CompletableFuture<Void> w = v.write((long) b * BS, ByteBuffer.wrap(Blocks.text(r)), false);
                CompletableFuture<Void> t = noHoleZeroes ? v.writeZeroes((long) b * BS, BS, true, false) : v.trim((long) b * BS, BS, false);
                ByteBuffer readBack = ByteBuffer.allocate(BS);
                CompletableFuture<Void> rd = t.thenCompose(x -> v.read((long) b * BS, readBack));
                CompletableFuture<Void> p = v.write((long) b * BS + 10, ByteBuffer.wrap(new byte[]{42}), false);
                CompletableFuture.allOf(w, t, p, rd).get();
                byte[] expect = new byte[BS];
                expect[10] = 42;
                assertArrayEquals(expect, Volumes.read(v, (long) b * BS, BS), "round " + round + ": block " + b
                        + " after write, " + (noHoleZeroes ? "write-zeroes" : "trim") + ", 1-byte write at 10");
                byte[] rb = readBack.array();
                boolean ok = true;
                for (int i = 0; i < BS; i++) if (i != 10 && rb[i] != 0) { ok = false; break; }
                assertTrue(ok && (rb[10] == 0 || rb[10] == 42), "round " + round + ": read after the trim completed returned "
                        + Blocks.describe(rb, 0));
            }
            pool.quiesce();
            assertTrue(pool.verifyReferenceCounts().isEmpty());
        }
    }
}
