package org.jvdo.core.index;

import org.jvdo.core.logical.Mapping;
import org.jvdo.testsupport.GoldenBytes;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of the index file version 2 ({@link DenseIndex#save}, big-endian as
 * {@code DataOutputStream} writes): magic, version 2 u32, mode u32 (0 dense), key bits u32,
 * count u64, then (key u64, location u64) per entry in slot order, -1 u64 and the CRC32C u32 of
 * the entries. Regenerating it ({@code -Djvdo.golden.write=true}) means the index file format
 * changed, which must bump {@code IndexFileLayout.VERSION}.
 */
class GoldenDenseIndexTest {
    // a 64-slot index: one segment, 18 key bits (6 for the home slot, 12 remainder); homes 0, 16, 48
    static final long FP_A = 0x0123_4567_89AB_CDEFL;
    static final long FP_B = 0x4000_0000_0000_0042L;
    static final long FP_C = 0xC000_0000_0000_00C3L;
    static final long KEY_MASK = -1L << (64 - 18);

    @Test
    void indexFileVersion2BytesAreUnchanged(@TempDir Path dir) throws Exception {
        DenseIndex idx = new DenseIndex(64, 64, 1L << 36);
        assertEquals(18, idx.keyBits());
        idx.update(FP_A, 0x1111, Mapping.raw(0x9_8765_4321L));          // 36-bit PBN, state 1
        idx.update(FP_B, 0x2222, Mapping.packed(0xABC, 0));            // state 2
        idx.update(FP_C, 0x3333, Mapping.packed(0xDEF, 13));           // state 15
        idx.update(0x5555, 0x5555, Mapping.ZERO_ENTRY);                // not indexed (no block)
        assertEquals(3, idx.entries());
        Path file = dir.resolve("index");
        idx.save(file);
        byte[] golden = GoldenBytes.check("dense-index-file-v2", Files.readAllBytes(file));

        ByteBuffer g = ByteBuffer.wrap(golden);
        assertEquals(28 + 3 * 16 + 8 + 4, golden.length);
        assertEquals("XDNIODVJ", new String(golden, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(2, g.getInt(8));
        assertEquals(0, g.getInt(12));
        assertEquals(18, g.getInt(16));
        assertEquals(3, g.getLong(20));
        assertEquals(FP_A & KEY_MASK, g.getLong(28));
        assertEquals((0x9_8765_4321L << 4) | 1, g.getLong(36));
        assertEquals(FP_B & KEY_MASK, g.getLong(44));
        assertEquals((0xABCL << 4) | 2, g.getLong(52));
        assertEquals(FP_C & KEY_MASK, g.getLong(60));
        assertEquals((0xDEFL << 4) | 15, g.getLong(68));
        assertEquals(-1L, g.getLong(76));
        CRC32C crc = new CRC32C();
        crc.update(golden, 28, 48);
        assertEquals((int) crc.getValue(), g.getInt(84));

        Path back = dir.resolve("golden-index");
        Files.write(back, golden);
        StringBuilder report = new StringBuilder();
        DedupIndex d = IndexFactory.load(back, "dense", 64, 64, 1L << 36, null, report);
        assertEquals(3, d.entries());
        assertEquals(Mapping.raw(0x9_8765_4321L), d.lookup(FP_A, 0));
        assertEquals(Mapping.packed(0xABC, 0), d.lookup(FP_B, 0));
        assertEquals(Mapping.packed(0xDEF, 13), d.lookup(FP_C, 0));
        assertEquals(-1, d.lookup(0x5555, 0));
    }
}
