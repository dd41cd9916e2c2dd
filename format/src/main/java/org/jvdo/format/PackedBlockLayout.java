package org.jvdo.format;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * A packed (compressed) physical block, format 1.0: up to {@value #MAX_FRAGMENTS} compressed
 * fragments back to back in one block, after a header with the fragment table.
 * All integers little-endian:
 * <pre>
 *  offset size  field
 *       0    4  magic 0x4B50564A ("JVPK" read as little-endian bytes)
 *       4    1  version major (1)
 *       5    1  version minor (0)
 *       6    1  fragment count (1..14)
 *       7    1  flags (0)
 *       8   28  14 x u16 fragment sizes, unused slots 0
 *      36   14  14 x u8 fragment encodings ({@link Codes}), unused slots 0
 *      50    2  reserved (0)
 *      52    4  CRC32C of bytes [0, 52)
 *      56 4040  payload: fragments back to back in slot order, rest zero
 * </pre>
 * Readers accept any minor version of major version 1 (minor versions may only add meaning to
 * fields that are zero today); a different major version is rejected.
 *
 * <p>The accessors take a little-endian buffer and the block's start {@code base} in it.
 */
public final class PackedBlockLayout {
    public static final int BLOCK_SIZE = Block.SIZE;
    public static final int MAX_FRAGMENTS = 14;

    /** The bytes 'J','V','P','K' as a little-endian u32. */
    public static final int MAGIC = 0x4B50564A;
    public static final int VERSION_MAJOR = 1;
    public static final int VERSION_MINOR = 0;

    public static final int MAGIC_OFFSET = 0;
    public static final int MAJOR_OFFSET = 4;
    public static final int MINOR_OFFSET = 5;
    public static final int COUNT = 6;
    /** The u8 flags (always 0 in version 1.0). */
    public static final int FLAGS = 7;
    /** The {@value #MAX_FRAGMENTS} u16 fragment sizes. */
    public static final int SIZES = 8;
    /** The {@value #MAX_FRAGMENTS} u8 fragment encodings. */
    public static final int ENCODINGS = SIZES + 2 * MAX_FRAGMENTS;
    public static final int RESERVED = ENCODINGS + MAX_FRAGMENTS;
    /** The u32 CRC32C; it covers bytes [0, CHECKSUM). */
    public static final int CHECKSUM = RESERVED + 2;
    /** Size of the header; the payload starts here. */
    public static final int HEADER_SIZE = CHECKSUM + 4;
    public static final int MAX_PAYLOAD = BLOCK_SIZE - HEADER_SIZE;
    /** Largest encoding value storable in the u8 encoding field. */
    public static final int MAX_ENCODING = Codes.MAX_FRAGMENT_ENCODING;

    static {
        if (ENCODINGS != 36 || RESERVED != 50 || CHECKSUM != 52 || HEADER_SIZE != 56 || MAX_PAYLOAD != 4040) {
            throw new AssertionError("packed block layout constants are inconsistent");
        }
    }

    private PackedBlockLayout() { }

    /** Writes magic, version and fragment count, flags 0. */
    public static void putHeader(ByteBuffer le, int base, int count) {
        le.putInt(base + MAGIC_OFFSET, MAGIC);
        le.put(base + MAJOR_OFFSET, (byte) VERSION_MAJOR);
        le.put(base + MINOR_OFFSET, (byte) VERSION_MINOR);
        le.put(base + COUNT, (byte) count);
        le.put(base + FLAGS, (byte) 0);
    }

    /** Writes slot {@code slot}'s entry of the fragment table (0, 0 for an unused slot). */
    public static void putFragment(ByteBuffer le, int base, int slot, int size, int encoding) {
        le.putShort(base + SIZES + 2 * slot, (short) size);
        le.put(base + ENCODINGS + slot, (byte) encoding);
    }

    /** Zeroes the reserved field and stores the header CRC: the last step of the header. */
    public static void sealHeader(ByteBuffer le, int base) {
        le.putShort(base + RESERVED, (short) 0);
        le.putInt(base + CHECKSUM, headerChecksum(le, base));
    }

    /** The CRC32C the header has (bytes [0, CHECKSUM) from {@code base}). */
    public static int headerChecksum(ByteBuffer le, int base) {
        CRC32C crc = new CRC32C();
        ByteBuffer header = le.duplicate();
        header.limit(base + CHECKSUM).position(base);
        crc.update(header);
        return (int) crc.getValue();
    }

    public static int magic(ByteBuffer le, int base) { return le.getInt(base + MAGIC_OFFSET); }

    public static int major(ByteBuffer le, int base) { return Byte.toUnsignedInt(le.get(base + MAJOR_OFFSET)); }

    public static int minor(ByteBuffer le, int base) { return Byte.toUnsignedInt(le.get(base + MINOR_OFFSET)); }

    public static int count(ByteBuffer le, int base) { return Byte.toUnsignedInt(le.get(base + COUNT)); }

    public static int storedChecksum(ByteBuffer le, int base) { return le.getInt(base + CHECKSUM); }

    public static int size(ByteBuffer le, int base, int slot) { return Short.toUnsignedInt(le.getShort(base + SIZES + 2 * slot)); }

    public static int encoding(ByteBuffer le, int base, int slot) { return Byte.toUnsignedInt(le.get(base + ENCODINGS + slot)); }
}
