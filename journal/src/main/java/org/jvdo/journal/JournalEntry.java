package org.jvdo.journal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One logged block-map change: "LBN {@code lbn} of {@code volume} went from {@code oldMapping} to
 * {@code newMapping}". It exists as the unit the journal makes durable before the block map itself
 * is written, so that a crash can be repaired by replaying entries (they are "set" operations, so
 * replaying twice is harmless).
 *
 * <p>Encoded in exactly {@value #SIZE} bytes, little-endian: op u8, reserved u8 (0), volume u16,
 * checksum u32 (the content checksum of the new mapping's block, 0 when it has none; pool format 3,
 * reserved 0 before), lbn u64, oldMapping u64, newMapping u64. Values are validated when encoding.
 */
public record JournalEntry(int op, int volume, long lbn, long oldMapping, long newMapping, int checksum) {

    /** An entry without a content checksum. */
    public JournalEntry(int op, int volume, long lbn, long oldMapping, long newMapping) {
        this(op, volume, lbn, oldMapping, newMapping, 0);
    }

    /** Encoded size in bytes. */
    public static final int SIZE = 32;
    /** The mapping of an LBN changed. */
    public static final int OP_MAP = 1;
    /** Reserved for volume-level events. */
    public static final int OP_VOLUME = 2;

    /** Convenience factory for an {@link #OP_MAP} entry. */
    public static JournalEntry map(int volume, long lbn, long oldMapping, long newMapping) {
        return new JournalEntry(OP_MAP, volume, lbn, oldMapping, newMapping, 0);
    }

    /** An {@link #OP_MAP} entry whose new mapping's content has checksum {@code checksum}. */
    public static JournalEntry map(int volume, long lbn, long oldMapping, long newMapping, int checksum) {
        return new JournalEntry(OP_MAP, volume, lbn, oldMapping, newMapping, checksum);
    }

    /** Throws {@link IllegalArgumentException} if this entry cannot be encoded. */
    public void validate() {
        if (op < 1 || op > 255) {
            throw new IllegalArgumentException("journal entry op must be in 1..255, got " + op);
        }
        if (volume < 0 || volume > 0xFFFF) {
            throw new IllegalArgumentException("journal entry volume must be in 0..65535, got " + volume);
        }
    }

    /** Encodes into {@code buf} at absolute {@code offset}; does not move the buffer's position. */
    public void encodeTo(ByteBuffer buf, int offset) {
        validate();
        ByteBuffer b = buf.order() == ByteOrder.LITTLE_ENDIAN ? buf : buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.put(offset, (byte) op);
        b.put(offset + 1, (byte) 0);
        b.putShort(offset + 2, (short) volume);
        b.putInt(offset + 4, checksum);
        b.putLong(offset + 8, lbn);
        b.putLong(offset + 16, oldMapping);
        b.putLong(offset + 24, newMapping);
    }

    /** Returns a new {@value #SIZE}-byte array holding the encoding. */
    public byte[] encode() {
        byte[] out = new byte[SIZE];
        encodeTo(ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN), 0);
        return out;
    }

    /** Decodes the entry at absolute {@code offset} of {@code buf}. */
    public static JournalEntry decodeFrom(ByteBuffer buf, int offset) {
        ByteBuffer b = buf.order() == ByteOrder.LITTLE_ENDIAN ? buf : buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int op = b.get(offset) & 0xFF;
        int volume = b.getShort(offset + 2) & 0xFFFF;
        return new JournalEntry(op, volume, b.getLong(offset + 8), b.getLong(offset + 16), b.getLong(offset + 24), b.getInt(offset + 4));
    }

    /** Decodes a {@value #SIZE}-byte encoding. */
    public static JournalEntry decode(byte[] encoded) {
        if (encoded.length != SIZE) {
            throw new IllegalArgumentException("journal entry encoding must be " + SIZE + " bytes, got " + encoded.length);
        }
        return decodeFrom(ByteBuffer.wrap(encoded).order(ByteOrder.LITTLE_ENDIAN), 0);
    }
}
