package org.jvdo.format;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What each layout writes, it reads back; the bytes themselves are pinned by the golden tests
 * of journal, packer and vdo-core.
 */
class LayoutRoundTripTest {
    @Test
    void leafPageHoldsEntriesAndChecksumsUnderItsCrc() {
        long[] entries = new long[LeafPageLayout.ENTRIES_PER_PAGE];
        int[] sums = new int[LeafPageLayout.ENTRIES_PER_PAGE];
        entries[339] = MappingEntry.packed(77, 13);
        sums[339] = 0xCAFE;
        ByteBuffer b = LeafPageLayout.encode(entries, sums);
        assertEquals(PageHeader.crc(b), PageHeader.storedCrc(b));
        assertEquals(LeafPageLayout.MAGIC, PageHeader.magic(b));
        assertEquals(entries[339], LeafPageLayout.entry(b, 339));
        assertEquals(0xCAFE, LeafPageLayout.checksum(b, 339));
        b.put(LeafPageLayout.END - 1, (byte) 1);
        assertNotEquals(PageHeader.crc(b), PageHeader.storedCrc(b), "the CRC covers the checksums");
    }

    @Test
    void bitmapPageKeepsLevelIndexAndBits() {
        long[] bits = new long[BitmapPageLayout.WORDS];
        bits[BitmapPageLayout.WORDS - 1] = 1L << 63;
        ByteBuffer b = BitmapPageLayout.encode(2, 5, bits);
        long[] back = new long[BitmapPageLayout.WORDS];
        BitmapPageLayout.bits(b, back);
        assertArrayEquals(bits, back);
        assertTrue(BitmapPageLayout.level(b) == 2 && BitmapPageLayout.index(b) == 5 && BitmapPageLayout.reserved(b) == 0);
        assertEquals(1 + 1, BitmapPageLayout.regionBlocks(1));   // leaves, level-1 pages (the top)
        assertEquals(BitmapPageLayout.BITS_PER_PAGE + 1 + 2 + 1, BitmapPageLayout.regionBlocks(BitmapPageLayout.BITS_PER_PAGE + 1));
    }

    @Test
    void mappingsAndIndexLocationsRoundTrip() {
        for (long m : new long[]{MappingEntry.raw(0x123), MappingEntry.packed(0x123, 0), MappingEntry.packed(IndexFileLayout.MAX_PBN, 13)}) {
            assertTrue(MappingEntry.isValid(m));
            long loc = IndexFileLayout.location(m);
            assertTrue(IndexFileLayout.isValidEntry(1, loc));
            assertEquals(m, IndexFileLayout.mapping(loc));
        }
        assertEquals(-1, IndexFileLayout.location(MappingEntry.ZERO_ENTRY));
        assertFalse(MappingEntry.isValid(MappingEntry.ZERO_ENTRY | 1));
    }

    @Test
    void journalEntryFieldsReadBackInAnyByteOrder() {
        ByteBuffer big = ByteBuffer.allocate(2 * JournalEntryLayout.SIZE).order(ByteOrder.BIG_ENDIAN);
        JournalEntryLayout.encode(big, JournalEntryLayout.SIZE, JournalEntryLayout.OP_MAP, 0xFFFF, -7, 9, 10, 11);
        int at = JournalEntryLayout.SIZE;
        assertEquals(JournalEntryLayout.OP_MAP, JournalEntryLayout.op(big, at));
        assertEquals(0xFFFF, JournalEntryLayout.volume(big, at));
        assertEquals(-7, JournalEntryLayout.checksum(big, at));
        assertEquals(9 + 10 + 11, JournalEntryLayout.lbn(big, at) + JournalEntryLayout.oldMapping(big, at) + JournalEntryLayout.newMapping(big, at));
        assertEquals(ByteOrder.BIG_ENDIAN, big.order(), "the caller's buffer keeps its order");
    }

    @Test
    void sealedJournalBlockAndSuperBlockCopyCheckOut() {
        ByteBuffer j = JournalBlockLayout.allocate();
        JournalBlockLayout.seal(j, 0, 1, 1, 42, 0);
        assertEquals(JournalBlockLayout.checksum(j), j.getInt(JournalBlockLayout.OFFSET_CRC));
        for (int k = 0; k < JournalBlockLayout.SECTORS; k++) {
            int field = k == 0 ? JournalBlockLayout.OFFSET_SECTOR0_CRC : k * JournalBlockLayout.SECTOR_SIZE + JournalBlockLayout.STAMP_CRC;
            assertEquals(JournalBlockLayout.sectorChecksum(j, k), j.getInt(field), "sector " + k);
        }
        ByteBuffer s = ByteBuffer.allocate(SuperBlockLayout.COPY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        SuperBlockLayout.seal(s, 2);
        int used = s.getInt(SuperBlockLayout.USED_LENGTH);
        assertEquals(SuperBlockLayout.usedLength(2), used);
        assertTrue(SuperBlockLayout.checksumMatches(s, used));
    }

    @Test
    void packedHeaderAndReferenceCounts() {
        ByteBuffer p = ByteBuffer.allocate(8 + PackedBlockLayout.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        PackedBlockLayout.putHeader(p, 8, 1);
        PackedBlockLayout.putFragment(p, 8, 0, 100, Codes.FRAGMENT_DEFLATE);
        PackedBlockLayout.sealHeader(p, 8);
        assertEquals(PackedBlockLayout.headerChecksum(p, 8), PackedBlockLayout.storedChecksum(p, 8));
        assertTrue(PackedBlockLayout.count(p, 8) == 1 && PackedBlockLayout.size(p, 8, 0) == 100);
        assertEquals(Codes.FRAGMENT_DEFLATE, PackedBlockLayout.encoding(p, 8, 0));
        ByteBuffer r = RefCountLayout.encode(new byte[]{1, (byte) 254, (byte) 255}, RefCountLayout.refBlocksFor(3));
        assertArrayEquals(new byte[]{1, (byte) 254, 0}, java.util.Arrays.copyOf(r.array(), 3), "a count above MAX_REFS is stored as free");
    }
}
