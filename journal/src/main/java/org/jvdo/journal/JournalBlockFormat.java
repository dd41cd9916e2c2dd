package org.jvdo.journal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The on-disk layout of one journal block, declared in exactly one place so the writer, the
 * replayer and the tests agree on it.
 *
 * <p>Version 2. A block is eight 512-byte sectors, and every sector carries its own integrity
 * data so it can be verified alone: a power loss tears a 4 KiB write only at sector boundaries
 * (each sector entirely old or entirely new), so the block where replay stops can be told apart
 * as a torn write (every sector is a valid sector of the expected block, or of an older block, or
 * zeros) or as damage (a sector that verifies as neither, in a block with no older sector left:
 * it was written completely, and bit rot destroyed part of it). Sector 0:
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
 * Entries are {@link JournalEntry#SIZE} bytes each, 119 per block; unused slots are zero (an
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
public final class JournalBlockFormat {

    public static final int BLOCK_SIZE = 4096;
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

    public static final int ENTRY_SIZE = JournalEntry.SIZE;
    public static final int ENTRIES_IN_SECTOR0 = (SECTOR_SIZE - HEADER_SIZE) / ENTRY_SIZE;
    public static final int ENTRIES_PER_SECTOR = (SECTOR_SIZE - STAMP_SIZE) / ENTRY_SIZE;
    public static final int MAX_ENTRIES = ENTRIES_IN_SECTOR0 + (SECTORS - 1) * ENTRIES_PER_SECTOR;

    static {
        if (HEADER_SIZE + ENTRIES_IN_SECTOR0 * ENTRY_SIZE != SECTOR_SIZE
                || STAMP_SIZE + ENTRIES_PER_SECTOR * ENTRY_SIZE != SECTOR_SIZE || MAX_ENTRIES != 119) {
            throw new AssertionError("journal block layout does not add up");
        }
    }

    private static final byte[] ZERO_CRC = new byte[4];

    private JournalBlockFormat() {
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
        return ByteBuffer.allocate(BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
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
        ByteBuffer b = le(block);
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

    /** Builds a complete sealed block; mainly for tests and tools. */
    public static ByteBuffer encode(long blockSeq, long firstEntrySeq, long nonce, List<JournalEntry> entries) {
        if (entries.size() > MAX_ENTRIES) {
            throw new IllegalArgumentException("entry count " + entries.size() + " out of range 0.." + MAX_ENTRIES);
        }
        ByteBuffer b = allocate();
        for (int i = 0; i < entries.size(); i++) {
            entries.get(i).encodeTo(b, entryOffset(i));
        }
        seal(b, entries.size(), blockSeq, firstEntrySeq, nonce);
        return b;
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
        d.limit(OFFSET_CRC).position(OFFSET_SECTOR0_CRC + 4);
        crc.update(d);
        crc.update(ZERO_CRC, 0, ZERO_CRC.length);
        d.limit(BLOCK_SIZE).position(OFFSET_CRC + 4);
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
            crc.update(ZERO_CRC, 0, 4);
            d.limit(SECTOR_SIZE).position(OFFSET_SECTOR0_CRC + 4);
            crc.update(d);
        } else {
            d.limit(base + STAMP_CRC).position(base);
            crc.update(d);
            crc.update(ZERO_CRC, 0, 4);
            d.limit(base + SECTOR_SIZE).position(base + STAMP_CRC + 4);
            crc.update(d);
        }
        return (int) crc.getValue();
    }

    /** What one sector of the block where replay stopped is, judged alone. */
    public enum SectorState {
        /** A valid sector of the expected block (this nonce, the expected sequence). */
        EXPECTED,
        /** Zeros, or a valid sector of an older block (earlier sequence or another pool's nonce). */
        OLDER,
        /** Neither: its check fails (or it claims a later sequence than expected). */
        CORRUPT
    }

    /** A sector's state and, for messages, why. */
    public record Sector(int index, SectorState state, String why) {
    }

    /** Judges sector {@code k} of {@code block} alone against the expected nonce and block sequence. */
    public static Sector sector(ByteBuffer block, int k, long expectedNonce, long expectedBlockSeq) {
        ByteBuffer b = le(block);
        int base = k * SECTOR_SIZE;
        boolean allZero = true;
        for (int i = base; i < base + SECTOR_SIZE; i += 8) {
            if (b.getLong(i) != 0) {
                allZero = false;
                break;
            }
        }
        if (allZero) {
            return new Sector(k, SectorState.OLDER, "zeros");
        }
        int magic = b.getInt(base + (k == 0 ? OFFSET_MAGIC : STAMP_MAGIC));
        int wantMagic = k == 0 ? MAGIC : SECTOR_MAGIC;
        if (magic != wantMagic) {
            return new Sector(k, SectorState.CORRUPT, String.format("bad sector magic 0x%08X", magic));
        }
        int version = b.getShort(base + (k == 0 ? OFFSET_VERSION : STAMP_VERSION)) & 0xFFFF;
        if (version != VERSION) {
            return new Sector(k, SectorState.CORRUPT, "unsupported version " + version);
        }
        if (k > 0) {
            int index = b.getShort(base + STAMP_INDEX) & 0xFFFF;
            if (index != k) {
                return new Sector(k, SectorState.CORRUPT, "sector stamp says index " + index);
            }
        }
        int stored = b.getInt(k == 0 ? OFFSET_SECTOR0_CRC : base + STAMP_CRC);
        int computed = sectorChecksum(b, k);
        if (stored != computed) {
            return new Sector(k, SectorState.CORRUPT,
                    String.format("sector checksum mismatch (stored 0x%08X, computed 0x%08X)", stored, computed));
        }
        long seq = b.getLong(k == 0 ? OFFSET_BLOCK_SEQ : base + STAMP_BLOCK_SEQ);
        long nonce = b.getLong(k == 0 ? OFFSET_NONCE : base + STAMP_NONCE);
        if (nonce != expectedNonce) {
            return new Sector(k, SectorState.OLDER, String.format("another pool's (nonce 0x%016X)", nonce));
        }
        if (seq < expectedBlockSeq) {
            return new Sector(k, SectorState.OLDER, "of block seq " + seq);
        }
        if (seq > expectedBlockSeq) {
            return new Sector(k, SectorState.CORRUPT, "of block seq " + seq + ", later than the expected " + expectedBlockSeq);
        }
        return new Sector(k, SectorState.EXPECTED, "of block seq " + seq);
    }

    /**
     * Examines an invalid block (the one where replay stopped, expected to hold block sequence
     * {@code expectedBlockSeq} starting at entry {@code expectedFirstEntrySeq}) sector by sector.
     *
     * <p>Torn (not damaged): some sector is zeros or an older block's, so the write of this block
     * never completed and none of its entries can have been acknowledged; or every sector is the
     * expected block's (two attempts at writing it, mixed). Damaged: no sector is older, and some
     * sector verifies as nothing: the block was written completely, then bit rot hit it.
     */
    public static Examined examine(ByteBuffer block, long expectedNonce, long expectedBlockSeq, long expectedFirstEntrySeq) {
        ByteBuffer b = le(block);
        List<Sector> sectors = new ArrayList<>(SECTORS);
        boolean older = false;
        boolean corrupt = false;
        for (int k = 0; k < SECTORS; k++) {
            Sector s = sector(b, k, expectedNonce, expectedBlockSeq);
            sectors.add(s);
            older |= s.state() == SectorState.OLDER;
            corrupt |= s.state() == SectorState.CORRUPT;
        }
        boolean damaged = corrupt && !older;
        boolean headerReadable = sectors.get(0).state() == SectorState.EXPECTED;
        long first = expectedFirstEntrySeq;
        int count = 0;
        boolean countKnown = false;
        List<JournalEntry> readable = new ArrayList<>();
        if (damaged) {
            if (headerReadable) {
                int c = b.getShort(OFFSET_ENTRY_COUNT) & 0xFFFF;
                if (c <= MAX_ENTRIES) {
                    first = b.getLong(OFFSET_FIRST_ENTRY_SEQ);
                    count = c;
                    countKnown = true;
                }
            }
            for (int i = 0; i < MAX_ENTRIES; i++) {
                Sector s = sectors.get(sectorOf(i));
                int off = entryOffset(i);
                if (s.state() == SectorState.CORRUPT) {
                    if (!countKnown) count = i + 1;   // unreadable slots may all have held entries
                    continue;
                }
                if (countKnown && i >= count) break;
                if ((b.get(off) & 0xFF) == 0) continue; // an unused slot (ops start at 1)
                try {
                    readable.add(JournalEntry.decodeFrom(b, off));
                    if (!countKnown) count = i + 1;
                } catch (IllegalArgumentException e) {
                    // not an entry after all; the sector's CRC matched, so it cannot happen
                }
            }
        }
        return new Examined(List.copyOf(sectors), damaged, first, count, countKnown, List.copyOf(readable));
    }

    /**
     * What {@link #examine} found.
     *
     * @param damaged    true: the block was written completely and is now partly unreadable
     * @param firstEntrySeq the block's first entry sequence (from its header, or the expected one)
     * @param entryBound  when damaged: how many entries the block held ({@code countKnown}), or at
     *                    most held (the header sector is unreadable)
     * @param readable    when damaged: the entries in sectors that still verify
     */
    public record Examined(List<Sector> sectors, boolean damaged, long firstEntrySeq, int entryBound, boolean countKnown,
                           List<JournalEntry> readable) {
        /** e.g. "sector 0 corrupt (sector checksum mismatch ...), sectors 1..7 of block seq 9". */
        public String describe() {
            StringBuilder sb = new StringBuilder();
            for (Sector s : sectors) {
                if (sb.length() > 0) sb.append(", ");
                sb.append("sector ").append(s.index()).append(' ')
                        .append(s.state().name().toLowerCase()).append(" (").append(s.why()).append(')');
            }
            return sb.toString();
        }

        /** The sectors in {@code state}, e.g. "0, 3". */
        public String indexes(SectorState state) {
            StringBuilder sb = new StringBuilder();
            for (Sector s : sectors) {
                if (s.state() != state) continue;
                if (sb.length() > 0) sb.append(", ");
                sb.append(s.index());
            }
            return sb.toString();
        }
    }

    /**
     * Checks the header of the block at index 0 of {@code block}. Returns {@code null} if it is a
     * valid block of this pool with sequence {@code expectedBlockSeq}, otherwise the reason it is
     * not (checks in order: magic, version, checksum, nonce, sequence, entry count).
     */
    public static String check(ByteBuffer block, long expectedNonce, long expectedBlockSeq) {
        ByteBuffer b = le(block);
        int magic = b.getInt(OFFSET_MAGIC);
        if (magic != MAGIC) {
            return String.format("bad magic 0x%08X", magic);
        }
        int version = b.getShort(OFFSET_VERSION) & 0xFFFF;
        if (version != VERSION) {
            return "unsupported version " + version;
        }
        int stored = b.getInt(OFFSET_CRC);
        int computed = checksum(b);
        if (stored != computed) {
            return String.format("checksum mismatch (stored 0x%08X, computed 0x%08X)", stored, computed);
        }
        long nonce = b.getLong(OFFSET_NONCE);
        if (nonce != expectedNonce) {
            return String.format("wrong nonce 0x%016X (expected 0x%016X)", nonce, expectedNonce);
        }
        long seq = b.getLong(OFFSET_BLOCK_SEQ);
        if (seq != expectedBlockSeq) {
            return "sequence " + seq + " where " + expectedBlockSeq + " expected";
        }
        int count = b.getShort(OFFSET_ENTRY_COUNT) & 0xFFFF;
        if (count > MAX_ENTRIES) {
            return "entry count " + count + " out of range 0.." + MAX_ENTRIES;
        }
        return null;
    }

    /** Decodes and validates a block; see {@link #check}. */
    public static DecodedBlock decode(ByteBuffer block, long expectedNonce, long expectedBlockSeq) {
        String failure = check(block, expectedNonce, expectedBlockSeq);
        if (failure != null) {
            return new DecodedBlock(failure, 0, 0, List.of(), 0);
        }
        ByteBuffer b = le(block);
        int count = b.getShort(OFFSET_ENTRY_COUNT) & 0xFFFF;
        List<JournalEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            entries.add(JournalEntry.decodeFrom(b, entryOffset(i)));
        }
        return new DecodedBlock(null, b.getLong(OFFSET_BLOCK_SEQ), b.getLong(OFFSET_FIRST_ENTRY_SEQ), List.copyOf(entries),
                b.getLong(OFFSET_COMMIT_POINT));
    }

    /**
     * Result of {@link #decode}: either {@code failure} is non-null (and the rest is empty) or the
     * block is valid.
     */
    public record DecodedBlock(String failure, long blockSeq, long firstEntrySeq, List<JournalEntry> entries, long commitPoint) {
        public boolean valid() {
            return failure == null;
        }
    }

    private static ByteBuffer le(ByteBuffer block) {
        if (block.capacity() < BLOCK_SIZE) {
            throw new IllegalArgumentException("journal block buffer must hold " + BLOCK_SIZE + " bytes");
        }
        return block.order() == ByteOrder.LITTLE_ENDIAN ? block : block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }
}
