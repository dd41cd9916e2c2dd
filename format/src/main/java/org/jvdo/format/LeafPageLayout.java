package org.jvdo.format;

import java.nio.ByteBuffer;

/**
 * A block-map leaf page (page version 2, pool format 3), one block, little-endian: the {@link
 * PageHeader} (CRC32C of bytes [4, 4096) at 0, magic "BM" at 4, version at 6), then {@value
 * #ENTRIES_PER_PAGE} {@link MappingEntry mapping entries} (u64 each, from offset {@value
 * #ENTRIES}), then one u32 content checksum per entry (from offset {@value #CHECKSUMS}: 32 bits
 * of the block's XXH3-128 fingerprint; 0 for entries without a block), then 8 bytes of zeros.
 * Volume LBN {@code l} is entry {@code l % ENTRIES_PER_PAGE} of leaf page {@code l /
 * ENTRIES_PER_PAGE} of the volume's region. (Page version 1, 511 entries and no checksums,
 * belonged to pool format 2.)
 */
public final class LeafPageLayout {
    public static final int MAGIC = 0x4D42;
    public static final int VERSION = 2;
    public static final int ENTRIES_PER_PAGE = 340;
    public static final int ENTRY_SIZE = 8;
    public static final int CHECKSUM_SIZE = 4;
    public static final int ENTRIES = PageHeader.SIZE;
    public static final int CHECKSUMS = ENTRIES + ENTRY_SIZE * ENTRIES_PER_PAGE;
    /** Where the trailing zeros start. */
    public static final int END = CHECKSUMS + CHECKSUM_SIZE * ENTRIES_PER_PAGE;

    static {
        if (CHECKSUMS != 2728 || END > Block.SIZE) throw new AssertionError("block-map page overflows");
    }

    private LeafPageLayout() { }

    /** Leaf pages for a volume of {@code logicalBlocks} blocks. */
    public static long pagesFor(long logicalBlocks) {
        return (logicalBlocks + ENTRIES_PER_PAGE - 1) / ENTRIES_PER_PAGE;
    }

    /** A complete sealed page holding {@code entries} and their {@code checksums}. */
    public static ByteBuffer encode(long[] entries, int[] checksums) {
        ByteBuffer b = Block.allocate();
        PageHeader.stamp(b, MAGIC, VERSION);
        for (int i = 0; i < ENTRIES_PER_PAGE; i++) {
            b.putLong(ENTRIES + i * ENTRY_SIZE, entries[i]);
            b.putInt(CHECKSUMS + i * CHECKSUM_SIZE, checksums[i]);
        }
        PageHeader.seal(b);
        return b;
    }

    /** Entry {@code i} of the little-endian page {@code b}. */
    public static long entry(ByteBuffer b, int i) { return b.getLong(ENTRIES + i * ENTRY_SIZE); }

    /** Content checksum {@code i} of the little-endian page {@code b}. */
    public static int checksum(ByteBuffer b, int i) { return b.getInt(CHECKSUMS + i * CHECKSUM_SIZE); }
}
