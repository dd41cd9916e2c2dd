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
 * <pre>
 * offset size  field
 *      0    4  magic 0x4C4A564A ("JVJL")
 *      4    2  version (1)
 *      6    2  entry count (0..126)
 *      8    8  block sequence (first block is 1)
 *     16    8  sequence of the first entry in the block (entries are numbered globally from 1)
 *     24    8  pool nonce
 *     32    8  commit point: the highest entry sequence already durable when this block was
 *              written (0 = unknown, as in blocks written before pool format 2). A valid block
 *              whose commit point reaches past an unreadable block proves that block's entries
 *              were durable: the journal is damaged, not merely torn by a crash.
 *     40   20  reserved, zero
 *     60    4  CRC32C of all 4096 bytes with this field taken as zero
 *     64 126*32 entries ({@link JournalEntry#SIZE} bytes each)
 * </pre>
 * All integers are little-endian. The block with sequence {@code s} lives at ring index
 * {@code (s - 1) % blockCount}.
 */
public final class JournalBlockFormat {

    public static final int BLOCK_SIZE = 4096;
    public static final int MAGIC = 0x4C4A564A;
    public static final int VERSION = 1;

    public static final int OFFSET_MAGIC = 0;
    public static final int OFFSET_VERSION = 4;
    public static final int OFFSET_ENTRY_COUNT = 6;
    public static final int OFFSET_BLOCK_SEQ = 8;
    public static final int OFFSET_FIRST_ENTRY_SEQ = 16;
    public static final int OFFSET_NONCE = 24;
    public static final int OFFSET_COMMIT_POINT = 32;
    public static final int OFFSET_RESERVED = 40;
    public static final int RESERVED_SIZE = 20;
    public static final int OFFSET_CRC = 60;
    public static final int HEADER_SIZE = 64;
    public static final int ENTRY_SIZE = JournalEntry.SIZE;
    public static final int MAX_ENTRIES = (BLOCK_SIZE - HEADER_SIZE) / ENTRY_SIZE;

    static {
        if (HEADER_SIZE + MAX_ENTRIES * ENTRY_SIZE != BLOCK_SIZE || MAX_ENTRIES != 126) {
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
        return HEADER_SIZE + i * ENTRY_SIZE;
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
        for (int i = OFFSET_RESERVED; i < OFFSET_CRC + 4; i++) {
            b.put(i, (byte) 0);
        }
        b.putLong(OFFSET_COMMIT_POINT, commitPoint);
        if (b.hasArray()) {
            int base = b.arrayOffset();
            Arrays.fill(b.array(), base + entryOffset(entryCount), base + BLOCK_SIZE, (byte) 0);
        } else {
            for (int i = entryOffset(entryCount); i < BLOCK_SIZE; i++) {
                b.put(i, (byte) 0);
            }
        }
        b.putInt(OFFSET_CRC, checksum(b));
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

    /** CRC32C over the 4096 bytes from index 0 of {@code block}, with the CRC field taken as zero. */
    public static int checksum(ByteBuffer block) {
        CRC32C crc = new CRC32C();
        ByteBuffer d = block.duplicate();
        d.clear();
        d.limit(OFFSET_CRC);
        crc.update(d);
        crc.update(ZERO_CRC, 0, ZERO_CRC.length);
        d.limit(BLOCK_SIZE).position(OFFSET_CRC + 4);
        crc.update(d);
        return (int) crc.getValue();
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
