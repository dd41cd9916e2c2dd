package org.jvdo.format;

import java.nio.ByteBuffer;

/**
 * One recovery-journal entry, {@value #SIZE} bytes, little-endian: op u8 (1..255; 0 marks an
 * unused slot), reserved u8 (0), volume u16, checksum u32 (the content checksum of the new
 * mapping's block, 0 when it has none; pool format 3, reserved 0 before), lbn u64, old mapping
 * u64, new mapping u64 ({@link MappingEntry}). The accessors take absolute offsets and any byte
 * order (they read and write little-endian), and never move the buffer's position.
 */
public final class JournalEntryLayout {
    public static final int SIZE = 32;
    public static final int OP = 0;
    public static final int RESERVED = 1;
    public static final int VOLUME = 2;
    public static final int CHECKSUM = 4;
    public static final int LBN = 8;
    public static final int OLD_MAPPING = 16;
    public static final int NEW_MAPPING = 24;

    /** The mapping of an LBN changed. */
    public static final int OP_MAP = 1;
    /** Reserved for volume-level events. */
    public static final int OP_VOLUME = 2;
    /** Ops the u8 field can hold (0 is an unused slot). */
    public static final int MIN_OP = 1;
    public static final int MAX_OP = 0xFF;
    public static final int MAX_VOLUME = 0xFFFF;

    static {
        if (NEW_MAPPING + 8 != SIZE) throw new AssertionError("journal entry layout does not add up");
    }

    private JournalEntryLayout() { }

    /** Writes one entry at {@code offset} of {@code buf}; the values must fit their fields. */
    public static void encode(ByteBuffer buf, int offset, int op, int volume, int checksum, long lbn, long oldMapping, long newMapping) {
        ByteBuffer b = Block.littleEndian(buf);
        b.put(offset + OP, (byte) op);
        b.put(offset + RESERVED, (byte) 0);
        b.putShort(offset + VOLUME, (short) volume);
        b.putInt(offset + CHECKSUM, checksum);
        b.putLong(offset + LBN, lbn);
        b.putLong(offset + OLD_MAPPING, oldMapping);
        b.putLong(offset + NEW_MAPPING, newMapping);
    }

    public static int op(ByteBuffer buf, int offset) { return buf.get(offset + OP) & 0xFF; }

    public static int volume(ByteBuffer buf, int offset) { return Block.littleEndian(buf).getShort(offset + VOLUME) & 0xFFFF; }

    public static int checksum(ByteBuffer buf, int offset) { return Block.littleEndian(buf).getInt(offset + CHECKSUM); }

    public static long lbn(ByteBuffer buf, int offset) { return Block.littleEndian(buf).getLong(offset + LBN); }

    public static long oldMapping(ByteBuffer buf, int offset) { return Block.littleEndian(buf).getLong(offset + OLD_MAPPING); }

    public static long newMapping(ByteBuffer buf, int offset) { return Block.littleEndian(buf).getLong(offset + NEW_MAPPING); }
}
