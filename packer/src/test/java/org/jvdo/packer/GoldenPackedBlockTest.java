package org.jvdo.packer;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.jvdo.testsupport.GoldenBytes;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of a packed block (version 1.0: 56-byte header with CRC32C, then the fragments),
 * see {@link GoldenBytes}. The fragments are fixed byte strings (the format does not care what
 * they hold), with three different encoding bytes.
 *
 * <p>Regenerating the file ({@code -Djvdo.golden.write=true}) means the on-disk format changed,
 * which must bump the pool format version (and the packed-block version).
 */
class GoldenPackedBlockTest {
    static byte[][] fragments() {
        byte[] big = new byte[1000];
        for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 7 + 3);
        return new byte[][]{
                "first fragment".getBytes(StandardCharsets.US_ASCII),
                {(byte) 0xFF},
                big,
                "fourth, encoded 0xAB".getBytes(StandardCharsets.US_ASCII)};
    }

    static final int[] ENCODINGS = {PackedBlock.ENCODING_LZ4_BLOCK, PackedBlock.ENCODING_LZ4_FRAME, PackedBlock.ENCODING_DEFLATE, 0xAB};

    @Test
    void encodingConstantsAreUnchanged() {
        assertEquals(0, PackedBlock.ENCODING_LZ4_BLOCK);
        assertEquals(1, PackedBlock.ENCODING_LZ4_FRAME);
        assertEquals(2, PackedBlock.ENCODING_DEFLATE);
        assertEquals(0xFF, PackedBlock.MAX_ENCODING);
        assertEquals(0x4B50564A, PackedBlock.MAGIC);
        assertEquals(1, PackedBlock.VERSION_MAJOR);
        assertEquals(0, PackedBlock.VERSION_MINOR);
        assertEquals(14, PackedBlock.MAX_FRAGMENTS);
        assertEquals(56, PackedBlock.HEADER_SIZE);
        assertEquals(4040, PackedBlock.MAX_PAYLOAD);
    }

    @Test
    void packedBlockBytesAreUnchanged() {
        byte[][] f = fragments();
        ByteBuffer[] bufs = new ByteBuffer[f.length];
        for (int i = 0; i < f.length; i++) bufs[i] = ByteBuffer.wrap(f[i]);
        ByteBuffer out = ByteBuffer.allocate(PackedBlock.BLOCK_SIZE);
        PackedBlock.encode(out, f.length, bufs, ENCODINGS);
        byte[] golden = GoldenBytes.check("packed-block", out.array());

        ByteBuffer g = ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("JVPK", new String(golden, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(1, golden[4]);
        assertEquals(0, golden[5]);
        assertEquals(4, golden[6]);
        assertEquals(0, golden[7]);
        int[] sizes = {14, 1, 1000, 20};
        for (int i = 0; i < 14; i++) {
            assertEquals(i < 4 ? sizes[i] : 0, g.getShort(8 + 2 * i), "size " + i);
            assertEquals(i < 4 ? ENCODINGS[i] : 0, golden[36 + i] & 0xFF, "encoding " + i);
        }
        assertEquals(0, g.getShort(50));
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(golden, 0, 52);
        assertEquals((int) crc.getValue(), g.getInt(52));
        int end = 56 + 14 + 1 + 1000 + 20;
        for (int i = end; i < golden.length; i++) assertEquals(0, golden[i], "payload byte " + i + " past the fragments");

        assertEquals(4, PackedBlock.fragmentCount(ByteBuffer.wrap(golden)));
        int[] offsets = {56, 70, 71, 1071};
        for (int s = 0; s < 4; s++) {
            PackedBlock.Fragment fr = PackedBlock.locate(ByteBuffer.wrap(golden), s);
            assertEquals(new PackedBlock.Fragment(offsets[s], sizes[s], ENCODINGS[s]), fr);
            ByteBuffer view = PackedBlock.fragment(ByteBuffer.wrap(golden), s);
            byte[] got = new byte[view.remaining()];
            view.get(got);
            assertArrayEquals(f[s], got, "fragment " + s);
        }
    }
}
