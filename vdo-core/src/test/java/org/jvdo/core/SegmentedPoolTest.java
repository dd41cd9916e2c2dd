package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SegmentedBlockStore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A pool larger than one file may be: its blocks are spread over segment files
 * ({@link SegmentedBlockStore}). Here segments are 2^10 blocks (4 MiB) so a 64 MiB pool spans
 * many of them; every slab, block-map region and read crossing a boundary must behave exactly as
 * in one file, and a missing or short segment is truncation, never zeros.
 */
@org.junit.jupiter.api.Timeout(value = 120, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class SegmentedPoolTest {
    @TempDir Path dir;

    static PoolConfig cfg() {
        PoolConfig c = PoolConfig.small(64L << 20);
        c.segmentShift = 10;
        return c;
    }

    byte[] content(Random r, int i) { return i % 3 == 0 ? Blocks.random(r) : i % 3 == 1 ? Blocks.text(r) : new byte[BS]; }

    /** Writes 6000 blocks (about 24 MiB of data, raw, packed and zero) into a volume that itself spans segments. */
    byte[][] populate() throws Exception {
        Random r = new Random(3);
        byte[][] c = new byte[6000][];
        try (Pool p = Pool.create(dir, cfg())) {
            Volume v = p.createVolume("v", 8000L * BS);
            Volume w = p.createVolume("w", 1L << 36);      // a 64 GiB thin volume: its map region spans segments
            for (int i = 0; i < c.length; i++) c[i] = content(r, i);
            for (int i = 0; i < c.length; i += 64) {
                ByteBuffer b = ByteBuffer.allocate(64 * BS);
                for (int j = i; j < i + 64 && j < c.length; j++) b.put(c[j]);
                b.flip();
                Await.value(v.write((long) i * BS, b, false), "write " + i);
            }
            Await.value(w.write((1L << 36) - BS, ByteBuffer.wrap(c[3]), false), "last block of w");
            Await.value(v.flush(), "flush");
            assertArrayEquals(c[3], Volumes.read(w, (1L << 36) - BS, BS));
        }
        return c;
    }

    void verify(Pool p, byte[][] c) throws Exception {
        Volume v = p.volume("v");
        byte[] all = Volumes.read(v, 0, c.length * BS);
        for (int i = 0; i < c.length; i++) {
            assertArrayEquals(c[i], java.util.Arrays.copyOfRange(all, i * BS, (i + 1) * BS), "lbn " + i);
        }
        assertArrayEquals(c[3], Volumes.read(p.volume("w"), (1L << 36) - BS, BS));
    }

    @Test
    void aPoolSpanningSegmentFilesReadsBackAfterCloseAndCrash() throws Exception {
        byte[][] c = populate();
        long segments;
        try (var files = Files.list(dir)) {
            segments = files.filter(f -> f.getFileName().toString().startsWith(Pool.DATA_FILE)).count();
        }
        assertTrue(segments > 4, "the pool spans " + segments + " files");
        for (int i = 1; i < segments - 1; i++) {
            assertEquals(1024L * BS, Files.size(SegmentedBlockStore.segmentPath(dir, i)), "segment " + i + " is full size");
        }
        try (Pool p = Pool.open(dir, cfg())) {
            verify(p, c);
            // more writes, then a crash: recovery replays across segments
            Await.value(p.volume("v").write(0, ByteBuffer.wrap(c[1]), false), "overwrite");
            Await.value(p.volume("v").flush(), "flush");
            c[0] = c[1];
            p.crash();
        }
        try (Pool p = Pool.open(dir, cfg())) {
            verify(p, c);
            assertTrue(p.verifyReferenceCounts().isEmpty());
        }
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(dir, false, null).exitCode());
    }

    @Test
    void aMissingOrShortSegmentIsTruncationNotZeros() throws Exception {
        populate();
        Path seg2 = SegmentedBlockStore.segmentPath(dir, 2);
        Path aside = dir.resolve("aside");
        Files.move(seg2, aside);
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, cfg()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertNotEquals(PoolCheck.CLEAN, r.exitCode(), r.toString());
        Files.move(aside, seg2);
        try (RandomAccessFile f = new RandomAccessFile(seg2.toFile(), "rw")) { f.setLength(512L * BS); }
        e = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, cfg()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void aStaleSegmentOfAnEarlierPoolIsRefusedAtCreate() throws Exception {
        populate();
        Files.delete(dir.resolve(Pool.DATA_FILE));
        VdoException e = assertThrows(VdoException.class, () -> Pool.create(dir, cfg()));
        assertTrue(e.getMessage().contains("segment file of an earlier pool"), e.getMessage());
    }

    @Test
    void readsAndWritesCrossingASegmentBoundarySplitExactly() throws Exception {
        try (SegmentedBlockStore s = SegmentedBlockStore.create(dir, 4)) {   // 16-block segments
            s.extendTo(40);
            assertEquals(40, s.sizeInBlocks());
            byte[] data = new byte[8 * BS];
            new Random(1).nextBytes(data);
            s.write(12, ByteBuffer.wrap(data));           // blocks 12..19: segments 0 and 1
            s.sync();
            ByteBuffer back = ByteBuffer.allocate(8 * BS);
            s.read(12, back);
            assertArrayEquals(data, back.array());
            assertEquals(16L * BS, Files.size(SegmentedBlockStore.segmentPath(dir, 0)));
            byte[] first = new byte[BS];
            try (RandomAccessFile f = new RandomAccessFile(SegmentedBlockStore.segmentPath(dir, 1).toFile(), "r")) { f.readFully(first); }
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 4 * BS, 5 * BS), first, "block 16 is block 0 of segment 1");
            assertThrows(java.io.IOException.class, () -> s.read(48, ByteBuffer.allocate(BS)), "beyond the last segment");
        }
    }

    @Test
    void theProbeFindsASegmentSizeTheFilesystemAccepts() throws Exception {
        int shift = SegmentedBlockStore.probeSegmentShift(dir);
        assertTrue(shift >= SegmentedBlockStore.MIN_SEGMENT_SHIFT && shift <= SegmentedBlockStore.MAX_SEGMENT_SHIFT, "shift " + shift);
        try (var files = Files.list(dir)) { assertEquals(0, files.count(), "the probe file is removed"); }
    }
}
