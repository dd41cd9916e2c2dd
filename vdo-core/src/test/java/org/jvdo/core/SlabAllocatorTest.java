package org.jvdo.core;

import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SlabDepot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The allocator without scans (FreeBlockBitmap + SlabPriorityTable in SlabDepot) in tiny pools
 * that force reuse at once: every block allocated, freed in random order, reallocated. It must
 * never hand out a block with a nonzero count or one under a PBN write lock, must find the last
 * free block wherever it is, and must report no space exactly when none is free.
 */
@Timeout(60)
class SlabAllocatorTest {
    private static final int SLAB = 100;     // not a multiple of 64: partial last bitmap word

    private static SlabDepot depot(long blocks) {
        long[] next = {0};
        return new SlabDepot(SLAB, blocks, List.of(), () -> { long s = next[0]; next[0] += SlabDepot.refBlocksFor(SLAB) + SLAB; return s; });
    }

    private static void fillAll(SlabDepot d, long blocks, List<Long> into) throws Exception {
        for (long i = 0; i < blocks; i++) {
            long pbn = d.allocate(1);
            assertTrue(d.isDataBlock(pbn));
            d.endWrite(pbn);
            into.add(pbn);
        }
        assertThrows(VdoException.class, () -> d.allocate(1), "every block is in use");
    }

    @Test
    void reuseInRandomOrderNeverHandsOutALiveOrLockedBlock() throws Exception {
        long blocks = 3 * SLAB + 37;   // last slab cut short
        SlabDepot d = depot(blocks);
        List<Long> live = new ArrayList<>();
        fillAll(d, blocks, live);
        assertEquals(blocks, new HashSet<>(live).size(), "distinct blocks");
        Random r = new Random(12);
        long seq = 0;
        for (int round = 0; round < 200; round++) {
            Collections.shuffle(live, r);
            int k = 1 + r.nextInt(live.size());
            Set<Long> freed = new HashSet<>();
            for (int i = 0; i < k; i++) {
                long pbn = live.remove(live.size() - 1);
                d.decrement(pbn, ++seq);
                freed.add(pbn);
            }
            // parked until durable: nothing to allocate yet
            assertThrows(VdoException.class, () -> d.allocate(1));
            d.releaseFreed(seq);
            // one block freed but still write-locked (allocated, counted, freed before its write finished)
            for (int i = 0; i < k; i++) {
                long pbn = d.allocate(1);
                assertTrue(freed.remove(pbn), "handed out block " + pbn + ", which was not free");
                assertFalse(live.contains(pbn));
                assertEquals(1, d.refcount(pbn));
                d.endWrite(pbn);
                live.add(pbn);
            }
            assertTrue(freed.isEmpty());
            assertThrows(VdoException.class, () -> d.allocate(1), "no space exactly when none is free");
        }
    }

    @Test
    void findsTheLastFreeBlockWhereverItIs() throws Exception {
        long blocks = 5 * SLAB;
        for (int victim = 0; victim < blocks; victim += 7) {
            SlabDepot d = depot(blocks);
            List<Long> all = new ArrayList<>();
            fillAll(d, blocks, all);
            long pbn = all.get(victim);
            d.decrement(pbn, 1);
            d.releaseFreed(1);
            assertEquals(pbn, d.allocate(1), "the only free block");
            d.endWrite(pbn);
            assertThrows(VdoException.class, () -> d.allocate(1));
        }
    }

    @Test
    void aBlockFreedWhileWriteLockedIsNotReallocatedUntilItsWriteEnds() throws Exception {
        SlabDepot d = depot(2 * SLAB);
        List<Long> all = new ArrayList<>();
        for (int i = 0; i < 2 * SLAB - 1; i++) { long p = d.allocate(1); d.endWrite(p); all.add(p); }
        long locked = d.allocate(1);          // the last free block, write lock held
        d.decrement(locked, 5);
        d.releaseFreed(5);                    // count 0, still being written
        assertEquals(0, d.refcount(locked));
        assertTrue(d.isBeingWritten(locked));
        assertThrows(VdoException.class, () -> d.allocate(1), "the only zero-count block is write-locked");
        long other = all.get(17);
        d.decrement(other, 6);
        d.releaseFreed(6);
        assertEquals(other, d.allocate(1), "the free block, not the locked one");
        d.endWrite(locked);
        assertEquals(locked, d.allocate(1), "free once its write ended");
    }

    @Test
    void incrementOfAFreeBlockTakesItOutOfTheFreeSet() throws Exception {
        SlabDepot d = depot(SLAB);
        long a = d.allocate(1);
        d.endWrite(a);
        long target = a + 1;
        assertTrue(d.increment(target));      // rebuild path: count 0 -> 1
        long b = d.allocate(1);
        assertNotEquals(target, b);
        assertEquals(SLAB - 3, SLAB - d.dataBlocksUsed() - 0, "two allocated, one incremented");
    }
}
