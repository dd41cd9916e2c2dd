package org.jvdo.format;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * A recovery-journal block, version 2: eight 512-byte sectors, every one carrying its own
 * integrity data so it can be verified alone (a power loss tears a 4 KiB write only at sector
 * boundaries; telling a torn write from damage is the journal's business, see {@code
 * JournalBlockFormat.examine}). Entries are {@link JournalEntryLayout}s. Sector 0:
 * <pre>
 * offset size  field
 *      0    4  magic 0x4C4A564A ("JVJL")
 *      4    2  version (2)
 *      6    2  entry count (0..119)
 *      8    8  block sequence (first block is 1)
 *     16    8  sequence of the first entry in the block (entries are numbered globally from 1)
 *     24    8  pool nonce
 *     32    8  commit point: the highest entry sequence already durable when this block was
 *              written (0 = none). A valid block whose commit point reaches past an unreadable
 *              block proves that block's entries were durable: the journal is damaged, not
 *              merely torn by a crash.
 *     40    4  CRC32C of sector 0 (bytes 0..511, so including the block CRC) with this field
 *              taken as zero
 *     44   16  reserved, zero
 *     60    4  CRC32C of all 4096 bytes with this field and the sector 0 CRC taken as zero
 *     64 14*32 entry slots 0..13
 * </pre>
 * Sector {@code k} (1..7), at byte {@code 512 * k}:
 * <pre>
 *      0    4  sector magic 0x534A564A ("JVJS")
 *      4    2  version (2)
 *      6    2  sector index k
 *      8    8  block sequence (as in sector 0)
 *     16    8  pool nonce
 *     24    4  reserved, zero
 *     28    4  CRC32C of the sector's 512 bytes with this field taken as zero
 *     32 15*32 entry slots 14 + 15 * (k - 1) .. + 14
 * </pre>
 * Entries are {@link JournalEntryLayout#SIZE} bytes each, 119 per block; unused slots are zero (an
 * entry's op byte is never 0). The whole-block CRC is what makes a block valid; the sector CRCs
 * only classify an invalid one (the whole-block CRC also rejects a block mixing sectors of two
 * write attempts of the same sequence, which every sector check would pass). The block CRC covers
 * the stamps of sectors 1..7 but not the sector 0 CRC, which covers it: rot in that one field
 * leaves the block valid and every entry readable. All integers are
 * little-endian. The block with sequence {@code s} lives at ring index {@code (s - 1) % blockCount}.
 *
 * <p>Version 1 (126 entries, one CRC) is not read: it was written only by pools of format 2,
 * which are refused before the journal is opened.
 */
public final class JournalBlockLayout {

    public static final int BLOCK_SIZE = Block.SIZE;
    public static final int MAGIC = 0x4C4A564A;
    public static final int SECTOR_MAGIC = 0x534A564A;
    public static final int VERSION = 2;

    public static final int SECTOR_SIZE = 512;
    public static final int SECTORS = BLOCK_SIZE / SECTOR_SIZE;

    public static final int OFFSET_MAGIC = 0;
    public static final int OFFSET_VERSION = 4;
    public static final int OFFSET_ENTRY_COUNT = 6;
    public static final int OFFSET_BLOCK_SEQ = 8;
    public static final int OFFSET_FIRST_ENTRY_SEQ = 16;
    public static final int OFFSET_NONCE = 24;
    public static final int OFFSET_COMMIT_POINT = 32;
    public static final int OFFSET_SECTOR0_CRC = 40;
    public static final int OFFSET_RESERVED = 44;
    public static final int RESERVED_SIZE = 16;
    public static final int OFFSET_CRC = 60;
    public static final int HEADER_SIZE = 64;

    /** Offsets within a sector 1..7 of its stamp. */
    public static final int STAMP_MAGIC = 0;
    public static final int STAMP_VERSION = 4;
    public static final int STAMP_INDEX = 6;
    public static final int STAMP_BLOCK_SEQ = 8;
    public static final int STAMP_NONCE = 16;
    public static final int STAMP_RESERVED = 24;
    public static final int STAMP_CRC = 28;
    public static final int STAMP_SIZE = 32;
    /** Size of each CRC field. */
    public static final int CRC_SIZE = 4;

    public static final int ENTRY_SIZE = JournalEntryLayout.SIZE;
    public static final int ENTRIES_IN_SECTOR0 = (SECTOR_SIZE - HEADER_SIZE) / ENTRY_SIZE;
    public static final int ENTRIES_PER_SECTOR = (SECTOR_SIZE - STAMP_SIZE) / ENTRY_SIZE;
    public static final int MAX_ENTRIES = ENTRIES_IN_SECTOR0 + (SECTORS - 1) * ENTRIES_PER_SECTOR;

    static {
        if (HEADER_SIZE + ENTRIES_IN_SECTOR0 * ENTRY_SIZE != SECTOR_SIZE
                || STAMP_SIZE + ENTRIES_PER_SECTOR * ENTRY_SIZE != SECTOR_SIZE || MAX_ENTRIES != 119) {
            throw new AssertionError("journal block layout does not add up");
        }
    }

    private static final byte[] ZERO_CRC = new byte[CRC_SIZE];

    private JournalBlockLayout() {
    }

    /** Ring index of block sequence {@code blockSeq} (which starts at 1) in a ring of {@code blockCount}. */
    public static long ringIndex(long blockSeq, int blockCount) {
        return Math.floorMod(blockSeq - 1, (long) blockCount);
    }

    /** Absolute offset of entry slot {@code i} in a block. */
    public static int entryOffset(int i) {
        if (i < 0 || i >= MAX_ENTRIES) {
            throw new IndexOutOfBoundsException("entry slot " + i + " out of range 0.." + (MAX_ENTRIES - 1));
        }
        if (i < ENTRIES_IN_SECTOR0) {
            return HEADER_SIZE + i * ENTRY_SIZE;
        }
        int j = i - ENTRIES_IN_SECTOR0;
        return (1 + j / ENTRIES_PER_SECTOR) * SECTOR_SIZE + STAMP_SIZE + (j % ENTRIES_PER_SECTOR) * ENTRY_SIZE;
    }

    /** The sector (0..7) holding entry slot {@code i}. */
    public static int sectorOf(int i) {
        return entryOffset(i) / SECTOR_SIZE;
    }

    /** Allocates a zeroed little-endian block buffer. */
    public static ByteBuffer allocate() {
        return Block.allocate();
    }

    /**
     * Writes the header (zeroing the reserved bytes and the CRC field), zeroes the unused entry
     * slots and stores the CRC. The entries themselves must already be in place.
     */
    public static void seal(ByteBuffer block, int entryCount, long blockSeq, long firstEntrySeq, long nonce) {
        seal(block, entryCount, blockSeq, firstEntrySeq, nonce, 0);
    }

    /** As {@link #seal(ByteBuffer, int, long, long, long)}, recording the commit point (see the layout). */
    public static void seal(ByteBuffer block, int entryCount, long blockSeq, long firstEntrySeq, long nonce, long commitPoint) {
        if (entryCount < 0 || entryCount > MAX_ENTRIES) {
            throw new IllegalArgumentException("entry count " + entryCount + " out of range 0.." + MAX_ENTRIES);
        }
        ByteBuffer b = view(block);
        b.putInt(OFFSET_MAGIC, MAGIC);
        b.putShort(OFFSET_VERSION, (short) VERSION);
        b.putShort(OFFSET_ENTRY_COUNT, (short) entryCount);
        b.putLong(OFFSET_BLOCK_SEQ, blockSeq);
        b.putLong(OFFSET_FIRST_ENTRY_SEQ, firstEntrySeq);
        b.putLong(OFFSET_NONCE, nonce);
        b.putLong(OFFSET_COMMIT_POINT, commitPoint);
        zero(b, OFFSET_SECTOR0_CRC, HEADER_SIZE);
        for (int i = entryCount; i < MAX_ENTRIES; i++) {
            int off = entryOffset(i);
            zero(b, off, off + ENTRY_SIZE);
        }
        for (int k = 1; k < SECTORS; k++) {
            int base = k * SECTOR_SIZE;
            b.putInt(base + STAMP_MAGIC, SECTOR_MAGIC);
            b.putShort(base + STAMP_VERSION, (short) VERSION);
            b.putShort(base + STAMP_INDEX, (short) k);
            b.putLong(base + STAMP_BLOCK_SEQ, blockSeq);
            b.putLong(base + STAMP_NONCE, nonce);
            zero(b, base + STAMP_RESERVED, base + STAMP_SIZE);
            b.putInt(base + STAMP_CRC, sectorChecksum(b, k));
        }
        b.putInt(OFFSET_CRC, checksum(b));
        b.putInt(OFFSET_SECTOR0_CRC, sectorChecksum(b, 0));
    }

    private static void zero(ByteBuffer b, int from, int to) {
        if (b.hasArray()) {
            int base = b.arrayOffset();
            Arrays.fill(b.array(), base + from, base + to, (byte) 0);
        } else {
            for (int i = from; i < to; i++) {
                b.put(i, (byte) 0);
            }
        }
    }

    /**
     * CRC32C over the 4096 bytes from index 0 of {@code block}, with the CRC field and the sector 0
     * CRC field taken as zero (the sector 0 CRC is computed after it, over it).
     */
    public static int checksum(ByteBuffer block) {
        CRC32C crc = new CRC32C();
        ByteBuffer d = block.duplicate();
        d.clear();
        d.limit(OFFSET_SECTOR0_CRC);
        crc.update(d);
        crc.update(ZERO_CRC, 0, ZERO_CRC.length);
        d.limit(OFFSET_CRC).position(OFFSET_SECTOR0_CRC + CRC_SIZE);
        crc.update(d);
        crc.update(ZERO_CRC, 0, ZERO_CRC.length);
        d.limit(BLOCK_SIZE).position(OFFSET_CRC + CRC_SIZE);
        crc.update(d);
        return (int) crc.getValue();
    }

    /**
     * CRC32C of sector {@code k} (0..7) of {@code block}, with its check field taken as zero (for
     * sector 0 it covers the whole-block CRC, so rot there is seen too).
     */
    public static int sectorChecksum(ByteBuffer block, int k) {
        if (k < 0 || k >= SECTORS) {
            throw new IllegalArgumentException("sector " + k + " out of range 0.." + (SECTORS - 1));
        }
        CRC32C crc = new CRC32C();
        ByteBuffer d = block.duplicate();
        d.clear();
        int base = k * SECTOR_SIZE;
        if (k == 0) {
            d.limit(OFFSET_SECTOR0_CRC);
            crc.update(d);
            crc.update(ZERO_CRC, 0, CRC_SIZE);
            d.limit(SECTOR_SIZE).position(OFFSET_SECTOR0_CRC + CRC_SIZE);
            crc.update(d);
        } else {
            d.limit(base + STAMP_CRC).position(base);
            crc.update(d);
            crc.update(ZERO_CRC, 0, CRC_SIZE);
            d.limit(base + SECTOR_SIZE).position(base + STAMP_CRC + CRC_SIZE);
            crc.update(d);
        }
        return (int) crc.getValue();
    }

    /** A little-endian view of a journal block buffer (itself when it is one). */
    public static ByteBuffer view(ByteBuffer block) {
        if (block.capacity() < BLOCK_SIZE) {
            throw new IllegalArgumentException("journal block buffer must hold " + BLOCK_SIZE + " bytes");
        }
        return Block.littleEndian(block);
    }
}
