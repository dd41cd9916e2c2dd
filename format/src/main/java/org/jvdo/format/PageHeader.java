package org.jvdo.format;

import java.nio.ByteBuffer;

/**
 * The 8-byte header both kinds of block-map page start with (leaf pages, {@link LeafPageLayout},
 * and the tree's bitmap pages, {@link BitmapPageLayout}), little-endian: CRC32C of bytes
 * {@code [4, 4096)} u32 at 0, magic u16 at 4, version u16 at 6.
 */
public final class PageHeader {
    public static final int CRC = 0;
    public static final int MAGIC = 4;
    public static final int VERSION = 6;
    /** The CRC covers the page from here to its end. */
    public static final int CRC_FROM = MAGIC;
    public static final int SIZE = 8;

    private PageHeader() { }

    /** Writes magic and version into the little-endian page {@code b}. */
    public static void stamp(ByteBuffer b, int magic, int version) {
        b.putShort(MAGIC, (short) magic);
        b.putShort(VERSION, (short) version);
    }

    /** The CRC32C the page's content has (it does not read the stored one). */
    public static int crc(ByteBuffer b) { return Block.crc32c(b, CRC_FROM, Block.SIZE); }

    /** Stores the page's CRC: the last step of encoding. */
    public static void seal(ByteBuffer b) { b.putInt(CRC, crc(b)); }

    public static int storedCrc(ByteBuffer b) { return b.getInt(CRC); }

    public static int magic(ByteBuffer b) { return b.getShort(MAGIC) & 0xFFFF; }

    public static int version(ByteBuffer b) { return b.getShort(VERSION) & 0xFFFF; }
}
