package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.UnsupportedFormatException;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.UUID;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.*;

class SuperBlockTest {
    static SuperBlock sample() {
        SuperBlock s = new SuperBlock();
        s.uuid = new UUID(0x1234_5678_9abc_def0L, 0x0fed_cba9_8765_4321L);
        s.nonce = -77;
        s.journalBlocks = 256;
        s.slabDataBlocks = 1000;
        s.slabRefBlocks = SlabDepot.refBlocksFor(1000);
        s.physicalLimit = 123_456;
        s.formatLayout();
        s.slabsInUse = 7;
        long m = s.mapAreaStart;
        s.nextRegionBlock = m + 9999;
        s.journalHeadBlockSeq = 17;
        s.journalHeadEntrySeq = 4242;
        s.clean = true;
        s.readOnly = true;
        s.readOnlyReason = "disk on fire — ünïcödé";
        s.refcountCrc = 0xCAFEBABE;
        SuperBlock.VolumeRecord v = new SuperBlock.VolumeRecord(3, "vol.one", Pool.ENGINE_NONE, 3000, m + 300, 10);
        v.usedBlocks = 44;
        v.zeroBlocks = 5;
        s.volumes.add(v);
        s.volumes.add(new SuperBlock.VolumeRecord(7, "x".repeat(SuperBlock.MAX_NAME), Pool.ENGINE_LZ4, 1, m + 310, 1));
        return s;
    }

    static void assertSame(SuperBlock a, SuperBlock b) {
        assertEquals(a.generation, b.generation);
        assertEquals(a.uuid, b.uuid);
        assertEquals(a.nonce, b.nonce);
        assertEquals(a.journalBlocks, b.journalBlocks);
        assertEquals(a.journalStart, b.journalStart);
        assertEquals(a.slabDataBlocks, b.slabDataBlocks);
        assertEquals(a.slabRefBlocks, b.slabRefBlocks);
        assertEquals(a.physicalLimit, b.physicalLimit);
        assertEquals(a.nextRegionBlock, b.nextRegionBlock);
        assertEquals(a.journalHeadBlockSeq, b.journalHeadBlockSeq);
        assertEquals(a.journalHeadEntrySeq, b.journalHeadEntrySeq);
        assertEquals(a.clean, b.clean);
        assertEquals(a.readOnly, b.readOnly);
        assertEquals(a.readOnlyReason, b.readOnlyReason);
        assertEquals(a.refcountCrc, b.refcountCrc);
        assertEquals(a.slabsInUse, b.slabsInUse);
        assertEquals(a.slabAreaStart, b.slabAreaStart);
        assertEquals(a.slabCount, b.slabCount);
        assertEquals(a.mapAreaStart, b.mapAreaStart);
        assertEquals(a.volumes.size(), b.volumes.size());
        for (int i = 0; i < a.volumes.size(); i++) {
            SuperBlock.VolumeRecord x = a.volumes.get(i), y = b.volumes.get(i);
            assertEquals(x.id, y.id);
            assertEquals(x.name, y.name);
            assertEquals(x.engine, y.engine);
            assertEquals(x.logicalBlocks, y.logicalBlocks);
            assertEquals(x.mapStart, y.mapStart);
            assertEquals(x.mapPages, y.mapPages);
            assertEquals(x.usedBlocks, y.usedBlocks);
            assertEquals(x.zeroBlocks, y.zeroBlocks);
        }
    }

    @Test
    void roundTripThroughBothCopies() throws Exception {
        MemBlockStore store = new MemBlockStore("mem:sb");
        SuperBlock s = sample();
        s.write(store); // generation 1 → copy 1
        assertSame(s, SuperBlock.read(store));
        s.nonce = 99;
        s.volumes.get(0).usedBlocks = 45;
        s.write(store); // generation 2 → copy 0
        SuperBlock back = SuperBlock.read(store);
        assertEquals(2, back.generation);
        assertSame(s, back);
    }

    /** Rewrites one copy with a different major version (and a valid checksum). */
    static void rewriteVersion(MemBlockStore store, int copy, int major) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(SuperBlock.COPY_BYTES);
        store.read((long) copy * SuperBlock.COPY_BLOCKS, b);
        b.flip();
        b.order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(8, (short) major);
        b.putShort(10, (short) 3);
        int used = b.getInt(12);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, used - 4);
        b.putInt(used - 4, (int) crc.getValue());
        store.write((long) copy * SuperBlock.COPY_BLOCKS, b);
    }

    @Test
    void newerMajorVersionIsRefusedNamingTheVersion() throws Exception {
        MemBlockStore store = new MemBlockStore("mem:future");
        SuperBlock s = sample();
        s.write(store);
        s.write(store);
        rewriteVersion(store, 1, SuperBlock.MAJOR + 1); // the older copy: even so the pool must not be opened by this version
        UnsupportedFormatException e = assertThrows(UnsupportedFormatException.class, () -> SuperBlock.read(store));
        assertTrue(e.getMessage().contains((SuperBlock.MAJOR + 1) + ".3"), e.getMessage());
        assertTrue(e.getMessage().contains("mem:future"), e.getMessage());
    }

    @Test
    void badChecksumInOneCopyUsesTheOther() throws Exception {
        MemBlockStore store = new MemBlockStore("mem:torn");
        SuperBlock s = sample();
        s.write(store); // gen 1 in copy 1
        s.nonce = 1;
        s.write(store); // gen 2 in copy 0
        // flip a byte inside the newest copy (the nonce): its checksum no longer matches
        store.blocks.get(0L)[41] ^= 0x40;
        SuperBlock back = SuperBlock.read(store);
        assertEquals(1, back.generation);
        assertEquals(-77, back.nonce);
        // and the other way round: copy 1 bad, copy 0 good
        MemBlockStore store2 = new MemBlockStore("mem:torn2");
        SuperBlock t = sample();
        t.write(store2);
        t.write(store2);
        store2.blocks.get((long) SuperBlock.COPY_BLOCKS)[100] ^= 1;
        assertEquals(2, SuperBlock.read(store2).generation);
    }

    @Test
    void bothCopiesBadNamesTheFile() throws Exception {
        MemBlockStore store = new MemBlockStore("/some/dir/pool.jvdo");
        SuperBlock s = sample();
        s.write(store);
        s.write(store);
        store.blocks.get(0L)[50] ^= 1;
        store.blocks.get((long) SuperBlock.COPY_BLOCKS)[50] ^= 1;
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> SuperBlock.read(store));
        assertTrue(e.getMessage().contains("/some/dir/pool.jvdo"), e.getMessage());
        assertEquals(Errno.EIO, e.errno());
    }

    @Test
    void garbageIsNotAPool() throws Exception {
        MemBlockStore store = new MemBlockStore("mem:garbage");
        byte[] g = new byte[SuperBlock.COPY_BYTES * 2];
        new java.util.Random(3).nextBytes(g);
        store.write(0, ByteBuffer.wrap(g));
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> SuperBlock.read(store));
        assertTrue(e.getMessage().contains("mem:garbage"), e.getMessage());
    }

    /** Every super-block write is synced before the next may start, so a power loss after any number of writes keeps one valid copy. */
    @Test
    void powerLossAfterBackToBackWritesKeepsTheLastSyncedCopy() throws Exception {
        PowerLossBlockStore store = PowerLossBlockStore.inMemory("mem:power");
        SuperBlock s = sample();
        s.write(store); // gen 1, copy 1
        s.nonce = 2;
        s.write(store); // gen 2, copy 0
        assertEquals(0, store.pendingPages(), "a super-block write returns only after its sync");
        s.nonce = 3;
        store.failWrite = b -> b >= SuperBlock.COPY_BLOCKS && b < 2 * SuperBlock.COPY_BLOCKS; // gen 3 would go to copy 1
        assertThrows(java.io.IOException.class, () -> s.write(store));
        store.powerLoss();
        SuperBlock back = SuperBlock.read(store);
        assertEquals(2, back.generation);
        assertEquals(2, back.nonce);
    }

    /** A failed write (or sync) does not advance the generation: the retry goes to the same copy, never over the last durable one. */
    @Test
    void failedWriteLeavesGenerationAndRetriesTheSameCopy() throws Exception {
        PowerLossBlockStore store = PowerLossBlockStore.inMemory("mem:retry");
        SuperBlock s = sample();
        s.write(store); // gen 1, copy 1
        long[] wroteAt = {-1};
        store.failWrite = b -> { wroteAt[0] = b; return b < SuperBlock.COPY_BLOCKS; };
        assertThrows(java.io.IOException.class, () -> s.write(store));
        assertEquals(1, s.generation, "the generation advances only once the copy is written and synced");
        wroteAt[0] = -1;
        store.failWrite = b -> { if (wroteAt[0] < 0) wroteAt[0] = b; return false; };
        s.nonce = 5;
        s.write(store);
        assertEquals(0, wroteAt[0], "the retry is written to copy 0 again, leaving copy 1 (the durable one) alone");
        assertEquals(2, s.generation);
        assertEquals(5, SuperBlock.read(store).nonce);
    }

    /** Layout geometry a decoder cannot trust is refused (slab area, map area, volume regions). */
    @Test
    void inconsistentLayoutIsCorrupt() throws Exception {
        SuperBlock s = sample();
        s.mapAreaStart++;
        MemBlockStore store = new MemBlockStore("mem:layout");
        s.write(store);
        s.write(store);
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> SuperBlock.read(store));
        assertTrue(e.getMessage().contains("layout inconsistent"), e.getMessage());
        SuperBlock t = sample();
        t.volumes.get(0).mapStart = t.nextRegionBlock - 5; // runs past the layout end
        MemBlockStore store2 = new MemBlockStore("mem:vol");
        t.write(store2);
        t.write(store2);
        e = assertThrows(CorruptPoolException.class, () -> SuperBlock.read(store2));
        assertTrue(e.getMessage().contains("record inconsistent"), e.getMessage());
    }

    @Test
    void slabPositionsAreComputedAndFillTheSlabArea() {
        SuperBlock s = sample();
        assertEquals(s.journalStart + s.journalBlocks, s.slabStart(0));
        assertEquals(124, s.slabCount);
        assertEquals(s.mapAreaStart, s.slabStart(s.slabCount - 1) + s.slabRefBlocks + s.slabDataBlocks);
        assertThrows(IllegalArgumentException.class, () -> s.slabStart(s.slabCount));
    }
}
