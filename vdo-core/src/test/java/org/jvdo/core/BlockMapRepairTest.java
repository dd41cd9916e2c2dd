package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.BlockMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A torn block-map page (one sector of it overwritten): reads that need it fail naming the page
 * (the others are served); `check` reports it; `check --repair` gives the page up, says which LBNs lose their data,
 * and leaves a consistent pool that serves the other pages intact and never another block's
 * content. (Before: neither replay nor `check --repair` could do anything with it.)
 */
class BlockMapRepairTest {
    @TempDir Path dir;

    static byte[] content(int lbn) {
        byte[] b = new byte[BS];
        for (int i = 0; i < BS; i += 8) ByteBuffer.wrap(b).putInt(i, lbn).putInt(i + 4, i ^ 0x5A5A);
        return b;
    }

    @SkipRefcountInvariant("a block-map page torn on purpose: the pool refuses it (the point of the test), so its block maps"
            + " cannot be read to count references")
    @Test
    void tornPageIsRefusedThenRepairedWithAReport() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        int lbns = 3 * BlockMap.ENTRIES_PER_PAGE;
        long pageBlock;
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", (long) lbns * BS);
            for (int i = 0; i < lbns; i++) v.write((long) i * BS, ByteBuffer.wrap(content(i)), false);
            Await.value(v.flush(), "flush");
            pageBlock = v.blockMap().regionStart() + 1;
        }
        try (RandomAccessFile raf = new RandomAccessFile(dir.resolve(Pool.DATA_FILE).toFile(), "rw")) {
            raf.seek(pageBlock * BS + 1024);            // a torn write: sector 2 of the page is from elsewhere
            raf.write(new byte[512]);
        }
        try (Pool p = Pool.open(dir, cfg)) {
            // after a clean close nothing scans the pages: the reads that need the page fail
            // (EIO naming it), the others are served
            Volume v = p.volume("v");
            assertArrayEquals(content(0), Volumes.read(v, 0, BS));
            java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> v.read((BlockMap.ENTRIES_PER_PAGE + 90L) * BS, ByteBuffer.allocate(BS)).get(20, java.util.concurrent.TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof CorruptPoolException && e.getCause().getMessage().contains("block map page 1"), e.toString());
            assertArrayEquals(content(2 * BlockMap.ENTRIES_PER_PAGE + 50), Volumes.read(v, (2L * BlockMap.ENTRIES_PER_PAGE + 50) * BS, BS));
        }
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode(), r.toString());
        PoolCheck.Result repaired = PoolCheck.run(dir, true, null);
        assertEquals(PoolCheck.REPAIRED, repaired.exitCode(), repaired.toString());
        String notes = String.join("\n", repaired.notes());
        int e = BlockMap.ENTRIES_PER_PAGE;
        assertTrue(notes.contains("LBNs " + e + ".." + (2 * e - 1) + " lose what they held"), notes);
        try (Pool pool = Pool.open(dir, cfg)) {
            Volume v = pool.volume("v");
            for (int i = 0; i < lbns; i++) {
                byte[] got = Volumes.read(v, (long) i * BS, BS);
                if (i / BlockMap.ENTRIES_PER_PAGE == 1) assertArrayEquals(new byte[BS], got, "lbn " + i + " of the given-up page reads zeros");
                else assertArrayEquals(content(i), got, "lbn " + i);
            }
            assertEquals(List.of(), pool.verifyReferenceCounts());
            assertEquals(2L * BlockMap.ENTRIES_PER_PAGE, pool.depot.dataBlocksUsed(), "the given-up page's blocks are free again");
        }
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(dir, false, null).exitCode());
    }
}
