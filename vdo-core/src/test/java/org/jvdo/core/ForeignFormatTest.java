package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.UnsupportedFormatException;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.core.read.ForeignPools;
import org.jvdo.format.MappingEntry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Format 4.0 (docs/architecture.md): foreign mappings, the foreign pool table, and which super
 * block versions this jvdo reads.
 */
class ForeignFormatTest {
    @TempDir Path dir;

    @Test
    void foreignMappingsRoundTripAndAreNeverLocalBlocks() {
        for (long local : new long[]{Mapping.raw(5), Mapping.raw(MappingEntry.PBN_MASK), Mapping.packed(77, 0), Mapping.packed(77, 13)}) {
            for (int k : new int[]{1, 2, 63}) {
                for (int parity = 0; parity < 2; parity++) {
                    long f = Mapping.foreign(local, k, parity);
                    assertTrue(Mapping.isForeign(f) && Mapping.isValid(f), Mapping.describe(f));
                    assertFalse(Mapping.hasBlock(f), "a foreign mapping is no block of this pool: reference counts ignore it");
                    assertEquals(k, Mapping.foreignPool(f));
                    assertEquals(parity, Mapping.foreignParity(f));
                    assertEquals(local, Mapping.local(f));
                }
            }
        }
        long f = Mapping.foreign(Mapping.raw(9), 1, 0);
        assertFalse(Mapping.isValid(f & ~(0x3FL << MappingEntry.FOREIGN_SHIFT)), "pool index 0 is corruption");
        assertFalse(Mapping.isValid(f | (1L << 55)), "bit 55 must be zero");
        assertFalse(Mapping.isValid(Mapping.raw(9) | (1L << 48)), "a local mapping's reserved bits stay zero");
        assertThrows(IllegalArgumentException.class, () -> Mapping.foreign(Mapping.raw(1), 64, 0));
        assertThrows(IllegalArgumentException.class, () -> Mapping.foreign(Mapping.ZERO_ENTRY, 1, 0));
    }

    @Test
    void format40IsReadAndNewerMajorsAreRefused() {
        SuperBlock s = GoldenSuperBlockTest.fixed();
        s.major = SuperBlock.FOREIGN_MAJOR;
        s.minor = 0;
        s.ownerEpoch = 9;
        SuperBlock d = SuperBlock.decode(s.encode(), "4.0");
        assertEquals(4, d.major);
        assertEquals(9, d.ownerEpoch, "4.0 keeps 3.1's owner fields");
        s.major = 5;
        UnsupportedFormatException e = assertThrows(UnsupportedFormatException.class, () -> SuperBlock.decode(s.encode(), "5.0"));
        assertTrue(e.getMessage().contains("pool format version 5.0 is not supported (this jvdo reads formats 3.x and 4.0 only"), e.getMessage());
        s.major = 4;
        s.minor = 1;
        assertThrows(UnsupportedFormatException.class, () -> SuperBlock.decode(s.encode(), "4.1"));
    }

    @Test
    void theForeignPoolTableIsAppendedDurablyAndADamagedOneRefusesTheOpen() throws Exception {
        UUID a = new UUID(1, 1), b = new UUID(2, 2);
        try (ForeignPools t = ForeignPools.load(dir)) {
            assertEquals(0, t.size());
            assertEquals(1, t.indexOf(a, Path.of("/shared/a")));
            assertEquals(2, t.indexOf(b, Path.of("/shared/b")));
            assertEquals(1, t.indexOf(a, Path.of("/elsewhere")), "an entry is never replaced");
        }
        try (ForeignPools t = ForeignPools.load(dir)) {
            assertEquals(2, t.size());
            assertEquals(b, t.uuid(2));
            assertEquals(Path.of("/shared/a"), t.folder(1));
            assertNull(t.uuid(3));
            assertThrows(CorruptPoolException.class, () -> t.blocks(3));
        }
        Path f = dir.resolve(ForeignPools.FILE);
        byte[] good = Files.readAllBytes(f);
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x10;
            Files.write(f, bad);
            int at = i;
            assertThrows(CorruptPoolException.class, () -> ForeignPools.load(dir), "byte " + at + " damaged");
        }
        Files.write(f, java.util.Arrays.copyOf(good, good.length - 3));
        assertThrows(CorruptPoolException.class, () -> ForeignPools.load(dir), "cut short");
    }
}
