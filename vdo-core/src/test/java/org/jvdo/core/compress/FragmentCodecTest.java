package org.jvdo.core.compress;

import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FrameOutputStream;
import org.jvdo.core.api.CorruptPoolException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class FragmentCodecTest {
    static byte[] block(long seed) {
        byte[] b = new byte[4096];
        Random r = new Random(seed);
        for (int i = 0; i < b.length; i++) b[i] = (byte) ("abcdefgh".charAt(r.nextInt(8)) + (i % 512 == 0 ? 1 : 0));
        return b;
    }

    static byte[] lz4Frame(byte[] data, LZ4FrameOutputStream.FLG.Bits... more) throws IOException {
        LZ4FrameOutputStream.FLG.Bits[] bits = Arrays.copyOf(more, more.length + 1);
        bits[more.length] = LZ4FrameOutputStream.FLG.Bits.BLOCK_INDEPENDENCE; // lz4-java writes nothing else
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (LZ4FrameOutputStream out = new LZ4FrameOutputStream(bos, LZ4FrameOutputStream.BLOCKSIZE.SIZE_64KB, data.length, bits)) {
            out.write(data);
        }
        return bos.toByteArray();
    }

    static byte[] rawDeflate(byte[] data) {
        Deflater d = new Deflater(1, true);
        d.setInput(data);
        d.finish();
        byte[] out = new byte[8192];
        int n = d.deflate(out);
        d.end();
        return Arrays.copyOf(out, n);
    }

    static byte[] decode(int enc, byte[] f) {
        byte[] dst = new byte[4096];
        FragmentCodec.decompress(enc, f, 0, f.length, dst, "test");
        return dst;
    }

    @Test
    void lz4BlockRoundTrip() {
        byte[] data = block(1);
        byte[] c = LZ4Factory.fastestInstance().fastCompressor().compress(data);
        assertArrayEquals(data, decode(FragmentCodec.LZ4_BLOCK, c));
    }

    @Test
    void lz4FrameWithContentSizeAndChecksums() throws IOException {
        byte[] data = block(2);
        byte[] f = lz4Frame(data, LZ4FrameOutputStream.FLG.Bits.CONTENT_SIZE, LZ4FrameOutputStream.FLG.Bits.CONTENT_CHECKSUM,
                LZ4FrameOutputStream.FLG.Bits.BLOCK_CHECKSUM);
        assertArrayEquals(data, decode(FragmentCodec.LZ4_FRAME, f));
        // incompressible data: the frame holds a stored block (high bit of the block size)
        byte[] rnd = new byte[4096];
        new Random(3).nextBytes(rnd);
        assertArrayEquals(rnd, decode(FragmentCodec.LZ4_FRAME, lz4Frame(rnd, LZ4FrameOutputStream.FLG.Bits.CONTENT_CHECKSUM)));
    }

    /** The frame QATzip writes (qatzip_lz4.c): FLG 0x4C = version 1, linked blocks, content size, content checksum; BD 0x40. */
    static byte[] qatStyleFrame(byte[] data) {
        byte[] block = LZ4Factory.fastestInstance().fastCompressor().compress(data);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(15 + 4 + block.length + 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x184D2204).put((byte) 0x4C).put((byte) 0x40).putLong(data.length);
        b.put((byte) (net.jpountz.xxhash.XXHashFactory.fastestInstance().hash32().hash(b.array(), 4, 10, 0) >>> 8));
        b.putInt(block.length).put(block).putInt(0);
        b.putInt(net.jpountz.xxhash.XXHashFactory.fastestInstance().hash32().hash(data, 0, data.length, 0));
        return b.array();
    }

    @Test
    void qatStyleLinkedBlockFrame() {
        byte[] data = block(9);
        assertArrayEquals(data, decode(FragmentCodec.LZ4_FRAME, qatStyleFrame(data)));
        byte[] f = qatStyleFrame(data);
        f[f.length - 1] ^= 1;
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.LZ4_FRAME, f));
        assertTrue(e.getMessage().contains("content checksum"), e.getMessage());
    }

    @Test
    void lz4FrameDamageIsCorruptionNeverWrongData() throws IOException {
        byte[] data = block(4);
        byte[] f = lz4Frame(data, LZ4FrameOutputStream.FLG.Bits.CONTENT_CHECKSUM);
        for (int i = 0; i < f.length; i++) {
            byte[] g = f.clone();
            g[i] ^= 0x40;
            byte[] dst = new byte[4096];
            try {
                FragmentCodec.decompress(FragmentCodec.LZ4_FRAME, g, 0, g.length, dst, "test");
                assertArrayEquals(data, dst, "byte " + i + " flipped but decoded to other data");
            } catch (CorruptPoolException expected) {
                assertTrue(expected.getMessage().startsWith("test: "));
            }
        }
        assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.LZ4_FRAME, Arrays.copyOf(f, f.length - 1)));
    }

    @Test
    void rawDeflateAndGzip() throws IOException {
        byte[] data = block(5);
        assertArrayEquals(data, decode(FragmentCodec.DEFLATE, rawDeflate(data)));
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bos)) { gz.write(data); }
        byte[] g = bos.toByteArray();
        assertArrayEquals(data, decode(FragmentCodec.DEFLATE, g));
        byte[] bad = g.clone();
        bad[bad.length - 6] ^= 1; // CRC32
        assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.DEFLATE, bad));
    }

    @Test
    void deflateOfOtherLengthsOrTrailingBytesIsCorruption() {
        byte[] shortData = Arrays.copyOf(block(6), 4000);
        assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.DEFLATE, rawDeflate(shortData)));
        byte[] longData = Arrays.copyOf(block(6), 5000);
        assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.DEFLATE, rawDeflate(longData)));
        byte[] f = rawDeflate(block(7));
        byte[] trailing = Arrays.copyOf(f, f.length + 3);
        assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.DEFLATE, trailing));
        assertThrows(CorruptPoolException.class, () -> decode(FragmentCodec.DEFLATE, Arrays.copyOf(f, f.length / 2)));
    }

    @Test
    void unknownEncodingIsCorruption() {
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> decode(3, new byte[10]));
        assertTrue(e.getMessage().contains("unknown fragment encoding 3"));
    }
}
