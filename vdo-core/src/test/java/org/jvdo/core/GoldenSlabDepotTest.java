package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.physical.SlabDepot;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;
import org.jvdo.testsupport.GoldenBytes;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of the slabs' reference blocks as {@link SlabDepot#save} writes them (one count
 * byte per data block, parked frees as 0, zero padding to the block), see {@link GoldenBytes}.
 *
 * <p>Regenerating a file ({@code -Djvdo.golden.write=true}) means the on-disk format changed,
 * which must bump the pool format version.
 */
class GoldenSlabDepotTest {
    static final int SLAB_DATA = 5000;          // 2 reference blocks per slab
    static final long PHYSICAL = 7000;          // slab 1 has 2000 usable blocks
    static final long AREA = 16;                // slab 0 at 16 (data from 18), slab 1 at 5018 (data from 5020)
    static final long[][] COUNTS = {
            {18, 1}, {19, 3}, {20, SlabDepot.MAX_REFS}, {18 + 4095, 7}, {18 + 4096, 9}, {18 + 4999, 2},
            {5020, 5}, {5020 + 1999, 200}};
    static final long PARKED = 21;

    static int count(long pbn) {
        for (long[] c : COUNTS) if (c[0] == pbn) return (int) c[1];
        return 0;
    }

    @Test
    void referenceBlockBytesAreUnchanged() throws Exception {
        SlabDepot depot = new SlabDepot(SLAB_DATA, PHYSICAL, AREA, 2, () -> { throw new AssertionError("no slab to add"); });
        assertEquals(2, depot.slabRefBlocks());
        for (long[] c : COUNTS) for (int i = 0; i < c[1]; i++) assertTrue(depot.increment(c[0]));
        assertTrue(depot.increment(PARKED));
        depot.decrement(PARKED, 99); // parked until journal entry 99: saved as free
        MemBlockStore store = new MemBlockStore("mem:golden-depot");
        int crc = depot.save(store);

        byte[][] golden = new byte[2][];
        long[] starts = {AREA, AREA + 5002};
        for (int s = 0; s < 2; s++) {
            ByteBuffer b = ByteBuffer.allocate(2 * BlockStore.BLOCK_SIZE);
            store.read(starts[s], b);
            golden[s] = GoldenBytes.check("slab" + s + "-reference-blocks", b.array());
        }

        // The layout: byte i of slab s's reference blocks is the count of data block i.
        assertEquals(1, golden[0][0]);
        assertEquals(3, golden[0][1]);
        assertEquals((byte) 254, golden[0][2]);
        assertEquals(0, golden[0][3]); // parked
        assertEquals(7, golden[0][4095]);
        assertEquals(9, golden[0][4096]);
        assertEquals(2, golden[0][4999]);
        assertEquals(5, golden[1][0]);
        assertEquals((byte) 200, golden[1][1999]);
        for (int s = 0; s < 2; s++) {
            for (int i = 0; i < golden[s].length; i++) {
                long pbn = starts[s] + 2 + i;
                int expect = i < SLAB_DATA ? count(pbn) : 0;
                assertEquals(expect, golden[s][i] & 0xFF, "slab " + s + " byte " + i);
            }
        }
        CRC32C c = new CRC32C();
        c.update(golden[0], 0, SLAB_DATA);
        c.update(golden[1], 0, SLAB_DATA);
        assertEquals((int) c.getValue(), crc, "the super block's refcount CRC covers slabDataBlocks bytes of each slab");

        // Decoding: a fresh depot loads the golden blocks.
        MemBlockStore g = new MemBlockStore("mem:golden-depot-decoded");
        for (int s = 0; s < 2; s++) g.write(starts[s], ByteBuffer.wrap(golden[s]));
        SlabDepot d = new SlabDepot(SLAB_DATA, PHYSICAL, AREA, 2, () -> { throw new AssertionError("no slab to add"); });
        assertTrue(d.load(g, crc));
        for (long[] cnt : COUNTS) assertEquals(cnt[1], d.refcount(cnt[0]), "pbn " + cnt[0]);
        assertEquals(0, d.refcount(PARKED));
        assertEquals(0, d.refcount(22));
        assertEquals(COUNTS.length, d.dataBlocksUsed());
    }
}
