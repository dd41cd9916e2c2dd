package org.jvdo.journal;

import org.jvdo.format.JournalEntryLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One logged block-map change: "LBN {@code lbn} of {@code volume} went from {@code oldMapping} to
 * {@code newMapping}". It exists as the unit the journal makes durable before the block map itself
 * is written, so that a crash can be repaired by replaying entries (they are "set" operations, so
 * replaying twice is harmless).
 *
 * <p>Encoded in exactly {@value #SIZE} bytes as {@link JournalEntryLayout} (format module)
 * declares: op, volume, the content checksum of the new mapping's block (0 when it has none),
 * lbn, old and new mapping. Values are validated when encoding.
 */
public record JournalEntry(int op, int volume, long lbn, long oldMapping, long newMapping, int checksum) {

    /** An entry without a content checksum. */
    public JournalEntry(int op, int volume, long lbn, long oldMapping, long newMapping) {
        this(op, volume, lbn, oldMapping, newMapping, 0);
    }

    /** Encoded size in bytes. */
    public static final int SIZE = JournalEntryLayout.SIZE;
    /** The mapping of an LBN changed. */
    public static final int OP_MAP = JournalEntryLayout.OP_MAP;
    /** Reserved for volume-level events. */
    public static final int OP_VOLUME = JournalEntryLayout.OP_VOLUME;

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
        if (op < JournalEntryLayout.MIN_OP || op > JournalEntryLayout.MAX_OP) {
            throw new IllegalArgumentException("journal entry op must be in 1..255, got " + op);
        }
        if (volume < 0 || volume > JournalEntryLayout.MAX_VOLUME) {
            throw new IllegalArgumentException("journal entry volume must be in 0..65535, got " + volume);
        }
    }

    /** Encodes into {@code buf} at absolute {@code offset}; does not move the buffer's position. */
    public void encodeTo(ByteBuffer buf, int offset) {
        validate();
        JournalEntryLayout.encode(buf, offset, op, volume, checksum, lbn, oldMapping, newMapping);
    }

    /** Returns a new {@value #SIZE}-byte array holding the encoding. */
    public byte[] encode() {
        byte[] out = new byte[SIZE];
        encodeTo(ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN), 0);
        return out;
    }

    /** Decodes the entry at absolute {@code offset} of {@code buf}. */
    public static JournalEntry decodeFrom(ByteBuffer buf, int offset) {
        return new JournalEntry(JournalEntryLayout.op(buf, offset), JournalEntryLayout.volume(buf, offset), JournalEntryLayout.lbn(buf, offset),
                JournalEntryLayout.oldMapping(buf, offset), JournalEntryLayout.newMapping(buf, offset), JournalEntryLayout.checksum(buf, offset));
    }

    /** Decodes a {@value #SIZE}-byte encoding. */
    public static JournalEntry decode(byte[] encoded) {
        if (encoded.length != SIZE) {
            throw new IllegalArgumentException("journal entry encoding must be " + SIZE + " bytes, got " + encoded.length);
        }
        return decodeFrom(ByteBuffer.wrap(encoded).order(ByteOrder.LITTLE_ENDIAN), 0);
    }
}
