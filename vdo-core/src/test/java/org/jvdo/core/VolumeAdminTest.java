package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pool.deleteVolume and Pool.resizeVolume, including what survives a crash. */
class VolumeAdminTest {
    @TempDir Path dir;

    private static byte[] block(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b); // incompressible, unique
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

    @Test
    void deleteFreesBlocksAndSurvivesCrashAndReuseOfId() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        Pool pool = Pool.create(dir, cfg);
        Volume keep = pool.createVolume("keep", 4L << 20);
        Volume gone = pool.createVolume("gone", 4L << 20);
        for (int i = 0; i < 20; i++) write(keep, i, block(i));
        for (int i = 0; i < 30; i++) write(gone, i, block(1000 + i));
        write(gone, 40, block(3)); // shared with keep: stays allocated
        pool.quiesce();
        assertEquals(50, pool.stats().get("data_blocks_used"));
        pool.deleteVolume("gone");
        assertNull(pool.volume("gone"));
        assertTrue(gone.isDeleted());
        assertEquals(20, pool.stats().get("data_blocks_used"));
        assertTrue(pool.verifyReferenceCounts().isEmpty(), pool.verifyReferenceCounts().toString());
        assertThrows(Exception.class, () -> write(gone, 0, block(1)));
        assertThrows(VdoException.class, () -> pool.deleteVolume("gone"));
        // a new volume takes the freed id; no old journal entry may be replayed into it
        Volume fresh = pool.createVolume("fresh", 4L << 20);
        assertEquals(gone.id(), fresh.id());
        pool.crash();

        Pool p2 = Pool.open(dir, cfg);
        try {
            assertNull(p2.volume("gone"));
            assertEquals(20, p2.stats().get("data_blocks_used"));
            assertEquals(0, p2.stats().get("logical_blocks_used") - 20);
            assertArrayEquals(new byte[4096], read(p2.volume("fresh"), 0));
            assertArrayEquals(block(7), read(p2.volume("keep"), 7));
            assertTrue(p2.verifyReferenceCounts().isEmpty());
        } finally {
            p2.close();
        }
    }

    @Test
    void deleteThenCleanCloseKeepsCountsRight() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("a", 4L << 20);
            for (int i = 0; i < 10; i++) write(v, i, block(i));
            pool.deleteVolume("a");
            assertEquals(0, pool.stats().get("data_blocks_used"));
        }
        try (Pool pool = Pool.open(dir, cfg)) {
            assertTrue(pool.volumes().isEmpty());
            assertEquals(0, pool.stats().get("data_blocks_used"));
            assertTrue(pool.verifyReferenceCounts().isEmpty());
        }
    }

    @Test
    void resizeGrowsOnlineIntoNewRegionAndSurvivesCrash() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        Pool pool = Pool.create(dir, cfg);
        final int TWO_PAGES = 2 * BlockMap.ENTRIES_PER_PAGE;
        Volume v = pool.createVolume("v", BlockMap.ENTRIES_PER_PAGE * 4096L * 2); // exactly two map pages
        Volume other = pool.createVolume("w", 4L << 20);   // its region follows v's
        for (int i = 0; i < TWO_PAGES; i += 100) write(v, i, block(i));
        write(v, (TWO_PAGES - 1), block((TWO_PAGES - 1)));
        assertThrows(Exception.class, () -> write(v, TWO_PAGES, block(1)));
        assertThrows(VdoException.class, () -> pool.resizeVolume("v", 4096));
        assertThrows(VdoException.class, () -> pool.resizeVolume("v", 5000));
        assertThrows(VdoException.class, () -> pool.resizeVolume("nope", 1L << 30));
        pool.resizeVolume("v", 8L << 20);
        assertEquals(8L << 20, v.size());
        write(v, 2047, block(2047));
        write(other, 0, block(99));
        for (int i = 0; i < TWO_PAGES; i += 100) assertArrayEquals(block(i), read(v, i));
        assertArrayEquals(block((TWO_PAGES - 1)), read(v, (TWO_PAGES - 1)));
        // within the region's last page: no relocation needed
        pool.resizeVolume("v", 8L << 20); // same size: nothing to do
        pool.quiesce(); // acknowledged writes are durable only after a flush
        pool.crash();

        try (Pool p2 = Pool.open(dir, cfg)) {
            Volume v2 = p2.volume("v");
            assertEquals(8L << 20, v2.size());
            for (int i = 0; i < TWO_PAGES; i += 100) assertArrayEquals(block(i), read(v2, i));
            assertArrayEquals(block((TWO_PAGES - 1)), read(v2, (TWO_PAGES - 1)));
            assertArrayEquals(block(2047), read(v2, 2047));
            assertArrayEquals(block(99), read(p2.volume("w"), 0));
            assertTrue(p2.verifyReferenceCounts().isEmpty());
        }
    }

    @Test
    void resizeWithinTheLastMapPageKeepsTheRegion() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        Pool pool = Pool.create(dir, cfg);
        Volume v = pool.createVolume("v", 100 * 4096);
        long start = v.blockMap().mapStart();
        write(v, 99, block(99));
        pool.resizeVolume("v", 300 * 4096);
        assertEquals(start, v.blockMap().mapStart());
        write(v, 299, block(299));
        pool.quiesce();
        pool.crash();
        try (Pool p2 = Pool.open(dir, cfg)) {
            assertEquals(300 * 4096, p2.volume("v").size());
            assertArrayEquals(block(99), read(p2.volume("v"), 99));
            assertArrayEquals(block(299), read(p2.volume("v"), 299));
        }
    }
}
