package org.jvdo.journal;

import org.jvdo.format.JournalBlockLayout;
import org.jvdo.format.JournalEntryLayout;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.jvdo.format.JournalBlockLayout.*;

/**
 * One journal block: sealing, decoding and validation, and the examination of the block where
 * replay stops. The byte layout (version 2: eight 512-byte sectors, each with its own stamp and
 * CRC; header, entry slots, whole-block CRC) is declared by {@link JournalBlockLayout} (format
 * module), and the entries by {@link JournalEntryLayout}; this class keeps the names the journal
 * and its users know it by.
 *
 * <p>Every sector carries its own integrity data so it can be verified alone: a power loss
 * tears a 4 KiB write only at sector boundaries (each sector entirely old or entirely new), so
 * the block where replay stops can be told apart as a torn write (every sector is a valid sector
 * of the expected block, or of an older block, or zeros) or as damage (a sector that verifies as
 * neither, in a block with no older sector left: it was written completely, and bit rot
 * destroyed part of it): see {@link #examine}. That judgement is logic, not layout, so it stays
 * here. The whole-block CRC is what makes a block valid; the sector CRCs only classify an
 * invalid one.
 *
 * <p>Version 1 (126 entries, one CRC) is not read: it was written only by pools of format 2,
 * which are refused before the journal is opened.
 */
public final class JournalBlockFormat {

    public static final int BLOCK_SIZE = JournalBlockLayout.BLOCK_SIZE;
    public static final int SECTOR_SIZE = JournalBlockLayout.SECTOR_SIZE;
    public static final int SECTORS = JournalBlockLayout.SECTORS;
    public static final int OFFSET_SECTOR0_CRC = JournalBlockLayout.OFFSET_SECTOR0_CRC;
    public static final int MAX_ENTRIES = JournalBlockLayout.MAX_ENTRIES;

    private JournalBlockFormat() {
    }

    /** Ring index of block sequence {@code blockSeq} (which starts at 1) in a ring of {@code blockCount}. */
    public static long ringIndex(long blockSeq, int blockCount) {
        return JournalBlockLayout.ringIndex(blockSeq, blockCount);
    }

    /** Absolute offset of entry slot {@code i} in a block. */
    public static int entryOffset(int i) {
        return JournalBlockLayout.entryOffset(i);
    }

    /** The sector (0..7) holding entry slot {@code i}. */
    public static int sectorOf(int i) {
        return JournalBlockLayout.sectorOf(i);
    }

    /** Allocates a zeroed little-endian block buffer. */
    public static ByteBuffer allocate() {
        return JournalBlockLayout.allocate();
    }

    /** Writes the header, zeroes the unused entry slots and stores the CRCs: see {@link JournalBlockLayout#seal}. */
    public static void seal(ByteBuffer block, int entryCount, long blockSeq, long firstEntrySeq, long nonce) {
        JournalBlockLayout.seal(block, entryCount, blockSeq, firstEntrySeq, nonce);
    }

    /** As {@link #seal(ByteBuffer, int, long, long, long)}, recording the commit point. */
    public static void seal(ByteBuffer block, int entryCount, long blockSeq, long firstEntrySeq, long nonce, long commitPoint) {
        JournalBlockLayout.seal(block, entryCount, blockSeq, firstEntrySeq, nonce, commitPoint);
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

    /** The whole-block CRC32C of {@code block}: see {@link JournalBlockLayout#checksum}. */
    public static int checksum(ByteBuffer block) {
        return JournalBlockLayout.checksum(block);
    }

    /** The CRC32C of sector {@code k}: see {@link JournalBlockLayout#sectorChecksum}. */
    public static int sectorChecksum(ByteBuffer block, int k) {
        return JournalBlockLayout.sectorChecksum(block, k);
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
                if (JournalEntryLayout.op(b, off) == 0) continue; // an unused slot (ops start at 1)
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
        return JournalBlockLayout.view(block);
    }
}
