package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SlabDepot;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class SlabDepotTest {
    static final int SLAB = 16;

    /** A depot of {@code limit} data blocks whose slabs are laid out back to back from block 100. */
    static SlabDepot depot(long limit, List<Long> added) {
        long[] next = {100};
        return new SlabDepot(SLAB, limit, List.of(), () -> {
            long s = next[0];
            next[0] += SlabDepot.refBlocksFor(SLAB) + SLAB;
            added.add(s);
            return s;
        });
    }

    @Test
    void allocatesEveryBlockOnceThenEnospc() throws Exception {
        List<Long> slabs = new ArrayList<>();
        SlabDepot d = depot(40, slabs); // 16 + 16 + 8 usable
        Set<Long> got = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            long pbn = d.allocate(1);
            assertTrue(d.isDataBlock(pbn), "pbn " + pbn);
            assertTrue(got.add(pbn), "block " + pbn + " allocated twice");
            assertEquals(1, d.refcount(pbn));
        }
        assertEquals(3, slabs.size());
        assertEquals(40, d.dataBlocksUsed());
        VdoException e = assertThrows(VdoException.class, () -> d.allocate(1));
        assertEquals(Errno.ENOSPC, e.errno());
        assertEquals(28, e.errno().code);
        assertFalse(d.tryReserve());
        for (long s : slabs) assertFalse(d.isDataBlock(s), "reference block " + s + " is not a data block");
    }

    @Test
    void freedBlocksAreReusableOnlyAfterTheirJournalEntryIsDurable() throws Exception {
        SlabDepot d = depot(32, new ArrayList<>());
        List<Long> pbns = new ArrayList<>();
        for (int i = 0; i < 32; i++) pbns.add(d.allocate(1));
        long a = pbns.get(3), b = pbns.get(20);
        assertFalse(d.incrementIfLive(b), "a block whose data is not written yet cannot be shared");
        assertTrue(d.isBeingWritten(b));
        for (long p : pbns) d.endWrite(p);
        assertFalse(d.isBeingWritten(b));
        assertThrows(IllegalStateException.class, () -> d.endWrite(b), "a write lock is released once");
        assertTrue(d.incrementIfLive(b));
        assertEquals(2, d.refcount(b));
        d.decrement(a, 10);
        d.decrement(b, 11); // still referenced once
        d.decrement(b, 12);
        assertEquals(0, d.refcount(a));
        assertEquals(30, d.dataBlocksUsed());
        assertEquals(2, d.pendingFree());
        assertFalse(d.incrementIfLive(a), "a pending-free block cannot be shared");
        assertEquals(Errno.ENOSPC, assertThrows(VdoException.class, () -> d.allocate(1)).errno());
        d.releaseFreed(9);
        assertEquals(Errno.ENOSPC, assertThrows(VdoException.class, () -> d.allocate(1)).errno());
        d.releaseFreed(10);
        assertEquals(1, d.pendingFree());
        assertEquals(a, d.allocate(1));
        assertEquals(Errno.ENOSPC, assertThrows(VdoException.class, () -> d.allocate(1)).errno());
        d.releaseFreed(12);
        assertEquals(b, d.allocate(3));
        assertEquals(3, d.refcount(b));
        assertThrows(CorruptPoolException.class, () -> { d.decrement(a, 20); d.decrement(a, 21); });
    }

    @Test
    void reservationsHoldSpace() throws Exception {
        SlabDepot d = depot(20, new ArrayList<>());
        for (int i = 0; i < 17; i++) d.allocate(1);
        assertTrue(d.tryReserve());
        assertTrue(d.tryReserve());
        assertEquals(2, d.reservedBlocks());
        d.allocate(1); // 3 free, 2 of them reserved: one is still allocatable
        assertEquals(Errno.ENOSPC, assertThrows(VdoException.class, () -> d.allocate(1)).errno(), "2 free, both reserved");
        assertFalse(d.tryReserve());
    }

    @Test
    void reservationsAreHonoured() throws Exception {
        SlabDepot d = depot(20, new ArrayList<>());
        for (int i = 0; i < 18; i++) d.allocate(1);
        assertTrue(d.tryReserve());
        assertTrue(d.tryReserve());
        assertFalse(d.tryReserve());
        assertEquals(Errno.ENOSPC, assertThrows(VdoException.class, () -> d.allocate(1)).errno(), "reserved blocks are not for others");
        long x = d.allocateReserved(1);
        long y = d.allocateReserved(1);
        assertNotEquals(x, y);
        assertEquals(0, d.reservedBlocks());
        d.endWrite(x);   // a block freed while still write-locked becomes allocatable only at its endWrite
        d.endWrite(y);
        d.decrement(x, 1);
        d.releaseFreed(1);
        assertTrue(d.tryReserve());
        d.unreserve();
        assertThrows(IllegalStateException.class, d::unreserve);
        assertEquals(19, d.dataBlocksUsed());
    }

    @Test
    void saveLoadAndRebuild() throws Exception {
        List<Long> slabs = new ArrayList<>();
        SlabDepot d = depot(40, slabs);
        MemBlockStore store = new MemBlockStore("mem");
        List<Long> pbns = new ArrayList<>();
        for (int i = 0; i < 30; i++) pbns.add(d.allocate(1 + i % 5));
        d.decrement(pbns.get(0), 1); // pending free: saved as free
        int crc = d.save(store);
        SlabDepot e = new SlabDepot(SLAB, 40, slabs, () -> { throw new AssertionError("no new slab"); });
        assertTrue(e.load(store, crc));
        assertEquals(29, e.dataBlocksUsed());
        for (int i = 1; i < 30; i++) assertEquals(1 + i % 5, e.refcount(pbns.get(i)));
        assertEquals(0, e.refcount(pbns.get(0)));
        assertFalse(new SlabDepot(SLAB, 40, slabs, () -> 0).load(store, crc ^ 1));
        e.clear();
        assertEquals(0, e.dataBlocksUsed());
        assertTrue(e.increment(pbns.get(4)));
        assertFalse(e.increment(5), "block 5 is outside the depot");
        assertEquals(1, e.dataBlocksUsed());
    }

    /**
     * Over a computed slab area every reservation is backed by a block that can really be
     * allocated (the last slab cut at the physical limit), and a rebuild meeting a block of a slab
     * not yet attached attaches it instead of calling the mapping corrupt.
     */
    @Test
    void computedAreaReservesOnlyAllocatableSpaceAndAttachesSlabsOnRebuild() throws Exception {
        int stride = SlabDepot.refBlocksFor(SLAB) + SLAB;
        SlabDepot d = new SlabDepot(SLAB, 40, 100, 0, null);
        SlabDepot[] self = {d};
        d = new SlabDepot(SLAB, 40, 100, 0, () -> self[0].slabStart(self[0].slabCount()));
        self[0] = d;
        // reservations count on attached slabs only (attaching one may find no space in the host filesystem)
        assertFalse(d.tryReserve(), "nothing is promised before a slab is attached");
        assertTrue(d.attachAhead(1));
        int reserved = 0;
        while (d.tryReserve()) reserved++;
        assertEquals(SLAB, reserved, "one attached slab's blocks");
        Set<Long> got = new HashSet<>();
        for (int i = 0; i < reserved; i++) assertTrue(got.add(d.allocateReserved(1)));
        while (got.size() < 40) {
            if (d.tryReserve()) assertTrue(got.add(d.allocateReserved(1)));
            else assertTrue(got.add(d.allocate(1)), "an unreserved allocation attaches the next slab");
        }
        assertFalse(d.tryReserve());
        assertThrows(VdoException.class, () -> self[0].allocate(1));
        assertEquals(3, d.slabCount());
        assertEquals(100 + 2L * stride, d.slabStart(2));
        assertThrows(IllegalStateException.class, () -> self[0].slabStart(3));
        for (long pbn : got) {
            long rel = pbn - 100;
            assertTrue(rel % stride >= SlabDepot.refBlocksFor(SLAB), "pbn " + pbn + " is a data block of its computed slab");
        }
        // a fresh depot (as after a crash, 1 slab saved) meets a block of slab 2 while rebuilding
        SlabDepot r = new SlabDepot(SLAB, 40, 100, 1, () -> { throw new AssertionError("no allocation here"); });
        long inSlab2 = 100 + 2L * stride + SlabDepot.refBlocksFor(SLAB) + 3;
        assertTrue(r.increment(inSlab2));
        assertEquals(3, r.slabCount());
        assertEquals(1, r.refcount(inSlab2));
        assertFalse(r.increment(100 + 2L * stride + SlabDepot.refBlocksFor(SLAB) + 8), "beyond the physical limit in the cut last slab");
        assertFalse(r.increment(100 + 3L * stride + 1), "beyond the slab area");
        assertFalse(r.increment(50), "before the slab area");
    }
}
