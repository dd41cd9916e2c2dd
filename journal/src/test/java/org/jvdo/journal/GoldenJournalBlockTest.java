package org.jvdo.journal;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.jvdo.testsupport.GoldenBytes;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of a journal entry and of a sealed journal block (version 2, per-sector stamps,
 * commit point), see {@link GoldenBytes}.
 *
 * <p>Regenerating a file ({@code -Djvdo.golden.write=true}) means the on-disk format changed,
 * which must bump the pool format version (and the journal block version).
 */
class GoldenJournalBlockTest {
    // Mapping encodings as vdo-core's Mapping writes them (state in the top byte, PBN in the low 48 bits)
    static final long UNMAPPED = 0L;
    static final long ZERO = 1L << 56;
    static long raw(long pbn) { return (2L << 56) | pbn; }
    static long packed(long pbn, int slot) { return ((16L + slot) << 56) | pbn; }

    static final long BLOCK_SEQ = 0x0000_0001_0000_0203L;
    static final long FIRST_ENTRY_SEQ = 0x0000_00AB_CDEF_0001L;
    static final long NONCE = 0x0BAD_F00D_DEAD_BEEFL;
    static final long COMMIT_POINT = FIRST_ENTRY_SEQ - 5;
    static final int COUNT = 16; // 14 in sector 0, 2 in sector 1

    static List<JournalEntry> entries() {
        List<JournalEntry> e = new ArrayList<>();
        e.add(JournalEntry.map(3, 0x0102_0304_0506L, UNMAPPED, raw(0x1234), 0xA1B2C3D4));
        e.add(JournalEntry.map(0xFFFF, 7, raw(0x1234), ZERO));
        e.add(JournalEntry.map(1, 8, ZERO, packed(0xABCDEF, 13), 0x7FFFFFFF));
        e.add(new JournalEntry(JournalEntry.OP_VOLUME, 0x0107, 0, 0, 0, 0));
        for (int i = 4; i < COUNT; i++) e.add(JournalEntry.map(2, 1000 + i, raw(i), packed(0x100 + i, i % 14), 0x1000 * i));
        return e;
    }

    @Test
    void entryBytesAreUnchanged() {
        JournalEntry e = JournalEntry.map(0x0203, 0x1122_3344_5566_7788L, raw(0xAA), packed(0xBB, 5), 0xCAFEBABE);
        byte[] golden = GoldenBytes.check("journal-entry", e.encode());
        assertEquals(32, golden.length);
        ByteBuffer g = ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, golden[0]);
        assertEquals(0, golden[1]);
        assertEquals(0x0203, g.getShort(2));
        assertEquals(0xCAFEBABE, g.getInt(4));
        assertEquals(0x1122_3344_5566_7788L, g.getLong(8));
        assertEquals(raw(0xAA), g.getLong(16));
        assertEquals(packed(0xBB, 5), g.getLong(24));
        assertEquals(e, JournalEntry.decode(golden));
        assertEquals(1, JournalEntry.OP_MAP);
        assertEquals(2, JournalEntry.OP_VOLUME);
    }

    @Test
    void blockBytesAreUnchanged() {
        ByteBuffer b = JournalBlockFormat.allocate();
        List<JournalEntry> entries = entries();
        for (int i = 0; i < entries.size(); i++) entries.get(i).encodeTo(b, JournalBlockFormat.entryOffset(i));
        JournalBlockFormat.seal(b, COUNT, BLOCK_SEQ, FIRST_ENTRY_SEQ, NONCE, COMMIT_POINT);
        byte[] golden = GoldenBytes.check("journal-block", b.array());

        ByteBuffer g = ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN);
        // sector 0 header
        assertEquals("JVJL", new String(golden, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(2, g.getShort(4));
        assertEquals(COUNT, g.getShort(6));
        assertEquals(BLOCK_SEQ, g.getLong(8));
        assertEquals(FIRST_ENTRY_SEQ, g.getLong(16));
        assertEquals(NONCE, g.getLong(24));
        assertEquals(COMMIT_POINT, g.getLong(32));
        for (int i = 44; i < 60; i++) assertEquals(0, golden[i], "reserved byte " + i);
        // sector CRC of sector 0: bytes 0..511 with [40, 44) as zero
        byte[] s0 = java.util.Arrays.copyOf(golden, 512);
        java.util.Arrays.fill(s0, 40, 44, (byte) 0);
        CRC32C c0 = new CRC32C();
        c0.update(s0);
        assertEquals((int) c0.getValue(), g.getInt(40));
        // block CRC: all 4096 bytes with [40, 44) and [60, 64) as zero
        byte[] all = golden.clone();
        java.util.Arrays.fill(all, 40, 44, (byte) 0);
        java.util.Arrays.fill(all, 60, 64, (byte) 0);
        CRC32C cb = new CRC32C();
        cb.update(all);
        assertEquals((int) cb.getValue(), g.getInt(60));
        // entry slots: 0..13 from 64 in sector 0, 14.. from 512 + 32 in sector 1
        assertEquals(64, JournalBlockFormat.entryOffset(0));
        assertEquals(64 + 13 * 32, JournalBlockFormat.entryOffset(13));
        assertEquals(512 + 32, JournalBlockFormat.entryOffset(14));
        assertEquals(1024 + 32, JournalBlockFormat.entryOffset(29));
        assertEquals(119, JournalBlockFormat.MAX_ENTRIES);
        for (int i = 0; i < COUNT; i++) {
            byte[] enc = entries.get(i).encode();
            int off = JournalBlockFormat.entryOffset(i);
            assertArrayEquals(enc, java.util.Arrays.copyOfRange(golden, off, off + 32), "entry " + i);
        }
        // sector stamps 1..7
        for (int k = 1; k < 8; k++) {
            int base = 512 * k;
            assertEquals("JVJS", new String(golden, base, 4, StandardCharsets.US_ASCII), "sector " + k);
            assertEquals(2, g.getShort(base + 4));
            assertEquals(k, g.getShort(base + 6));
            assertEquals(BLOCK_SEQ, g.getLong(base + 8));
            assertEquals(NONCE, g.getLong(base + 16));
            assertEquals(0, g.getInt(base + 24));
            byte[] s = java.util.Arrays.copyOfRange(golden, base, base + 512);
            java.util.Arrays.fill(s, 28, 32, (byte) 0);
            CRC32C ck = new CRC32C();
            ck.update(s);
            assertEquals((int) ck.getValue(), g.getInt(base + 28), "sector " + k + " CRC");
        }
        // unused entry slots are zero
        for (int i = COUNT; i < 119; i++) {
            int off = JournalBlockFormat.entryOffset(i);
            for (int j = off; j < off + 32; j++) assertEquals(0, golden[j], "unused slot " + i);
        }

        // decode
        JournalBlockFormat.DecodedBlock d = JournalBlockFormat.decode(ByteBuffer.wrap(golden), NONCE, BLOCK_SEQ);
        assertTrue(d.valid(), d.failure());
        assertEquals(BLOCK_SEQ, d.blockSeq());
        assertEquals(FIRST_ENTRY_SEQ, d.firstEntrySeq());
        assertEquals(COMMIT_POINT, d.commitPoint());
        assertEquals(entries, d.entries());
        for (int k = 0; k < 8; k++) {
            assertEquals(JournalBlockFormat.SectorState.EXPECTED,
                    JournalBlockFormat.sector(ByteBuffer.wrap(golden), k, NONCE, BLOCK_SEQ).state(), "sector " + k);
        }
    }

    @Test
    void encodeHelperMatchesSealWithoutCommitPoint() {
        ByteBuffer b = JournalBlockFormat.encode(BLOCK_SEQ, FIRST_ENTRY_SEQ, NONCE, entries());
        byte[] golden = GoldenBytes.check("journal-block-no-commit-point", b.array());
        assertEquals(0L, ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN).getLong(32));
        assertEquals(entries(), JournalBlockFormat.decode(ByteBuffer.wrap(golden), NONCE, BLOCK_SEQ).entries());
    }
}
