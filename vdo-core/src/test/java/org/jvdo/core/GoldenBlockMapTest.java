package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.jvdo.testsupport.GoldenBytes;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of a block-map leaf page (page version 2, with per-entry checksums), of the
 * {@link Mapping} entry encodings, and of {@link BlockMapTree} bitmap pages (version 1), see
 * {@link GoldenBytes}.
 *
 * <p>Regenerating a file ({@code -Djvdo.golden.write=true}) means the on-disk format changed,
 * which must bump the pool format version.
 */
class GoldenBlockMapTest {
    @Test
    void mappingEntryEncodingsAreUnchanged() {
        assertEquals(0L, Mapping.UNMAPPED_ENTRY);
        assertEquals(0x0100_0000_0000_0000L, Mapping.ZERO_ENTRY);
        assertEquals(0x0200_BEEF_1234_5678L, Mapping.raw(0xBEEF_1234_5678L));
        assertEquals(0x1000_0000_0000_0007L, Mapping.packed(7, 0));
        assertEquals(0x1D00_0000_0000_0009L, Mapping.packed(9, 13));
        assertEquals(0x0200_FFFF_FFFF_FFFFL, Mapping.raw(-1L)); // PBN is the low 48 bits
        assertEquals(0, Mapping.UNMAPPED);
        assertEquals(1, Mapping.ZERO);
        assertEquals(2, Mapping.RAW);
        assertEquals(16, Mapping.PACKED_BASE);
        assertEquals(14, Mapping.MAX_SLOTS);
        assertEquals(0x0000_FFFF_FFFF_FFFFL, Mapping.PBN_MASK);
    }

    static long[] entries() {
        long[] e = new long[BlockMap.ENTRIES_PER_PAGE];
        e[0] = Mapping.raw(0x1234);
        e[1] = Mapping.ZERO_ENTRY;
        e[2] = Mapping.UNMAPPED_ENTRY;
        e[3] = Mapping.packed(0xABCDEF, 0);
        e[4] = Mapping.packed(0xABCDEF, 13);
        e[5] = Mapping.raw(0xFFFF_FFFF_FFFFL);
        e[339] = Mapping.raw(0x0102_0304_0506L);
        return e;
    }

    static int[] checksums() {
        int[] c = new int[BlockMap.ENTRIES_PER_PAGE];
        c[0] = 0x11223344;
        c[3] = 0xA1B2C3D4;
        c[4] = 0xA1B2C3D4; // the same checksum as another entry: checksums are per entry, repeats are allowed
        c[5] = 0x7FFFFFFF;
        c[339] = 0xDEADBEEF;
        return c;
    }

    @Test
    void leafPageBytesAreUnchanged() {
        ByteBuffer enc = BlockMap.encodePage(entries(), checksums());
        byte[] actual = new byte[BlockStore.BLOCK_SIZE];
        enc.get(0, actual);
        byte[] golden = GoldenBytes.check("blockmap-leaf-page", actual);

        long[] e = new long[BlockMap.ENTRIES_PER_PAGE];
        int[] c = new int[BlockMap.ENTRIES_PER_PAGE];
        BlockMap.decodePage(ByteBuffer.wrap(golden), e, c, "golden");
        assertArrayEquals(entries(), e);
        assertArrayEquals(checksums(), c);
        assertEquals("raw@4660", Mapping.describe(e[0]));
        assertEquals("zero", Mapping.describe(e[1]));
        assertEquals("unmapped", Mapping.describe(e[2]));
        assertEquals("packed@11259375#0", Mapping.describe(e[3]));
        assertEquals("packed@11259375#13", Mapping.describe(e[4]));

        ByteBuffer g = ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x4D42, g.getShort(4)); // "BM"
        assertEquals('B', golden[4]);
        assertEquals('M', golden[5]);
        assertEquals(2, g.getShort(6));
        assertEquals(Mapping.raw(0x1234), g.getLong(8));
        assertEquals(Mapping.raw(0x0102_0304_0506L), g.getLong(8 + 339 * 8));
        assertEquals(2728, BlockMap.CHECKSUMS_OFFSET);
        assertEquals(0x11223344, g.getInt(2728));
        assertEquals(0xDEADBEEF, g.getInt(2728 + 339 * 4));
        assertEquals(0L, g.getLong(4088)); // 8 trailing zero bytes
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(golden, 4, 4092);
        assertEquals((int) crc.getValue(), g.getInt(0));
    }

    /** A two-level tree: 40000 leaves, so two level-1 pages and a level-2 top. */
    @Test
    void bitmapPageBytesAreUnchanged() throws Exception {
        final long start = 100, leaves = 40_000;
        long[] written = {0, 3, 64, 32_639, 32_640 + 7, 39_999};
        MemBlockStore store = new MemBlockStore("mem:golden-tree");
        BlockMapTree.format(store, start, leaves);
        BlockMapTree t = new BlockMapTree("golden", store, start, leaves, 4);
        t.open();
        assertEquals(2, t.levelCount());
        for (long leaf : written) t.markWritten(leaf);
        t.flush();
        assertEquals(start + leaves, t.levelStart(1));
        assertEquals(start + leaves + 2, t.levelStart(2));
        assertEquals(start + leaves + 3, BlockMapTree.regionBlocks(leaves) + start);

        String[] names = {"blockmap-tree-level1-index0", "blockmap-tree-level1-index1", "blockmap-tree-top"};
        long[] blocks = {start + leaves, start + leaves + 1, start + leaves + 2};
        int[] levels = {1, 1, 2};
        int[] indexes = {0, 1, 0};
        for (int i = 0; i < 3; i++) {
            ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
            store.read(blocks[i], b);
            byte[] golden = GoldenBytes.check(names[i], b.array());
            ByteBuffer g = ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x5442, g.getShort(4), names[i]); // "BT"
            assertEquals('B', golden[4]);
            assertEquals('T', golden[5]);
            assertEquals(1, g.getShort(6), names[i]);
            assertEquals(levels[i], g.getShort(8), names[i]);
            assertEquals(0, g.getShort(10), names[i]);
            assertEquals(indexes[i], g.getInt(12), names[i]);
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(golden, 4, 4092);
            assertEquals((int) crc.getValue(), g.getInt(0), names[i]);
        }
        // Bit i of a page is byte 16 + i / 8, LSB first.
        byte[] l0 = GoldenBytes.read("blockmap-tree-level1-index0");
        assertEquals(0b0000_1001, l0[16]);          // leaves 0 and 3
        assertEquals(0b0000_0001, l0[16 + 8]);      // leaf 64
        assertEquals((byte) 0x80, l0[16 + 32_639 / 8]); // leaf 32639 = bit 7 of byte 4079
        byte[] l1 = GoldenBytes.read("blockmap-tree-level1-index1");
        assertEquals((byte) 0x80, l1[16]);          // leaf 32647 = bit 7 of page 1
        assertEquals(1 << ((39_999 - 32_640) % 8), l1[16 + (39_999 - 32_640) / 8] & 0xFF);
        byte[] top = GoldenBytes.read("blockmap-tree-top");
        assertEquals(0b0000_0011, top[16]);         // both level-1 pages

        // Decoding the golden pages (written into a fresh store) gives the same written set.
        MemBlockStore fresh = new MemBlockStore("mem:golden-tree-decoded");
        for (int i = 0; i < 3; i++) fresh.write(blocks[i], ByteBuffer.wrap(GoldenBytes.read(names[i])));
        BlockMapTree d = new BlockMapTree("golden", fresh, start, leaves, 4);
        d.open();
        java.util.List<Long> seen = new java.util.ArrayList<>();
        d.forEachWrittenLeaf(seen::add);
        java.util.List<Long> expected = new java.util.ArrayList<>();
        for (long w : written) expected.add(w);
        assertEquals(expected, seen);
        assertFalse(d.isWritten(1));
        assertTrue(d.isWritten(32_647));
    }
}
