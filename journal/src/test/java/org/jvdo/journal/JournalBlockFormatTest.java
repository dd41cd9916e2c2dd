package org.jvdo.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class JournalBlockFormatTest {

    private static final long NONCE = 0x1234_5678_9ABC_DEF0L;

    private static List<JournalEntry> entries(int n) {
        List<JournalEntry> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(JournalEntry.map(i % 5, 1000 + i, i, 2 * i + 1));
        }
        return list;
    }

    @Test
    void layoutConstants() {
        assertEquals(126, JournalBlockFormat.MAX_ENTRIES);
        assertEquals(4096, JournalBlockFormat.entryOffset(126));
        assertEquals(0, JournalBlockFormat.ringIndex(1, 8));
        assertEquals(7, JournalBlockFormat.ringIndex(8, 8));
        assertEquals(0, JournalBlockFormat.ringIndex(9, 8));
    }

    @Test
    void roundTripFullAndEmptyBlocks() {
        for (int n : new int[] {0, 1, 77, 126}) {
            List<JournalEntry> list = entries(n);
            ByteBuffer block = JournalBlockFormat.encode(17, 500, NONCE, list);
            JournalBlockFormat.DecodedBlock d = JournalBlockFormat.decode(block, NONCE, 17);
            assertTrue(d.valid(), d.failure());
            assertEquals(17, d.blockSeq());
            assertEquals(500, d.firstEntrySeq());
            assertEquals(list, d.entries());
        }
        assertThrows(IllegalArgumentException.class, () -> JournalBlockFormat.encode(1, 1, NONCE, entries(127)));
    }

    @Test
    void headerBytesAndCrcMatchTheSpecifiedLayout() {
        ByteBuffer block = JournalBlockFormat.encode(0x0102, 0x0304, NONCE, entries(3));
        byte[] raw = block.array();
        ByteBuffer le = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals('J', raw[0]);
        assertEquals('V', raw[1]);
        assertEquals('J', raw[2]);
        assertEquals('L', raw[3]);
        assertEquals(1, le.getShort(4));
        assertEquals(3, le.getShort(6));
        assertEquals(0x0102, le.getLong(8));
        assertEquals(0x0304, le.getLong(16));
        assertEquals(NONCE, le.getLong(24));
        for (int i = 32; i < 60; i++) {
            assertEquals(0, raw[i], "reserved byte " + i);
        }
        byte[] copy = raw.clone();
        copy[60] = copy[61] = copy[62] = copy[63] = 0;
        CRC32C crc = new CRC32C();
        crc.update(copy);
        assertEquals((int) crc.getValue(), le.getInt(60));
        assertEquals(JournalEntry.map(1, 1001, 1, 3), JournalEntry.decodeFrom(le, 64 + 32));
        for (int i = 64 + 3 * 32; i < 4096; i++) {
            assertEquals(0, raw[i], "unused entry byte " + i);
        }
    }

    @Test
    void failureReasons() {
        ByteBuffer good = JournalBlockFormat.encode(5, 1, NONCE, entries(4));
        assertNull(JournalBlockFormat.check(good, NONCE, 5));

        ByteBuffer zero = JournalBlockFormat.allocate();
        assertEquals("bad magic 0x00000000", JournalBlockFormat.check(zero, NONCE, 5));

        ByteBuffer version = copy(good);
        version.putShort(4, (short) 7);
        assertEquals("unsupported version 7", JournalBlockFormat.check(version, NONCE, 5));

        ByteBuffer flipped = copy(good);
        flipped.put(64 + 40, (byte) (flipped.get(64 + 40) ^ 0x10));
        assertTrue(JournalBlockFormat.check(flipped, NONCE, 5).startsWith("checksum mismatch"));

        String nonce = JournalBlockFormat.check(good, NONCE + 1, 5);
        assertTrue(nonce.startsWith("wrong nonce"), nonce);

        assertEquals("sequence 5 where 9 expected", JournalBlockFormat.check(good, NONCE, 9));

        ByteBuffer count = copy(good);
        count.putShort(6, (short) 127);
        count.putInt(60, JournalBlockFormat.checksum(count));
        assertEquals("entry count 127 out of range 0..126", JournalBlockFormat.check(count, NONCE, 5));

        JournalBlockFormat.DecodedBlock d = JournalBlockFormat.decode(flipped, NONCE, 5);
        assertTrue(!d.valid() && d.entries().isEmpty());
    }

    private static ByteBuffer copy(ByteBuffer b) {
        return ByteBuffer.wrap(b.array().clone()).order(ByteOrder.LITTLE_ENDIAN);
    }
}
