package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Format 2's computed layout: size limits (256 TiB physical, 4 PiB volumes) give a working pool
 * or a clear refusal, the host filesystem's file size is probed, and layout changes are
 * durable before the space they describe is used, also across power loss.
 */
class LayoutLimitsTest {
    @TempDir Path dir;
    static final long TIB = 1L << 40, PIB = 1L << 50;

    private static byte[] block(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void write(Volume v, long lbn, byte[] data) throws Exception {
        v.write(lbn * 4096, ByteBuffer.wrap(data), false).get(30, TimeUnit.SECONDS);
    }

    private static byte[] read(Volume v, long lbn) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        v.read(lbn * 4096, b).get(30, TimeUnit.SECONDS);
        return b.array();
    }

    private static PoolConfig sparse(PowerLossBlockStore s, long physicalBytes) {
        PoolConfig c = PoolConfig.small(physicalBytes);
        c.slabDataBlocks = 32768;
        c.storeWrapper = s.wrapper();
        return c;
    }

    @Test
    void physical256TiBWorksAndBeyondIsRefused() throws Exception {
        PowerLossBlockStore s = PowerLossBlockStore.inMemory("mem:256TiB");
        PoolConfig cfg = sparse(s, 256 * TIB);
        try (Pool p = Pool.create(dir.resolve("max"), cfg)) {
            assertEquals(SuperBlock.MAX_PHYSICAL_BLOCKS, p.stats().get("physical_blocks"));
            Volume v = p.createVolume("v", 1L << 30, "none");
            for (int i = 0; i < 10; i++) write(v, i, block(i));
        }
        try (Pool p = Pool.open(dir.resolve("max"), cfg)) {
            for (int i = 0; i < 10; i++) assertArrayEquals(block(i), read(p.volume("v"), i));
            assertTrue(p.verifyReferenceCounts().isEmpty());
        }
        SuperBlock sb = SuperBlock.read(s);
        assertEquals(1 << 21, sb.slabCount);
        assertTrue(s.sizeInBlocks() >= sb.nextRegionBlock);

        VdoException big = assertThrows(VdoException.class, () -> Pool.create(dir.resolve("over"), sparse(PowerLossBlockStore.inMemory("mem:over"), 256 * TIB + 4096)));
        System.out.println("256 TiB + 4 KiB: " + big.getMessage());
        assertEquals(Errno.EINVAL, big.errno());
        assertTrue(big.getMessage().contains("256 TiB") && big.getMessage().contains("MAX_PHYSICAL_BLOCKS"), big.getMessage());
        assertFalse(Files.exists(dir.resolve("over").resolve(Pool.DATA_FILE)), "a refused create leaves no pool file behind");

        PoolConfig tiny = sparse(PowerLossBlockStore.inMemory("mem:slabs"), 256 * TIB);
        tiny.slabDataBlocks = 256;
        VdoException slabs = assertThrows(VdoException.class, () -> Pool.create(dir.resolve("slabs"), tiny));
        System.out.println("too many slabs: " + slabs.getMessage());
        assertEquals(Errno.EINVAL, slabs.errno());
        assertTrue(slabs.getMessage().contains("MAX_SLABS"), slabs.getMessage());
    }

    @Test
    void volume4PiBWorksAndBeyondIsRefused() throws Exception {
        PowerLossBlockStore s = PowerLossBlockStore.inMemory("mem:4PiB");
        PoolConfig cfg = sparse(s, 1L << 30);
        long last = SuperBlock.MAX_LOGICAL_BLOCKS - 1;
        try (Pool p = Pool.create(dir, cfg)) {
            Volume v = p.createVolume("huge", 4 * PIB, "none");
            assertEquals(SuperBlock.MAX_LOGICAL_BLOCKS, v.logicalBlocks());
            write(v, 0, block(1));
            write(v, last, block(2));
            assertArrayEquals(block(2), read(v, last));
            VdoException e = assertThrows(VdoException.class, () -> p.createVolume("over", 4 * PIB + 4096, "none"));
            System.out.println("4 PiB + 4 KiB volume: " + e.getMessage());
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains("4 PiB") && e.getMessage().contains("MAX_LOGICAL_BLOCKS"), e.getMessage());
            Volume small = p.createVolume("small", 1L << 20, "none");
            VdoException r = assertThrows(VdoException.class, () -> p.resizeVolume("small", 4 * PIB + 4096));
            assertEquals(Errno.EINVAL, r.errno());
            assertTrue(r.getMessage().contains("MAX_LOGICAL_BLOCKS"), r.getMessage());
            assertFalse(p.isReadOnly(), "a refused size leaves the pool writable");
            p.resizeVolume("small", 4 * PIB); // exactly at the limit: fine
            write(small, last, block(3));
            assertArrayEquals(block(3), read(small, last));
            // block 2^40-1 and block 0 of different volumes do not share a lock or a mapping
            assertArrayEquals(block(1), read(v, 0));
        }
        try (Pool p = Pool.open(dir, cfg)) {
            assertArrayEquals(block(1), read(p.volume("huge"), 0));
            assertArrayEquals(block(2), read(p.volume("huge"), last));
            assertArrayEquals(block(3), read(p.volume("small"), last));
        }
    }

    /**
     * On real files: a layout larger than one file of this filesystem may be (ext4: 16 TiB) is
     * spread over segment files of at most 1 TiB, so two 4 PiB volumes (12.4 TiB of sparse block
     * map each), a resize to 4 PiB and a 200 TiB pool all work and read back after a reopen.
     */
    @Test
    void layoutsBeyondOneHostFileSpanSegmentFiles() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        Path pd = dir.resolve("p");
        try (Pool p = Pool.create(pd, cfg)) {
            Volume a = p.createVolume("a", 4 * PIB, "none");
            write(a, 5, block(5));
            Volume b = p.createVolume("b", 4 * PIB, "none");
            write(b, SuperBlock.MAX_LOGICAL_BLOCKS - 1, block(8));
            Volume c = p.createVolume("c", 1L << 20, "none");
            write(c, 1, block(7));
            p.resizeVolume("c", 4 * PIB);
            write(c, SuperBlock.MAX_LOGICAL_BLOCKS - 1, block(9));
            assertFalse(p.isReadOnly());
            write(a, SuperBlock.MAX_LOGICAL_BLOCKS - 1, block(6));
        }
        long segments = SegmentedBlockStore.existingSegments(pd).size();
        System.out.println("three 4 PiB volumes: " + segments + " segment files");
        assertTrue(segments > 16, segments + " segment files: the layout is beyond one 16 TiB file");
        try (Pool p = Pool.open(pd, cfg)) {
            assertArrayEquals(block(5), read(p.volume("a"), 5));
            assertArrayEquals(block(6), read(p.volume("a"), SuperBlock.MAX_LOGICAL_BLOCKS - 1));
            assertArrayEquals(block(8), read(p.volume("b"), SuperBlock.MAX_LOGICAL_BLOCKS - 1));
            assertArrayEquals(block(7), read(p.volume("c"), 1));
            assertArrayEquals(block(9), read(p.volume("c"), SuperBlock.MAX_LOGICAL_BLOCKS - 1));
        }
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(pd, false, null).exitCode());
        PoolConfig big = PoolConfig.small(200 * TIB);
        big.slabDataBlocks = 32768;
        try (Pool p = Pool.create(dir.resolve("big"), big)) {
            Volume v = p.createVolume("v", 1L << 30, "none");
            write(v, 3, block(3));
        }
        try (Pool p = Pool.open(dir.resolve("big"), big)) {
            assertArrayEquals(block(3), read(p.volume("v"), 3));
        }
    }

    /**
     * Slabs are attached at run time without any super-block write; after a power loss that
     * drops everything unsynced, the rebuild finds data in slabs attached after the last
     * clean close, and a new volume's map never lands on data.
     */
    @Test
    void slabsTakenSinceTheLastSyncSurvivePowerLoss() throws Exception {
        PowerLossBlockStore s = PowerLossBlockStore.inMemory("mem:slabs");
        PoolConfig cfg = PoolConfig.small(64L << 20); // 256-block slabs
        cfg.storeWrapper = s.wrapper();
        Pool p = Pool.create(dir, cfg);
        Volume v = p.createVolume("v", 16L << 20, "none");
        for (int i = 0; i < 1500; i++) write(v, i, block(i));
        p.quiesce();
        assertTrue(p.depot.slabCount() >= 5, "data spans several slabs");
        p.crash();
        s.powerLoss();
        try (Pool q = Pool.open(dir, cfg)) {
            assertFalse(q.wasClean());
            for (int i = 0; i < 1500; i += 7) assertArrayEquals(block(i), read(q.volume("v"), i), "lbn " + i);
            assertTrue(q.verifyReferenceCounts().isEmpty(), q.verifyReferenceCounts().toString());
            Volume w = q.createVolume("w", 16L << 20, "none");
            for (int i = 0; i < 4096; i += 97) assertArrayEquals(new byte[4096], read(w, i), "fresh volume lbn " + i);
            write(w, 1, block(99_999));
            assertArrayEquals(block(99_999), read(w, 1));
        }
    }

    /**
     * A resize copies the map into a fresh region; if the super-block write that switches to it
     * is lost, that region must not be handed to the next volume (it holds the copied pages).
     */
    @Test
    void lostSuperBlockWriteAfterAResizeCopyNeverGivesThatRegionToANewVolume() throws Exception {
        PowerLossBlockStore s = PowerLossBlockStore.inMemory("mem:resize");
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.storeWrapper = s.wrapper();
        Pool p = Pool.create(dir, cfg);
        Volume v = p.createVolume("v", 4L << 20, "none");
        for (int i = 0; i < 100; i++) write(v, i, block(i));
        p.quiesce();
        long region = SuperBlock.read(s).nextRegionBlock;
        boolean[] regionWritten = {false};
        s.failWrite = b -> {
            if (b >= region) regionWritten[0] = true;
            return regionWritten[0] && b < 2 * SuperBlock.COPY_BLOCKS;
        };
        assertThrows(VdoException.class, () -> p.resizeVolume("v", 8L << 20));
        assertTrue(regionWritten[0], "the resize copied pages into the new region");
        p.crash();
        s.powerLoss();
        s.failWrite = b -> false;
        try (Pool q = Pool.open(dir, cfg)) {
            assertEquals(1024, q.volume("v").logicalBlocks(), "the resize did not happen");
            for (int i = 0; i < 100; i += 9) assertArrayEquals(block(i), read(q.volume("v"), i));
            Volume w = q.createVolume("w", 8L << 20, "none");
            for (int i = 0; i < 100; i++) assertArrayEquals(new byte[4096], read(w, i), "new volume lbn " + i + " shows stale data");
            assertTrue(q.verifyReferenceCounts().isEmpty());
        }
    }
}
