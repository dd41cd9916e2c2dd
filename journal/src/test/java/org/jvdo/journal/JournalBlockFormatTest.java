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
        assertEquals(119, JournalBlockFormat.MAX_ENTRIES);
        assertEquals(64, JournalBlockFormat.entryOffset(0));
        assertEquals(512 - 32, JournalBlockFormat.entryOffset(13));
        assertEquals(512 + 32, JournalBlockFormat.entryOffset(14));
        assertEquals(7 * 512 + 32 + 14 * 32, JournalBlockFormat.entryOffset(118));
        assertEquals(7, JournalBlockFormat.sectorOf(118));
        assertEquals(0, JournalBlockFormat.ringIndex(1, 8));
        assertEquals(7, JournalBlockFormat.ringIndex(8, 8));
        assertEquals(0, JournalBlockFormat.ringIndex(9, 8));
    }

    @Test
    void roundTripFullAndEmptyBlocks() {
        for (int n : new int[] {0, 1, 14, 15, 77, 119}) {
            List<JournalEntry> list = entries(n);
            ByteBuffer block = JournalBlockFormat.encode(17, 500, NONCE, list);
            JournalBlockFormat.DecodedBlock d = JournalBlockFormat.decode(block, NONCE, 17);
            assertTrue(d.valid(), d.failure());
            assertEquals(17, d.blockSeq());
            assertEquals(500, d.firstEntrySeq());
            assertEquals(list, d.entries());
        }
        assertThrows(IllegalArgumentException.class, () -> JournalBlockFormat.encode(1, 1, NONCE, entries(120)));
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
        assertEquals(2, le.getShort(4));
        assertEquals(3, le.getShort(6));
        assertEquals(0x0102, le.getLong(8));
        assertEquals(0x0304, le.getLong(16));
        assertEquals(NONCE, le.getLong(24));
        assertEquals(0, le.getLong(32), "commit point");
        for (int i = 44; i < 60; i++) {
            assertEquals(0, raw[i], "reserved byte " + i);
        }
        byte[] s0 = java.util.Arrays.copyOf(raw, 512);
        for (int i : new int[] {40, 41, 42, 43}) s0[i] = 0;
        CRC32C c0 = new CRC32C();
        c0.update(s0);
        assertEquals((int) c0.getValue(), le.getInt(40), "sector 0 CRC");
        for (int k = 1; k < 8; k++) {
            int base = k * 512;
            assertEquals(0x534A564A, le.getInt(base), "sector magic");
            assertEquals(2, le.getShort(base + 4));
            assertEquals(k, le.getShort(base + 6));
            assertEquals(0x0102, le.getLong(base + 8));
            assertEquals(NONCE, le.getLong(base + 16));
            assertEquals(0, le.getInt(base + 24));
            byte[] sk = java.util.Arrays.copyOfRange(raw, base, base + 512);
            sk[28] = sk[29] = sk[30] = sk[31] = 0;
            CRC32C ck = new CRC32C();
            ck.update(sk);
            assertEquals((int) ck.getValue(), le.getInt(base + 28), "sector " + k + " CRC");
        }
        byte[] copy = raw.clone();
        copy[40] = copy[41] = copy[42] = copy[43] = 0;
        copy[60] = copy[61] = copy[62] = copy[63] = 0;
        CRC32C crc = new CRC32C();
        crc.update(copy);
        assertEquals((int) crc.getValue(), le.getInt(60));
        assertEquals(JournalEntry.map(1, 1001, 1, 3), JournalEntry.decodeFrom(le, 64 + 32));
        for (int slot = 3; slot < JournalBlockFormat.MAX_ENTRIES; slot++) {
            int off = JournalBlockFormat.entryOffset(slot);
            for (int i = off; i < off + 32; i++) assertEquals(0, raw[i], "unused entry byte " + i);
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
        count.putShort(6, (short) 120);
        count.putInt(60, JournalBlockFormat.checksum(count));
        assertEquals("entry count 120 out of range 0..119", JournalBlockFormat.check(count, NONCE, 5));

        JournalBlockFormat.DecodedBlock d = JournalBlockFormat.decode(flipped, NONCE, 5);
        assertTrue(!d.valid() && d.entries().isEmpty());
    }

    private static ByteBuffer copy(ByteBuffer b) {
        return ByteBuffer.wrap(b.array().clone()).order(ByteOrder.LITTLE_ENDIAN);
    }
}
