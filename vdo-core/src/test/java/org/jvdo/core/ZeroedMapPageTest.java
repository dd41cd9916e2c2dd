package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 10, item 2: a block-map page that was written and later reads all zeros (wiped, or lost)
 * is never served as unmapped. The block-map tree records which pages were written, so a
 * zeroed leaf, a zeroed interior bitmap page and a zeroed top page are each refused naming the
 * volume, the page and the block; {@code check} reports them (exit code ERRORS_LEFT) without
 * changing the file; {@code check --repair} resets a zeroed leaf to unmapped and rebuilds a
 * zeroed bitmap page from its children, reporting each, and leaves a clean pool.
 */
class ZeroedMapPageTest {
    @TempDir Path dir;

    static byte[] content(long lbn) {
        byte[] b = new byte[BS];
        for (int i = 0; i < BS; i += 8) ByteBuffer.wrap(b).putInt(i, (int) lbn).putInt(i + 4, i ^ 0x3C3C);
        return b;
    }

    private Path file() { return dir.resolve(Pool.DATA_FILE); }

    private void zeroBlock(long block) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(file().toFile(), "rw")) {
            raf.seek(block * BS);
            raf.write(new byte[BS]);
        }
    }

    private static PoolConfig cfg() { return PoolConfig.small(64L << 20); }

    /** Check mode reports the damage naming the page, exits ERRORS_LEFT and writes nothing. */
    private PoolCheck.Result checkReports(String... expected) throws Exception {
        byte[] before = Files.readAllBytes(file());
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        System.out.println("check: " + r.problems());
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode(), r.toString());
        String all = r.problems().toString();
        for (String e : expected) assertTrue(all.contains(e), "check reports " + e + ": " + all);
        assertArrayEquals(before, Files.readAllBytes(file()), "check without --repair does not change the pool file");
        return r;
    }

    private PoolCheck.Result repairReports(String... expected) {
        PoolCheck.Result r = PoolCheck.run(dir, true, null);
        System.out.println("repair: " + r.notes());
        assertEquals(PoolCheck.REPAIRED, r.exitCode(), r.toString());
        String notes = String.join("\n", r.notes());
        for (String e : expected) assertTrue(notes.contains(e), "repair reports " + e + ": " + notes);
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(dir, false, null).exitCode(), "clean after the repair");
        return r;
    }

    private static CorruptPoolException readFails(Volume v, long lbn) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> v.read(lbn * BS, ByteBuffer.allocate(BS)).get(20, TimeUnit.SECONDS));
        assertInstanceOf(CorruptPoolException.class, e.getCause(), e.toString());
        return (CorruptPoolException) e.getCause();
    }

    @Test
    void zeroedLeafIsRefusedReportedAndReset() throws Exception {
        int lbns = 3 * BlockMap.ENTRIES_PER_PAGE;
        long leafBlock;
        try (Pool pool = Pool.create(dir, cfg())) {
            Volume v = pool.createVolume("v", (long) lbns * BS);
            for (int i = 0; i < lbns; i++) v.write((long) i * BS, ByteBuffer.wrap(content(i)), false);
            Await.value(v.flush(), "flush");
            leafBlock = v.blockMap().regionStart() + 1;
        }
        zeroBlock(leafBlock);
        try (Pool p = Pool.open(dir, cfg())) {
            Volume v = p.volume("v");
            assertArrayEquals(content(0), Volumes.read(v, 0, BS));
            String m = readFails(v, BlockMap.ENTRIES_PER_PAGE + 5).getMessage();
            System.out.println("read of a zeroed leaf: " + m);
            assertTrue(m.contains("volume v block map page 1 (block " + leafBlock + ")") && m.contains("zeroed"), m);
            assertArrayEquals(content(lbns - 1), Volumes.read(v, (long) (lbns - 1) * BS, BS));
            // after an unclean shutdown the open's rebuild walks every written page: it refuses
            Await.value(v.write(0, ByteBuffer.wrap(content(0)), false), "write");
            Await.value(v.flush(), "flush");
            p.crash();
        }
        CorruptPoolException open = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, cfg()));
        System.out.println("recovery open over a zeroed leaf: " + open.getMessage());
        assertTrue(open.getMessage().contains("block map page 1") && open.getMessage().contains("zeroed"), open.getMessage());
        checkReports("block map page 1 (block " + leafBlock + ")", "zeroed");
        repairReports("block map page 1", "zeroed", "reset to unmapped", "LBNs " + BlockMap.ENTRIES_PER_PAGE + ".." + (2 * BlockMap.ENTRIES_PER_PAGE - 1) + " lose what they held");
        try (Pool p = Pool.open(dir, cfg())) {
            Volume v = p.volume("v");
            for (int i = 0; i < lbns; i++) {
                byte[] want = i / BlockMap.ENTRIES_PER_PAGE == 1 ? new byte[BS] : content(i);
                assertArrayEquals(want, Volumes.read(v, (long) i * BS, BS), "lbn " + i);
            }
            assertEquals(List.of(), p.verifyReferenceCounts());
            assertEquals(2L * BlockMap.ENTRIES_PER_PAGE, p.depot.dataBlocksUsed());
        }
    }

    /** A volume of 2 levels (more than 32640 leaves): a zeroed level-1 bitmap page, rebuilt from its children. */
    @SkipRefcountInvariant("a block-map tree page zeroed on purpose: the pool refuses the leaves under it (the point of the"
            + " test), so its block maps cannot be read to count references; the test verifies them itself after the repair")
    @Test
    void zeroedBitmapPageIsRefusedReportedAndRebuilt() throws Exception {
        long blocks = 1L << 24;                        // 32833 leaves: level-1 pages 0 and 1, a top at level 2
        long far = (long) BlockMapTree.BITS_PER_PAGE * BlockMap.ENTRIES_PER_PAGE + 100;   // under level-1 page 1
        long bitmapBlock;
        try (Pool pool = Pool.create(dir, cfg())) {
            Volume v = pool.createVolume("v", blocks * BS, "none");
            assertEquals(2, v.blockMap().tree().levelCount());
            Await.value(v.write(3 * BS, ByteBuffer.wrap(content(3)), false), "write");
            Await.value(v.write(far * BS, ByteBuffer.wrap(content(far)), false), "write");
            Await.value(v.flush(), "flush");
            bitmapBlock = v.blockMap().tree().levelStart(1) + 1;
        }
        zeroBlock(bitmapBlock);
        try (Pool p = Pool.open(dir, cfg())) {
            Volume v = p.volume("v");
            assertArrayEquals(content(3), Volumes.read(v, 3 * BS, BS));
            String m = readFails(v, far).getMessage();
            System.out.println("read under a zeroed bitmap page: " + m);
            assertTrue(m.contains("volume v block map tree page level 1 index 1 (block " + bitmapBlock + ")") && m.contains("zeroed"), m);
            // never-written leaves under it are not "unmapped" either: the page that says so is gone
            readFails(v, far + 50L * BlockMap.ENTRIES_PER_PAGE);
        }
        checkReports("block map tree page level 1 index 1 (block " + bitmapBlock + ")", "zeroed");
        repairReports("block map tree page level 1 index 1", "zeroed", "rebuilt from its children (1 of ");
        try (Pool p = Pool.open(dir, cfg())) {
            Volume v = p.volume("v");
            assertArrayEquals(content(3), Volumes.read(v, 3 * BS, BS));
            assertArrayEquals(content(far), Volumes.read(v, far * BS, BS), "the rebuilt page found the written leaf");
            assertArrayEquals(new byte[BS], Volumes.read(v, (far + 50L * BlockMap.ENTRIES_PER_PAGE) * BS, BS));
            assertEquals(List.of(), p.verifyReferenceCounts());
        }
    }

    /** The top page is written when the region is created: zeroed, the open refuses; repair rebuilds it. */
    @Test
    void zeroedTopPageIsRefusedAtOpenReportedAndRebuilt() throws Exception {
        int lbns = 3 * BlockMap.ENTRIES_PER_PAGE;
        long topBlock;
        try (Pool pool = Pool.create(dir, cfg())) {
            Volume v = pool.createVolume("v", (long) lbns * BS);
            for (int i = 0; i < lbns; i += 2) v.write((long) i * BS, ByteBuffer.wrap(content(i)), false);
            Await.value(v.flush(), "flush");
            assertEquals(1, v.blockMap().tree().levelCount());
            topBlock = v.blockMap().tree().levelStart(1);
            assertEquals(v.blockMap().regionStart() + BlockMap.regionBlocks(3) - 1, topBlock);
            pool.createVolume("empty", 1L << 20);     // its top is written too, before its record
        }
        zeroBlock(topBlock);
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, cfg()));
        System.out.println("open over a zeroed top page: " + e.getMessage());
        assertTrue(e.getMessage().contains("volume v block map tree page level 1 index 0 (block " + topBlock + ")")
                && e.getMessage().contains("zeroed"), e.getMessage());
        checkReports("block map tree page level 1 index 0 (block " + topBlock + ")", "zeroed");
        repairReports("block map tree page level 1 index 0", "rebuilt from its children (3 of 3 present)");
        try (Pool p = Pool.open(dir, cfg())) {
            Volume v = p.volume("v");
            for (int i = 0; i < lbns; i++) {
                assertArrayEquals(i % 2 == 0 ? content(i) : new byte[BS], Volumes.read(v, (long) i * BS, BS), "lbn " + i);
            }
            assertEquals(List.of(), p.verifyReferenceCounts());
        }
    }
}
