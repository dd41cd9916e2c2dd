package org.jvdo.core.compress;

import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.jvdo.core.CorruptPoolException;

/**
 * Decodes a stored fragment whatever engine wrote it: the packed-block header records each
 * fragment's encoding, so a block compressed by one engine reads back under any other.
 */
public final class FragmentCodec {
    /** Fragment encodings as recorded in packed-block headers. */
    public static final int LZ4_BLOCK = 0;
    public static final int MAX_OUTPUT = 4096 + 4096 / 255 + 16 + 64;

    private static final LZ4SafeDecompressor LZ4 = LZ4Factory.fastestInstance().safeDecompressor();

    private FragmentCodec() { }

    /** Decompresses into {@code dst[0..4096)}; a fragment that does not decode to exactly 4096 bytes is corruption. */
    public static void decompress(int encoding, byte[] src, int offset, int length, byte[] dst, String where) {
        if (encoding != LZ4_BLOCK) throw new CorruptPoolException(where + ": unknown fragment encoding " + encoding);
        int n;
        try {
            n = LZ4.decompress(src, offset, length, dst, 0, 4096);
        } catch (LZ4Exception e) {
            throw new CorruptPoolException(where + ": LZ4 fragment does not decode (" + e.getMessage() + ")");
        }
        if (n != 4096) throw new CorruptPoolException(where + ": fragment decodes to " + n + " bytes, not 4096");
    }
}
