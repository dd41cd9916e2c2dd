package org.jvdo.core;

import org.jvdo.core.index.MemoryIndex;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.jvdo.testsupport.GoldenBytes;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of the dedup index file ({@link MemoryIndex#save}, version 1, big-endian as
 * {@code DataOutputStream} writes): magic {@code 0x58444E494F44564A} (bytes "XDNIODVJ"), version u32, capacity u32, count u64, then
 * (key u64, location u64) per used slot in slot order, then -1 u64 and the CRC32C u32 of the
 * entries. See {@link GoldenBytes}.
 *
 * <p>Regenerating the file ({@code -Djvdo.golden.write=true}) means the on-disk format changed,
 * which must bump the pool format version (or the index file version).
 */
class GoldenMemoryIndexTest {
    // fpHigh values chosen so that their buckets (top 32 bits * 64 >>> 32) are distinct and ordered
    static final long FP_A = 0x0123_4567_89AB_CDEFL;   // bucket 0
    static final long FP_B = 0x4000_0000_0000_0042L;   // bucket 16
    static final long FP_C = 0xC000_0000_0000_00C3L;   // bucket 48
    static final long FP_ZERO = 0L;                    // stored as key 1, bucket 0 (after FP_A: slot 1)

    @Test
    void indexFileBytesAreUnchanged(@TempDir Path dir) throws Exception {
        MemoryIndex idx = new MemoryIndex(64, 64);
        idx.update(FP_A, 0x1111, Mapping.raw(0x9_8765_4321L));          // 36-bit PBN, state 1
        idx.update(FP_B, 0x2222, Mapping.packed(0xABC, 0));            // state 2
        idx.update(FP_C, 0x3333, Mapping.packed(0xDEF, 13));           // state 15
        idx.update(FP_ZERO, 0x4444, Mapping.raw(7));
        idx.update(0x5555, 0x5555, Mapping.ZERO_ENTRY);                // not indexed (no block)
        assertEquals(4, idx.entries());
        Path file = dir.resolve("index");
        idx.save(file);
        byte[] golden = GoldenBytes.check("memory-index-file", Files.readAllBytes(file));

        ByteBuffer g = ByteBuffer.wrap(golden); // big-endian
        assertEquals(8 + 4 + 4 + 8 + 4 * 16 + 8 + 4, golden.length);
        // The magic constant spells "JVDOINDX" little-endian but is written big-endian: the file starts "XDNIODVJ".
        assertEquals("XDNIODVJ", new String(golden, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(0x58444E494F44564AL, g.getLong(0));
        assertEquals(1, g.getInt(8));
        assertEquals(64, g.getInt(12));
        assertEquals(4, g.getLong(16));
        assertEquals(FP_A, g.getLong(24));
        assertEquals((0x9_8765_4321L << 4) | 1, g.getLong(32));
        assertEquals(1L, g.getLong(40));
        assertEquals((7L << 4) | 1, g.getLong(48));
        assertEquals(FP_B, g.getLong(56));
        assertEquals((0xABCL << 4) | 2, g.getLong(64));
        assertEquals(FP_C, g.getLong(72));
        assertEquals((0xDEFL << 4) | 15, g.getLong(80));
        assertEquals(-1L, g.getLong(88));
        CRC32C crc = new CRC32C();
        crc.update(golden, 24, 64);
        assertEquals((int) crc.getValue(), g.getInt(96));

        Path back = dir.resolve("golden-index");
        Files.write(back, golden);
        MemoryIndex d = MemoryIndex.load(back, 64);
        assertEquals(4, d.entries());
        assertEquals(64, d.capacity());
        assertEquals(Mapping.raw(0x9_8765_4321L), d.lookup(FP_A, 0));
        assertEquals(Mapping.packed(0xABC, 0), d.lookup(FP_B, 0));
        assertEquals(Mapping.packed(0xDEF, 13), d.lookup(FP_C, 0));
        assertEquals(Mapping.raw(7), d.lookup(FP_ZERO, 0));
        assertEquals(-1, d.lookup(0x5555, 0));
    }
}
