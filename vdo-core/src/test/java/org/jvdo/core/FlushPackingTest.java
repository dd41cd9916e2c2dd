package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A FLUSH waiting for writes in flight writes the packer's bins once every write it still waits
 * for is a fragment in a bin, also when that moment comes from a write finishing (not only from
 * a fragment arriving). Before, a flush issued while a raw block was still being written waited
 * for the packer timeout (found by CorruptionMatrixTest's setup with a 60 s timeout).
 */
class FlushPackingTest {
    @TempDir Path dir;

    @Test
    void aFlushWaitingOnARawWriteAndAFragmentDoesNotWaitForThePackerTimeout() throws Exception {
        ReuseRaceTest.SlowWrites[] slow = {null};
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.packerTimeoutMillis = 120_000;
        cfg.storeWrapper = s -> slow[0] = new ReuseRaceTest.SlowWrites(s);
        try (Pool p = Pool.create(dir, cfg)) {
            Volume v = p.createVolume("v", 64L * BS);
            Random r = new Random(9);
            byte[] text = Blocks.text(r), random = Blocks.random(r);
            slow[0].firstDataBlock = SuperBlock.JOURNAL_START + cfg.journalBlocks;   // data and map writes, not the journal
            slow[0].delayMillis = 500;
            CompletableFuture<Void> a = v.write(0, ByteBuffer.wrap(text), false);      // a fragment: waits in a bin
            CompletableFuture<Void> b = v.write(BS, ByteBuffer.wrap(random), false);   // raw: its data write takes 500 ms
            CompletableFuture<Void> f = v.flush();
            // bounded: without the fix the flush completes only at the 120 s packer timeout
            f.get(30, TimeUnit.SECONDS);
            a.get(30, TimeUnit.SECONDS);
            b.get(30, TimeUnit.SECONDS);
            slow[0].delayMillis = 0;
            assertArrayEquals(text, Volumes.read(v, 0, BS));
            assertArrayEquals(random, Volumes.read(v, BS, BS));
        }
    }
}
