package org.jvdo.packer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class PackedBlockTest {

    /** Random fragments whose sizes sum to at most MAX_PAYLOAD. */
    private static byte[][] randomFragments(Random rnd, int count) {
        byte[][] frags = new byte[count][];
        int left = PackedBlock.MAX_PAYLOAD;
        for (int i = 0; i < count; i++) {
            int maxHere = left - (count - 1 - i); // leave at least 1 byte for each later fragment
            int size = 1 + rnd.nextInt(Math.min(maxHere, 2 * PackedBlock.MAX_PAYLOAD / count));
            frags[i] = new byte[size];
            rnd.nextBytes(frags[i]);
            left -= size;
        }
        return frags;
    }

    private static ByteBuffer[] wrap(byte[][] frags) {
        ByteBuffer[] bufs = new ByteBuffer[frags.length];
        for (int i = 0; i < frags.length; i++) {
            bufs[i] = ByteBuffer.wrap(frags[i]);
        }
        return bufs;
    }

    private static ByteBuffer validBlock(int count) {
        byte[][] frags = new byte[count][];
        int[] enc = new int[count];
        for (int i = 0; i < count; i++) {
            frags[i] = new byte[100 + i];
            java.util.Arrays.fill(frags[i], (byte) (i + 1));
        }
        ByteBuffer block = ByteBuffer.allocate(PackedBlock.BLOCK_SIZE);
        PackedBlock.encode(block, count, wrap(frags), enc);
        block.flip();
        return block;
    }

    /** Recomputes the header CRC the way the spec defines it, independently of PackedBlock. */
    private static void reseal(ByteBuffer block) {
        CRC32C crc = new CRC32C();
        crc.update(block.array(), 0, 52);
        block.order(ByteOrder.LITTLE_ENDIAN).putInt(52, (int) crc.getValue());
    }

    private static String rejection(ByteBuffer block, int slot) {
        return assertThrows(CorruptPackedBlockException.class,
                () -> PackedBlock.locate(block, slot)).getMessage();
    }

    @Test
    void layoutConstantsMatchSpec() {
        assertEquals(56, PackedBlock.HEADER_SIZE);
        assertEquals(4040, PackedBlock.MAX_PAYLOAD);
        assertEquals(14, PackedBlock.MAX_FRAGMENTS);
        assertEquals(36, PackedBlock.OFFSET_ENCODINGS);
        assertEquals(52, PackedBlock.OFFSET_CHECKSUM);
    }

    @Test
    void roundTripEveryCountWithRandomSizesAndEncodings() {
        Random rnd = new Random(42);
        for (int round = 0; round < 20; round++) {
            for (int count = 1; count <= PackedBlock.MAX_FRAGMENTS; count++) {
                byte[][] frags = randomFragments(rnd, count);
                int[] enc = new int[count];
                for (int i = 0; i < count; i++) {
                    enc[i] = rnd.nextInt(256);
                }
                // Encode in the middle of a bigger big-endian buffer full of garbage.
                int prefix = rnd.nextInt(64);
                ByteBuffer buf = ByteBuffer.allocate(prefix + PackedBlock.BLOCK_SIZE + 64);
                rnd.nextBytes(buf.array());
                buf.position(prefix);
                ByteBuffer[] inputs = wrap(frags);
                PackedBlock.encode(buf, count, inputs, enc);
                assertEquals(prefix + PackedBlock.BLOCK_SIZE, buf.position());
                for (ByteBuffer in : inputs) {
                    assertEquals(0, in.position(), "input fragment must not be consumed");
                }

                ByteBuffer block = buf.duplicate().position(prefix);
                assertEquals(count, PackedBlock.fragmentCount(block));
                int expectedOffset = PackedBlock.HEADER_SIZE;
                for (int slot = 0; slot < count; slot++) {
                    PackedBlock.Fragment f = PackedBlock.locate(block, slot);
                    assertEquals(new PackedBlock.Fragment(expectedOffset, frags[slot].length, enc[slot]), f);
                    byte[] back = new byte[f.length()];
                    block.get(prefix + f.offset(), back);
                    assertArrayEquals(frags[slot], back, "slot " + slot);
                    ByteBuffer view = PackedBlock.fragment(block, slot);
                    assertTrue(view.isReadOnly());
                    byte[] back2 = new byte[view.remaining()];
                    view.get(back2);
                    assertArrayEquals(frags[slot], back2);
                    expectedOffset += f.length();
                }
                assertEquals(prefix, block.position(), "locate must not move the block's position");
                for (int i = expectedOffset; i < PackedBlock.BLOCK_SIZE; i++) {
                    assertEquals(0, buf.get(prefix + i), "payload tail must be zero-filled at " + i);
                }
                ByteBuffer le = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(0x4B50564A, le.getInt(prefix));
                assertEquals('J', buf.get(prefix));
                assertEquals(1, buf.get(prefix + 4));
                assertEquals(0, buf.get(prefix + 5));
                assertEquals(count, buf.get(prefix + 6));
                for (int unused = count; unused < 14; unused++) {
                    assertEquals(0, le.getShort(prefix + 8 + 2 * unused));
                    assertEquals(0, le.get(prefix + 36 + unused));
                }
            }
        }
    }

    @Test
    void fourteenFragmentsFillingThePayloadExactly() {
        byte[][] frags = new byte[14][];
        int total = 0;
        for (int i = 0; i < 14; i++) {
            frags[i] = new byte[i < 13 ? 288 : PackedBlock.MAX_PAYLOAD - 13 * 288];
            java.util.Arrays.fill(frags[i], (byte) i);
            total += frags[i].length;
        }
        assertEquals(PackedBlock.MAX_PAYLOAD, total);
        ByteBuffer block = ByteBuffer.allocateDirect(PackedBlock.BLOCK_SIZE);
        PackedBlock.encode(block, 14, wrap(frags), new int[14]);
        block.flip();
        PackedBlock.Fragment last = PackedBlock.locate(block, 13);
        assertEquals(PackedBlock.BLOCK_SIZE, last.offset() + last.length());
        assertEquals(13, block.get(PackedBlock.BLOCK_SIZE - 1));
    }

    @Test
    void encodeRejectsBadArguments() {
        ByteBuffer out = ByteBuffer.allocate(PackedBlock.BLOCK_SIZE);
        ByteBuffer one = ByteBuffer.wrap(new byte[10]);
        assertThrows(IllegalArgumentException.class,
                () -> PackedBlock.encode(out, 0, new ByteBuffer[0], new int[0]));
        ByteBuffer[] fifteen = new ByteBuffer[15];
        java.util.Arrays.fill(fifteen, one);
        assertThrows(IllegalArgumentException.class,
                () -> PackedBlock.encode(out, 15, fifteen, new int[15]));
        assertThrows(IllegalArgumentException.class, () -> PackedBlock.encode(out, 2,
                new ByteBuffer[] {one, ByteBuffer.allocate(0)}, new int[2]));
        assertThrows(IllegalArgumentException.class, () -> PackedBlock.encode(out, 2,
                new ByteBuffer[] {ByteBuffer.allocate(4000), ByteBuffer.allocate(41)}, new int[2]));
        assertThrows(IllegalArgumentException.class, () -> PackedBlock.encode(out, 1,
                new ByteBuffer[] {one}, new int[] {256}));
        assertThrows(IllegalArgumentException.class, () -> PackedBlock.encode(
                ByteBuffer.allocate(4095), 1, new ByteBuffer[] {one}, new int[1]));
        assertEquals(0, out.position(), "a rejected encode writes nothing");
        // exactly MAX_PAYLOAD in one fragment is fine
        PackedBlock.encode(out, 1, new ByteBuffer[] {ByteBuffer.allocate(4040)}, new int[1]);
        assertEquals(4096, out.position());
    }

    @Test
    void fitsHelper() {
        assertTrue(PackedBlock.fits(0, 4040));
        assertFalse(PackedBlock.fits(0, 4041));
        assertTrue(PackedBlock.fits(4000, 40));
        assertFalse(PackedBlock.fits(4000, 41));
        assertFalse(PackedBlock.fits(10, 0));
        assertFalse(PackedBlock.fits(10, Integer.MAX_VALUE));
    }

    @Test
    void badMagicRejected() {
        ByteBuffer block = validBlock(3);
        block.put(3, (byte) 0x00);
        assertTrue(rejection(block, 0).startsWith("bad magic 0x0050564A "), rejection(block, 0));
    }

    @Test
    void majorVersionTwoRejected() {
        ByteBuffer block = validBlock(3);
        block.put(4, (byte) 2);
        assertEquals("unsupported packed-block version 2.0", rejection(block, 0));
        reseal(block); // even with a valid checksum
        assertEquals("unsupported packed-block version 2.0", rejection(block, 0));
    }

    @Test
    void newerMinorVersionAccepted() {
        ByteBuffer block = validBlock(3);
        block.put(4, (byte) 1).put(5, (byte) 7);
        reseal(block);
        assertEquals(3, PackedBlock.fragmentCount(block));
        assertEquals(new PackedBlock.Fragment(56 + 100 + 101, 102, 0), PackedBlock.locate(block, 2));
    }

    @Test
    void changedSizeByteIsChecksumMismatch() {
        ByteBuffer block = validBlock(3);
        block.put(8 + 2, (byte) (block.get(8 + 2) + 1)); // low byte of slot 1's size
        assertTrue(rejection(block, 0).startsWith("header checksum mismatch"), rejection(block, 0));
    }

    @Test
    void changedChecksumOrEncodingIsChecksumMismatch() {
        ByteBuffer block = validBlock(3);
        block.put(53, (byte) (block.get(53) ^ 0x10));
        assertTrue(rejection(block, 1).startsWith("header checksum mismatch"));
        ByteBuffer block2 = validBlock(3);
        block2.put(36, (byte) 1);
        assertTrue(rejection(block2, 1).startsWith("header checksum mismatch"));
    }

    @Test
    void badCountsRejected() {
        for (int bad : new int[] {0, 15, 255}) {
            ByteBuffer block = validBlock(3);
            block.put(6, (byte) bad);
            reseal(block);
            assertEquals("bad fragment count " + bad + " (must be 1..14)", rejection(block, 0));
            assertThrows(CorruptPackedBlockException.class, () -> PackedBlock.fragmentCount(block));
        }
    }

    @Test
    void slotOutOfRangeRejected() {
        ByteBuffer block = validBlock(3);
        assertEquals("slot 5 >= fragment count 3", rejection(block, 5));
        assertEquals("slot 3 >= fragment count 3", rejection(block, 3));
        assertThrows(CorruptPackedBlockException.class, () -> PackedBlock.locate(block, -1));
    }

    @Test
    void oversizedFragmentSizesRejectedWithoutReadingPastBlock() {
        ByteBuffer block = validBlock(3);
        ByteBuffer le = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        le.putShort(8, (short) 2000).putShort(10, (short) 2000).putShort(12, (short) 1000);
        reseal(block);
        assertEquals("fragment sizes sum 5000 > 4040", rejection(block, 0));
        le.putShort(12, (short) 40); // 4040 exactly is fine
        reseal(block);
        assertEquals(new PackedBlock.Fragment(56 + 4000, 40, 0), PackedBlock.locate(block, 2));
        le.putShort(10, (short) 0);
        reseal(block);
        assertEquals("fragment 1 has size 0", rejection(block, 0));
    }

    @Test
    void truncatedBufferRejected() {
        ByteBuffer block = validBlock(3);
        block.limit(4095);
        assertTrue(rejection(block, 0).startsWith("packed block truncated"));
    }

    @Test
    void allZeroBlockRejected() {
        assertTrue(rejection(ByteBuffer.allocate(4096), 0).startsWith("bad magic 0x00000000"));
    }

    /**
     * Random single-byte corruptions of the header, with the checksum recomputed so they get past
     * the CRC: the only outcomes allowed are a CorruptPackedBlockException or a fragment lying
     * wholly inside the payload of the 4096-byte window (here followed by a guard region).
     */
    @Test
    void resealedHeaderCorruptionNeverEscapesTheBlock() {
        Random rnd = new Random(7);
        int accepted = 0;
        int rejected = 0;
        for (int i = 0; i < 5000; i++) {
            ByteBuffer block = ByteBuffer.allocate(4096 + 512);
            ByteBuffer valid = validBlock(1 + rnd.nextInt(14));
            block.put(valid).flip();
            block.limit(4096 + 512); // a guard region after the block that locate must not need
            int at = 4 + rnd.nextInt(48);
            block.put(at, (byte) rnd.nextInt(256));
            reseal(block);
            int slot = rnd.nextInt(16);
            try {
                PackedBlock.Fragment f = PackedBlock.locate(block, slot);
                assertTrue(f.offset() >= 56 && f.length() >= 1
                        && f.offset() + f.length() <= 4096, f.toString());
                accepted++;
            } catch (CorruptPackedBlockException e) {
                rejected++;
            }
        }
        assertTrue(accepted > 0 && rejected > 0, accepted + " accepted, " + rejected + " rejected");
    }
}
