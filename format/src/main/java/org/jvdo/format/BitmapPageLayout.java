package org.jvdo.format;

import java.nio.ByteBuffer;

/**
 * A bitmap page of a volume's block-map tree (format 3), one block, little-endian: the {@link
 * PageHeader} (CRC32C of bytes [4, 4096) at 0, magic "BT" (0x5442) at 4, version (1) at 6),
 * level u16 at {@value #LEVEL}, 0 u16 at {@value #RESERVED}, index within its level u32 at
 * {@value #INDEX}, then {@value #BITS_PER_PAGE} bits from {@value #BITS} (bit {@code i} in byte
 * {@code 16 + i / 8}, LSB first; stored as u64 words). Bits past the level below's page count are 0.
 *
 * <p>The region of a volume with {@code L} leaf pages: {@code [L leaf pages][n1 level-1 bitmap
 * pages][n2 level-2 ...]...[1 top page]}, {@code n1 = ceil(L / BITS_PER_PAGE)}, {@code n(k+1) =
 * ceil(n(k) / BITS_PER_PAGE)}, up to the level with one page, the top. Bit {@code i} of page
 * {@code j} at level {@code k} says child {@code j * BITS_PER_PAGE + i} at level {@code k - 1}
 * (a leaf for level 1) has been written.
 */
public final class BitmapPageLayout {
    public static final int MAGIC = 0x5442;
    public static final int VERSION = 1;
    public static final int LEVEL = PageHeader.SIZE;
    public static final int RESERVED = LEVEL + 2;
    public static final int INDEX = RESERVED + 2;
    /** The bits start here; this is also the size of the header. */
    public static final int BITS = INDEX + 4;
    public static final int BITS_PER_PAGE = (Block.SIZE - BITS) * 8;
    public static final int WORDS = BITS_PER_PAGE / 64;

    static {
        if (BITS != 16 || BITS_PER_PAGE != 32_640) throw new AssertionError("bitmap page layout does not add up");
    }

    private BitmapPageLayout() { }

    /** Pages at the level above one with {@code n} pages. */
    public static long pagesAbove(long n) { return (n + BITS_PER_PAGE - 1) / BITS_PER_PAGE; }

    /** Bitmap levels above the leaves for {@code leaves} leaf pages (at least 1: the top). */
    public static int levels(long leaves) {
        int k = 1;
        for (long n = pagesAbove(leaves); n > 1; n = pagesAbove(n)) k++;
        return k;
    }

    /** Blocks of a region with {@code leaves} leaf pages: the leaves and every bitmap page. */
    public static long regionBlocks(long leaves) {
        if (leaves < 1) throw new IllegalArgumentException("a block-map region has at least one leaf page");
        long total = leaves;
        long n = leaves;
        do {
            n = pagesAbove(n);
            total += n;
        } while (n > 1);
        return total;
    }

    /** A complete sealed bitmap page. */
    public static ByteBuffer encode(int level, long index, long[] bits) {
        ByteBuffer b = Block.allocate();
        PageHeader.stamp(b, MAGIC, VERSION);
        b.putShort(LEVEL, (short) level);
        b.putInt(INDEX, (int) index);
        for (int w = 0; w < WORDS; w++) b.putLong(BITS + w * 8, bits[w]);
        PageHeader.seal(b);
        return b;
    }

    public static int level(ByteBuffer b) { return b.getShort(LEVEL) & 0xFFFF; }

    public static long index(ByteBuffer b) { return b.getInt(INDEX) & 0xFFFFFFFFL; }

    /** The reserved u16 (0 in a valid page). */
    public static int reserved(ByteBuffer b) { return b.getShort(RESERVED); }

    /** Reads the page's bits into {@code bits} ({@value #WORDS} words). */
    public static void bits(ByteBuffer b, long[] bits) {
        for (int w = 0; w < WORDS; w++) bits[w] = b.getLong(BITS + w * 8);
    }
}
