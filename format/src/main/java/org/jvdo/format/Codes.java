package org.jvdo.format;

/**
 * The numeric codes stored on disk, declared once: the compression engine byte of a volume
 * record ({@link SuperBlockLayout#REC_ENGINE}) and the fragment encoding byte of a packed block
 * ({@link PackedBlockLayout#ENCODINGS}).
 */
public final class Codes {
    /** Volume record engine: LZ4 (the default). */
    public static final int ENGINE_LZ4 = 0;
    /** Volume record engine: QAT (QATzip), falling back to LZ4 where it is unavailable. */
    public static final int ENGINE_QAT = 1;
    /** Volume record engine: no compression. */
    public static final int ENGINE_NONE = 2;

    /** Fragment encoding 0: a raw LZ4 block (no frame). */
    public static final int FRAGMENT_LZ4_BLOCK = 0;
    /** Fragment encoding 1: an LZ4 frame (lz4 frame format 1.6, as QATzip's {@code QZ_LZ4} writes: content size and checksum). */
    public static final int FRAGMENT_LZ4_FRAME = 1;
    /** Fragment encoding 2: deflate, raw (RFC 1951, QATzip's {@code QZ_DEFLATE_RAW}) or gzip-wrapped (RFC 1952). */
    public static final int FRAGMENT_DEFLATE = 2;
    /** Largest fragment encoding the u8 field can hold (3..255 are unused). */
    public static final int MAX_FRAGMENT_ENCODING = 0xFF;

    private Codes() { }
}
