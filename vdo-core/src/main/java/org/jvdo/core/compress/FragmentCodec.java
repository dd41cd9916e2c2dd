package org.jvdo.core.compress;

import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import net.jpountz.xxhash.XXHash32;
import net.jpountz.xxhash.XXHashFactory;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.format.Codes;

import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Decodes a stored fragment whatever engine wrote it: the packed-block header records each
 * fragment's encoding, so a block compressed by one engine reads back under any other. All three
 * encodings decode in pure Java, so data written through QAT reads back on a machine without it.
 */
public final class FragmentCodec {
    /** Fragment encodings as recorded in packed-block headers (declared by {@link Codes}). */
    public static final int LZ4_BLOCK = Codes.FRAGMENT_LZ4_BLOCK;
    /** An LZ4 frame (lz4 frame format 1.6, as QATzip's {@code QZ_LZ4} writes: content size and checksum). */
    public static final int LZ4_FRAME = Codes.FRAGMENT_LZ4_FRAME;
    /** Deflate: raw (RFC 1951, QATzip's {@code QZ_DEFLATE_RAW}) or wrapped in a gzip header and trailer (RFC 1952). */
    public static final int DEFLATE = Codes.FRAGMENT_DEFLATE;
    public static final int MAX_OUTPUT = 4096 + 4096 / 255 + 16 + 64;

    private static final LZ4SafeDecompressor LZ4 = LZ4Factory.fastestInstance().safeDecompressor();
    private static final XXHash32 XXH32 = XXHashFactory.fastestInstance().hash32();
    private static final int LZ4_MAGIC = 0x184D2204;
    private static final ThreadLocal<Inflater> RAW_INFLATER = ThreadLocal.withInitial(() -> new Inflater(true));

    private FragmentCodec() { }

    /** Decompresses into {@code dst[0..4096)}; a fragment that does not decode to exactly 4096 bytes is corruption. */
    public static void decompress(int encoding, byte[] src, int offset, int length, byte[] dst, String where) {
        decompress(encoding, src, offset, length, dst, 0, where);
    }

    private static final ThreadLocal<byte[]> PLAIN = ThreadLocal.withInitial(() -> new byte[4096]);

    /**
     * Decodes into {@code dst[dstOff, dstOff + 4096)}, never beyond it. LZ4 blocks decode in
     * place; the other encodings go through a block-sized buffer.
     */
    public static void decompress(int encoding, byte[] src, int offset, int length, byte[] dst, int dstOff, String where) {
        // the frame and deflate decoders write from the start of a block-sized array
        byte[] out = encoding == LZ4_BLOCK || (dstOff == 0 && dst.length == 4096) ? dst : PLAIN.get();
        int n = switch (encoding) {
            case LZ4_BLOCK -> lz4Block(src, offset, length, dst, dstOff, 4096, where);
            case LZ4_FRAME -> lz4Frame(src, offset, length, out, where);
            case DEFLATE -> deflate(src, offset, length, out, where);
            default -> throw new CorruptPoolException(where + ": unknown fragment encoding " + encoding);
        };
        if (n != 4096) throw new CorruptPoolException(where + ": fragment decodes to " + n + " bytes, not 4096");
        if (out != dst) System.arraycopy(out, 0, dst, dstOff, 4096);
    }

    private static int lz4Block(byte[] src, int offset, int length, byte[] dst, int dstOff, int max, String where) {
        try {
            return LZ4.decompress(src, offset, length, dst, dstOff, max);
        } catch (LZ4Exception e) {
            throw new CorruptPoolException(where + ": LZ4 fragment does not decode (" + e.getMessage() + ")");
        }
    }

    private static int u32(byte[] b, int p) {
        return (b[p] & 0xFF) | (b[p + 1] & 0xFF) << 8 | (b[p + 2] & 0xFF) << 16 | (b[p + 3] & 0xFF) << 24;
    }

    /**
     * One LZ4 frame: magic, FLG, BD, optional content size and dictionary id, header checksum;
     * data blocks (high bit of the size = stored), each with an optional checksum; end mark;
     * optional content checksum. Every checksum present is verified. Blocks decode into
     * {@code dst} one after another; a linked block referring to an earlier one is rejected by
     * the block decoder (never wrong data), which cannot happen for a 4 KiB block under the
     * 64 KiB minimum frame block size.
     */
    private static int lz4Frame(byte[] src, int offset, int length, byte[] dst, String where) {
        int end = offset + length, p = offset;
        String bad = where + ": LZ4 frame fragment ";
        if (length < 7 || u32(src, p) != LZ4_MAGIC) throw new CorruptPoolException(bad + "has no LZ4 frame magic");
        int flg = src[p + 4] & 0xFF;
        if ((flg >>> 6) != 1) throw new CorruptPoolException(bad + "has version " + (flg >>> 6) + ", not 1");
        boolean blockSum = (flg & 0x10) != 0, contentSize = (flg & 0x08) != 0, contentSum = (flg & 0x04) != 0, dictId = (flg & 0x01) != 0;
        if (dictId) throw new CorruptPoolException(bad + "needs a dictionary");
        int descLen = 2 + (contentSize ? 8 : 0);
        if (length < 4 + descLen + 1) throw new CorruptPoolException(bad + "is truncated in its header");
        int hc = (XXH32.hash(src, p + 4, descLen, 0) >>> 8) & 0xFF;
        if (hc != (src[p + 4 + descLen] & 0xFF)) throw new CorruptPoolException(bad + "fails its header checksum");
        long declared = -1;
        if (contentSize) {
            declared = (u32(src, p + 6) & 0xFFFFFFFFL) | (long) u32(src, p + 10) << 32;
            if (declared != 4096) throw new CorruptPoolException(bad + "declares " + declared + " bytes, not 4096");
        }
        p += 4 + descLen + 1;
        int out = 0;
        while (true) {
            if (p + 4 > end) throw new CorruptPoolException(bad + "is truncated");
            int size = u32(src, p);
            p += 4;
            if (size == 0) break; // end mark
            boolean stored = size < 0;
            size &= 0x7FFFFFFF;
            if (size > end - p) throw new CorruptPoolException(bad + "has a block past its end");
            if (stored) {
                if (size > 4096 - out) throw new CorruptPoolException(bad + "decodes to more than 4096 bytes");
                System.arraycopy(src, p, dst, out, size);
                out += size;
            } else {
                out += lz4Block(src, p, size, dst, out, 4096 - out, where);
            }
            if (blockSum) {
                if (p + size + 4 > end || XXH32.hash(src, p, size, 0) != u32(src, p + size)) {
                    throw new CorruptPoolException(bad + "fails a block checksum");
                }
                p += 4;
            }
            p += size;
        }
        if (contentSum) {
            if (p + 4 > end || XXH32.hash(dst, 0, out, 0) != u32(src, p)) throw new CorruptPoolException(bad + "fails its content checksum");
            p += 4;
        }
        if (p != end) throw new CorruptPoolException(bad + "has " + (end - p) + " bytes after its end");
        return out;
    }

    /** Raw deflate, or gzip (magic 1f 8b: no raw deflate stream starts so, as block type 3 is invalid). */
    private static int deflate(byte[] src, int offset, int length, byte[] dst, String where) {
        String bad = where + ": deflate fragment ";
        int p = offset, end = offset + length;
        boolean gzip = length >= 18 && (src[p] & 0xFF) == 0x1f && (src[p + 1] & 0xFF) == 0x8b;
        if (gzip) {
            if (src[p + 2] != 8) throw new CorruptPoolException(bad + "has gzip method " + src[p + 2]);
            int flags = src[p + 3] & 0xFF;
            p += 10;
            if ((flags & 0x04) != 0) { // FEXTRA (QATzip's GZIP_EXT header carries one)
                if (p + 2 > end) throw new CorruptPoolException(bad + "is truncated in its gzip header");
                p += 2 + ((src[p] & 0xFF) | (src[p + 1] & 0xFF) << 8);
            }
            if ((flags & 0x08) != 0) while (p < end && src[p++] != 0) { } // FNAME
            if ((flags & 0x10) != 0) while (p < end && src[p++] != 0) { } // FCOMMENT
            if ((flags & 0x02) != 0) p += 2; // FHCRC
            end -= 8; // CRC32, ISIZE
            if (p >= end) throw new CorruptPoolException(bad + "is truncated in its gzip header");
        }
        Inflater inf = RAW_INFLATER.get();
        inf.reset();
        inf.setInput(src, p, end - p);
        int n;
        try {
            n = inf.inflate(dst, 0, 4096);
            if (!inf.finished()) {
                // exactly 4096 bytes out but the stream does not end there: too long or truncated
                byte[] one = new byte[1];
                if (inf.inflate(one) > 0) throw new CorruptPoolException(bad + "decodes to more than 4096 bytes");
                if (!inf.finished()) throw new CorruptPoolException(bad + "is truncated");
            }
        } catch (DataFormatException e) {
            throw new CorruptPoolException(bad + "does not decode (" + e.getMessage() + ")");
        }
        if (inf.getRemaining() != 0) throw new CorruptPoolException(bad + "has " + inf.getRemaining() + " bytes after its end");
        if (gzip) {
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(dst, 0, n);
            if ((int) crc.getValue() != u32(src, end) || u32(src, end + 4) != n) {
                throw new CorruptPoolException(bad + "fails its gzip CRC32 or size");
            }
        }
        return n;
    }
}
