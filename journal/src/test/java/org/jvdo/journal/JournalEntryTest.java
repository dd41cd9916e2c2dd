package org.jvdo.journal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class JournalEntryTest {

    @Test
    void roundTripKeepsEveryField() {
        JournalEntry[] samples = {
            JournalEntry.map(0, 0, 0, 0),
            JournalEntry.map(65535, Long.MAX_VALUE, -1L, Long.MIN_VALUE),
            new JournalEntry(JournalEntry.OP_VOLUME, 17, 0x0102030405060708L, 42, 43),
            new JournalEntry(255, 1, -2, 3, -4),
        };
        for (JournalEntry e : samples) {
            byte[] enc = e.encode();
            assertEquals(32, enc.length);
            assertEquals(e, JournalEntry.decode(enc));
        }
    }

    @Test
    void layoutIsLittleEndianWithZeroReservedBytes() {
        byte[] enc = new JournalEntry(1, 0x0203, 0x1112131415161718L, 0x2122232425262728L, 0x3132333435363738L).encode();
        byte[] expected = {
            1, 0, 0x03, 0x02, 0, 0, 0, 0,
            0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
            0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,
            0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31,
        };
        assertArrayEquals(expected, enc);
    }

    @Test
    void checksumIsStoredAtOffset4AndRoundTrips() {
        JournalEntry e = JournalEntry.map(3, 77, 1, 2, 0xA1B2C3D4);
        byte[] enc = e.encode();
        assertArrayEquals(new byte[] {(byte) 0xD4, (byte) 0xC3, (byte) 0xB2, (byte) 0xA1}, java.util.Arrays.copyOfRange(enc, 4, 8));
        assertEquals(e, JournalEntry.decode(enc));
        assertEquals(0xA1B2C3D4, JournalEntry.decode(enc).checksum());
    }

    @Test
    void encodeIntoBigEndianBufferStillWritesLittleEndian() {
        JournalEntry e = JournalEntry.map(9, 123456789L, 5, 6);
        ByteBuffer big = ByteBuffer.allocate(100).order(ByteOrder.BIG_ENDIAN);
        e.encodeTo(big, 40);
        byte[] slice = new byte[32];
        big.get(40, slice);
        assertArrayEquals(e.encode(), slice);
        assertEquals(e, JournalEntry.decodeFrom(big, 40));
    }

    @Test
    void encodeValidatesOpAndVolume() {
        assertThrows(IllegalArgumentException.class, () -> new JournalEntry(0, 0, 1, 2, 3).encode());
        assertThrows(IllegalArgumentException.class, () -> new JournalEntry(256, 0, 1, 2, 3).encode());
        assertThrows(IllegalArgumentException.class, () -> new JournalEntry(1, -1, 1, 2, 3).encode());
        assertThrows(IllegalArgumentException.class, () -> new JournalEntry(1, 65536, 1, 2, 3).encode());
        assertThrows(IllegalArgumentException.class, () -> JournalEntry.decode(new byte[31]));
    }
}
