package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.UnsupportedFormatException;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.FileBlockStore;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.*;

/** Opening pools whose files were damaged. */
class PoolCorruptionTest {
    @TempDir Path dir;

    byte[] populate(Path d) throws Exception {
        Random r = new Random(21);
        byte[] data = new byte[64 * BS];
        for (int b = 0; b < 64; b++) System.arraycopy(b % 2 == 0 ? Blocks.text(r) : Blocks.random(r), 0, data, b * BS, BS);
        try (Pool p = Pool.create(d, PoolConfig.small(64L << 20))) {
            Volume v = p.createVolume("v", 256L * BS);
            Await.value(v.write(0, ByteBuffer.wrap(data), false), "write");
            Await.value(v.write(64L * BS, ByteBuffer.wrap(data, 0, 8 * BS), false), "dup write");
        }
        return data;
    }

    @Test
    void garbageSuperBlockFailsNamingTheFile() throws Exception {
        populate(dir);
        Path file = dir.resolve(Pool.DATA_FILE);
        byte[] g = new byte[(int) SuperBlock.JOURNAL_START * BS];
        new Random(1).nextBytes(g);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) { f.write(g); }
        VdoException e = assertThrows(VdoException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        // the failed open released the lock: a later open gets the same answer, not EBUSY
        VdoException again = assertThrows(VdoException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
        assertNotEquals(Errno.EBUSY, again.errno(), again.getMessage());
    }

    @Test
    void truncatedPoolFileFailsNamingTheFile() throws Exception {
        populate(dir);
        Path file = dir.resolve(Pool.DATA_FILE);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) { f.setLength(3 * BS); }
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void corruptIndexFileIsIgnoredAndDataIsIntact() throws Exception {
        byte[] data = populate(dir);
        Path idx = dir.resolve(Pool.INDEX_FILE);
        assertTrue(Files.exists(idx), "a clean close saves the index");
        byte[] b = Files.readAllBytes(idx);
        for (int i = 30; i < b.length; i += 7) b[i] ^= 0x5A;
        Files.write(idx, b);
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            assertEquals(0, p.stats().get("index_entries"), p.openReport());
            Volume v = p.volume("v");
            byte[] got = Volumes.read(v, 0, 72 * BS);
            assertArrayEquals(data, Arrays.copyOf(got, 64 * BS));
            assertArrayEquals(Arrays.copyOf(data, 8 * BS), Arrays.copyOfRange(got, 64 * BS, 72 * BS));
            assertTrue(p.verifyReferenceCounts().isEmpty());
            // and it still works: new writes go through and are indexed
            Await.value(v.write(100L * BS, ByteBuffer.wrap(data, 0, 4 * BS), false), "write");
            p.quiesce();
            assertTrue(p.stats().get("index_entries") > 0);
        }
        Files.write(idx, Arrays.copyOf(b, 10)); // truncated
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            assertArrayEquals(data, Volumes.read(p.volume("v"), 0, 64 * BS));
        }
    }

    @Test
    void newerFormatVersionIsRefused() throws Exception {
        populate(dir);
        Path file = dir.resolve(Pool.DATA_FILE);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            for (int copy = 0; copy < 2; copy++) {
                f.seek((long) copy * SuperBlock.COPY_BYTES + 8);
                f.write(new byte[]{(byte) (SuperBlock.MAJOR + 1), 0});
            }
        }
        UnsupportedFormatException e = assertThrows(UnsupportedFormatException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
        assertTrue(e.getMessage().contains((SuperBlock.MAJOR + 1) + "." + SuperBlock.MINOR) && e.getMessage().contains(file.toString()), e.getMessage());
    }

    /** A format-1 pool (listed slab table) is refused with its version and what to do, and the file is left untouched. */
    @Test
    void formatVersion1PoolIsRefusedWithAdvice() throws Exception {
        olderFormatIsRefusedUntouched(1);
    }

    /** Format 2 (block-map regions without the tree of written pages) is refused the same way. */
    @Test
    void formatVersion2PoolIsRefusedWithAdvice() throws Exception {
        olderFormatIsRefusedUntouched(2);
    }

    private void olderFormatIsRefusedUntouched(int major) throws Exception {
        populate(dir);
        Path file = dir.resolve(Pool.DATA_FILE);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            for (int copy = 0; copy < 2; copy++) {
                f.seek((long) copy * SuperBlock.COPY_BYTES + 8);
                f.write(new byte[]{(byte) major, 0, 0, 0});
            }
        }
        byte[] before = Files.readAllBytes(file);
        UnsupportedFormatException e = assertThrows(UnsupportedFormatException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
        System.out.println("v" + major + " open: " + e.getMessage());
        assertTrue(e.getMessage().contains("format version " + major + ".0") && e.getMessage().contains("reads formats " + SuperBlock.MAJOR + ".x and " + SuperBlock.FOREIGN_MAJOR + ".0")
                && e.getMessage().contains("copy each volume") && e.getMessage().contains(file.toString()), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file), "a refused open writes nothing");
        PoolCheck.Result r = PoolCheck.run(dir, true, null);
        assertTrue(r.exitCode() != PoolCheck.CLEAN && r.exitCode() != PoolCheck.REPAIRED && r.problems().toString().contains(major + ".0"), r.toString());
        assertArrayEquals(before, Files.readAllBytes(file), "check --repair does not touch a format-" + major + " pool");
    }

    /** The pool file is kept as long as its layout; a shorter file is truncation, refused at open naming both sizes. */
    @Test
    void fileShorterThanItsLayoutIsRefused() throws Exception {
        populate(dir);
        Path file = dir.resolve(Pool.DATA_FILE);
        long layoutEnd = superBlockOf(file).nextRegionBlock;
        assertTrue(Files.size(file) >= layoutEnd * BS, "the file is extended to the layout end");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) { f.setLength((layoutEnd - 1) * BS); }
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
        System.out.println("short file open: " + e.getMessage());
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("layout ends at block " + layoutEnd), e.getMessage());
    }

    /** A read past the end of the file is an error, not zeros. */
    @Test
    void fileStoreReadPastEndFails() throws Exception {
        Path f = dir.resolve("plain");
        try (FileBlockStore s = new FileBlockStore(f, true)) {
            s.write(0, ByteBuffer.allocate(BS));
            s.extendTo(4);
            assertEquals(4, s.sizeInBlocks());
            ByteBuffer b = ByteBuffer.allocate(BS);
            s.read(3, b); // inside the extended (sparse) length: zeros
            assertThrows(java.io.EOFException.class, () -> s.read(4, ByteBuffer.allocate(BS)));
        }
    }

    static SuperBlock superBlockOf(Path file) throws Exception {
        try (FileBlockStore s = new FileBlockStore(file, false)) { return SuperBlock.read(s); }
    }

    @Test
    void secondOpenIsBusy() throws Exception {
        populate(dir);
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            VdoException e = assertThrows(VdoException.class, () -> Pool.open(dir, PoolConfig.small(64L << 20)));
            assertEquals(Errno.EBUSY, e.errno());
        }
    }
}
