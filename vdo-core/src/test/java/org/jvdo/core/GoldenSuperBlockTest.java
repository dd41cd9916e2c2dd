package org.jvdo.core;

import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.UUID;
import org.jvdo.testsupport.GoldenBytes;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Golden bytes of one super block copy, see {@link GoldenBytes}: format 3.0 in
 * {@code golden/superblock-copy.hex} (still read: a 3.0 pool has no owner, epoch 0) and format 3.1
 * (the owner epoch and member) in {@code golden/superblock-copy-3.1.hex}. A fixed instance with
 * distinctive values is encoded and compared byte for byte; the golden bytes are decoded and every
 * field checked.
 *
 * <p>Regenerating the file ({@code -Djvdo.golden.write=true}) means the on-disk format changed,
 * which must bump the pool format version.
 */
class GoldenSuperBlockTest {
    static SuperBlock fixed() {
        SuperBlock s = new SuperBlock();
        s.minor = 0;
        s.generation = 0x0102_0304_0506_0708L;
        s.uuid = new UUID(0x1122_3344_5566_7788L, 0x99AA_BBCC_DDEE_FF00L);
        s.nonce = 0x0BAD_F00D_DEAD_BEEFL;
        s.journalBlocks = 0x0123;
        s.slabDataBlocks = 1000;
        s.slabRefBlocks = 3;
        s.physicalLimit = 5555;
        s.segmentShift = 20;
        s.formatLayout(); // slab area 16 + 291 = 307, 6 slabs, map area 307 + 6 * 1003 = 6325
        s.nextRegionBlock = s.mapAreaStart + 77;
        s.journalHeadBlockSeq = 0x1717;
        s.journalHeadEntrySeq = 0x4242_4242L;
        s.clean = true;
        s.readOnly = true;
        s.readOnlyReason = "golden reason é";
        s.refcountCrc = 0xCAFEBABE;
        s.slabsInUse = 5;
        SuperBlock.VolumeRecord a = new SuperBlock.VolumeRecord(3, "alpha", Pool.ENGINE_LZ4, 1000, s.mapAreaStart, 3);
        a.usedBlocks = 0x44;
        a.zeroBlocks = 0x55;
        SuperBlock.VolumeRecord b = new SuperBlock.VolumeRecord(0x0107, "beta-vol", Pool.ENGINE_NONE, 340 * 2, s.mapAreaStart + 10, 2);
        b.usedBlocks = 0x66;
        b.zeroBlocks = 0x77;
        s.volumes.add(a);
        s.volumes.add(b);
        return s;
    }

    @Test
    void format31AddsTheOwnerEpochAndMember() {
        SuperBlock s = fixed();
        s.minor = 1;
        s.ownerEpoch = 0x0E0E_0E0E_0000_0007L;
        s.ownerMember = new UUID(0x0A0B_0C0D_0E0F_1011L, 0x1213_1415_1617_1819L);
        ByteBuffer enc = s.encode();
        byte[] actual = new byte[SuperBlock.COPY_BYTES];
        enc.get(0, actual);
        byte[] golden = GoldenBytes.check("superblock-copy-3.1", actual);
        SuperBlock d = SuperBlock.decode(ByteBuffer.wrap(golden), "golden 3.1");
        assertEquals(3, d.major);
        assertEquals(1, d.minor);
        assertEquals(0x0E0E_0E0E_0000_0007L, d.ownerEpoch);
        assertEquals(new UUID(0x0A0B_0C0D_0E0F_1011L, 0x1213_1415_1617_1819L), d.ownerMember);
        assertEquals("alpha", d.volumes.get(0).name);
        ByteBuffer g = ByteBuffer.wrap(golden).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, g.getShort(10));
        assertEquals(0x0E0E_0E0E_0000_0007L, g.getLong(344));
        assertEquals(0x0A0B_0C0D_0E0F_1011L, g.getLong(352));
        assertEquals(0x1213_1415_1617_1819L, g.getLong(360));
        // the same values in a 3.0 copy: the owner fields are not written, and read back as none
        s.minor = 0;
        SuperBlock old = SuperBlock.decode(s.encode(), "3.0");
        assertEquals(0, old.ownerEpoch);
        assertNull(old.ownerMember);
    }

    @Test
    void superBlockCopyBytesAreUnchanged() {
        ByteBuffer enc = fixed().encode();
        byte[] actual = new byte[SuperBlock.COPY_BYTES];
        enc.get(0, actual);
        byte[] golden = GoldenBytes.check("superblock-copy", actual);

        SuperBlock d = SuperBlock.decode(ByteBuffer.wrap(golden), "golden");
        assertEquals(3, d.major);
        assertEquals(0, d.minor);
        assertEquals(0x0102_0304_0506_0708L, d.generation);
        assertEquals(new UUID(0x1122_3344_5566_7788L, 0x99AA_BBCC_DDEE_FF00L), d.uuid);
        assertEquals(0x0BAD_F00D_DEAD_BEEFL, d.nonce);
        assertEquals(0x0123, d.journalBlocks);
        assertEquals(16, d.journalStart);
        assertEquals(1000, d.slabDataBlocks);
        assertEquals(3, d.slabRefBlocks);
        assertEquals(5555, d.physicalLimit);
        assertEquals(16 + 0x123, d.slabAreaStart);
        assertEquals(6, d.slabCount);
        assertEquals(20, d.segmentShift);
        assertEquals(16 + 0x123 + 6 * 1003, d.mapAreaStart);
        assertEquals(d.mapAreaStart + 77, d.nextRegionBlock);
        assertEquals(0x1717, d.journalHeadBlockSeq);
        assertEquals(0x4242_4242L, d.journalHeadEntrySeq);
        assertTrue(d.clean);
        assertTrue(d.readOnly);
        assertEquals("golden reason é", d.readOnlyReason);
        assertEquals(0xCAFEBABE, d.refcountCrc);
        assertEquals(5, d.slabsInUse);
        assertEquals(2, d.volumes.size());
        SuperBlock.VolumeRecord a = d.volumes.get(0), b = d.volumes.get(1);
        assertEquals(3, a.id);
        assertEquals("alpha", a.name);
        assertEquals(Pool.ENGINE_LZ4, a.engine);
        assertEquals(1000, a.logicalBlocks);
        assertEquals(d.mapAreaStart, a.mapStart);
        assertEquals(3, a.mapPages);
        assertEquals(0x44, a.usedBlocks);
        assertEquals(0x55, a.zeroBlocks);
        assertEquals(0x0107, b.id);
        assertEquals("beta-vol", b.name);
        assertEquals(Pool.ENGINE_NONE, b.engine);
        assertEquals(680, b.logicalBlocks);
        assertEquals(d.mapAreaStart + 10, b.mapStart);
        assertEquals(2, b.mapPages);
        assertEquals(0x66, b.usedBlocks);
        assertEquals(0x77, b.zeroBlocks);

        // A few fixed offsets from the documented layout, read straight from the bytes.
        ByteBuffer g = ByteBuffer.wrap(golden).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals("JVDOPOOL", new String(golden, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(384 + 2 * 108 + 4, g.getInt(12)); // used length: volume records are 108 bytes
        assertEquals(4096, g.getInt(48));
        assertEquals(2, g.getShort(106));
        assertEquals(16, g.getShort(116)); // UTF-8 length of the reason
        for (int i = 384 + 2 * 108 + 4; i < golden.length; i++) assertEquals(0, golden[i], "byte " + i + " past the used length");
    }
}
