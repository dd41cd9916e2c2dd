package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.*;

/**
 * End-to-end checksums: a data block whose bytes changed on disk after it was written (a flipped
 * bit, a misdirected or lost write leaving another valid block's bytes there) is never served.
 * The read fails with EIO naming volume, LBN and block, {@code checksum_errors} counts it, the
 * other blocks read fine, and {@code jvdo check} reports it without changing the file.
 */
class ChecksumTest {
    @TempDir Path dir;

    static final int RAW = 0, PACKED = 1, PACKED2 = 2, DUP = 3, DUP2 = 4;

    /** An LBN whose block is a packed one (found after the writes). */
    int packed;

    /** LBN 0: random (raw); 1, 2: text (mostly packed); 3, 4: the same random block (deduplicated); 5..29 more text. */
    byte[][] populate() throws Exception {
        Random r = new Random(77);
        byte[][] c = new byte[30][];
        c[RAW] = Blocks.random(r);
        c[PACKED] = Blocks.text(r);
        c[PACKED2] = Blocks.text(r);
        c[DUP] = Blocks.random(r);
        c[DUP2] = c[DUP];
        for (int i = 5; i < c.length; i++) c[i] = Blocks.text(r);
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.packerTimeoutMillis = 2000;     // the text blocks pack together even on a loaded machine
        try (Pool p = Pool.create(dir, cfg)) {
            Volume v = p.createVolume("v", 64L * BS);
            ByteBuffer all = ByteBuffer.allocate(c.length * BS);
            for (byte[] b : c) all.put(b);
            Await.value(v.write(0, all.flip(), false), "write");
            Await.value(v.flush(), "flush");
            p.quiesce();
            assertTrue(Mapping.state(v.blockMap().get(RAW)) == Mapping.RAW, Mapping.describe(v.blockMap().get(RAW)));
            // which text blocks shared a packed block depends on the order compression finished in
            packed = -1;
            for (int lbn = 1; lbn < c.length && packed < 0; lbn++) if (lbn != DUP && lbn != DUP2 && Mapping.isPacked(v.blockMap().get(lbn))) packed = lbn;
            assertTrue(packed >= 0, "some text blocks were packed");
            assertEquals(v.blockMap().get(DUP), v.blockMap().get(DUP2), "the duplicate shares its block");
        }
        return c;
    }

    long mapping(int lbn) throws Exception {
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            return p.volume("v").blockMap().get(lbn);
        }
    }

    void patch(long pbn, int offset, byte[] bytes) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(Pool.DATA_FILE).toFile(), "rw")) {
            f.seek(pbn * BS + offset);
            f.write(bytes);
        }
    }

    byte[] block(long pbn) throws Exception {
        byte[] b = new byte[BS];
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(Pool.DATA_FILE).toFile(), "r")) {
            f.seek(pbn * BS);
            f.readFully(b);
        }
        return b;
    }

    /** Reads every LBN: the ones in {@code bad} must fail with EIO naming it, the others read exact. */
    void assertServed(byte[][] c, long expectedErrors, int... bad) throws Exception {
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            Volume v = p.volume("v");
            for (int lbn = 0; lbn < c.length; lbn++) {
                ByteBuffer b = ByteBuffer.allocate(BS);
                int l = lbn;
                if (Arrays.stream(bad).anyMatch(x -> x == l)) {
                    ExecutionException e = assertThrows(ExecutionException.class, () -> v.read((long) l * BS, b).get(),
                            "lbn " + l + " was served although its block changed on disk");
                    VdoException ve = assertInstanceOf(VdoException.class, e.getCause());
                    assertEquals(Errno.EIO, ve.errno(), ve.getMessage());
                    String m = ve.getMessage();
                    assertTrue(m.contains("volume v") && m.contains("lbn " + l) && m.contains("block " + Mapping.pbn(v.blockMap().get(l)))
                            && m.contains("checksum"), m);
                } else {
                    assertArrayEquals(c[lbn], Volumes.read(v, (long) lbn * BS, BS), "lbn " + lbn);
                }
            }
            assertFalse(p.isReadOnly(), "a bad data block fails its reads, not the pool");
            assertEquals(expectedErrors, p.stats().get("checksum_errors"));
        }
    }

    /** check names every bad LBN and leaves the file as it was. */
    void assertCheckFinds(int... bad) throws Exception {
        byte[] before = Files.readAllBytes(dir.resolve(Pool.DATA_FILE));
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode(), r.toString());
        for (int lbn : bad) {
            assertTrue(r.problems().stream().anyMatch(pr -> pr.block() == lbn && pr.what().contains("checksum")), "lbn " + lbn + ": " + r);
        }
        assertEquals(bad.length, r.problems().size(), r.toString());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve(Pool.DATA_FILE)), "check without --repair changed the pool file");
    }

    @Test
    void aFlippedBitInARawBlockIsAnErrorNotData() throws Exception {
        byte[][] c = populate();
        long pbn = Mapping.pbn(mapping(RAW));
        byte[] b = block(pbn);
        patch(pbn, 1234, new byte[] {(byte) (b[1234] ^ 0x10)});
        assertServed(c, 1, RAW);
        assertCheckFinds(RAW);
    }

    @Test
    void anotherValidPackedBlockWhereAPackedBlockWasIsAnErrorNotData() throws Exception {
        // a misdirected write: the bytes of a different, valid packed block land where this one was;
        // every header and fragment decodes, only the checksum knows the content is not LBN 1's
        byte[][] c = populate();
        long a = Mapping.pbn(mapping(packed));
        long other = -1;
        for (int lbn = 5; lbn < c.length; lbn++) {
            long m = mapping(lbn);
            if (Mapping.isPacked(m) && Mapping.pbn(m) != a) { other = Mapping.pbn(m); break; }
        }
        assertTrue(other >= 0, "the text blocks fill more than one packed block");
        patch(a, 0, block(other));
        // every LBN whose fragment sat in block a now reads some other fragment's bytes or fails
        int[] inA = lbnsIn(c.length, a);
        assertServed(c, inA.length, inA);
        assertCheckFinds(inA);
    }

    int[] lbnsIn(int n, long pbn) throws Exception {
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            Volume v = p.volume("v");
            java.util.List<Integer> l = new java.util.ArrayList<>();
            for (int lbn = 0; lbn < n; lbn++) if (Mapping.hasBlock(v.blockMap().get(lbn)) && Mapping.pbn(v.blockMap().get(lbn)) == pbn) l.add(lbn);
            return l.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void aDeduplicatedBlockThatChangedFailsForEveryLbnThatSharesIt() throws Exception {
        byte[][] c = populate();
        long pbn = Mapping.pbn(mapping(DUP));
        patch(pbn, 0, new byte[] {1, 2, 3, 4});
        assertServed(c, 2, DUP, DUP2);
        assertCheckFinds(DUP, DUP2);
    }

    @Test
    void aPartialWriteOverABadBlockFailsAndStoresNothing() throws Exception {
        byte[][] c = populate();
        long pbn = Mapping.pbn(mapping(RAW));
        patch(pbn, 100, new byte[] {9, 9, 9});
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            Volume v = p.volume("v");
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> v.write(RAW * BS + 512, ByteBuffer.wrap(new byte[512]), false).get(),
                    "a read-modify-write merged new bytes into a block that fails its checksum");
            assertInstanceOf(VdoException.class, e.getCause());
            Await.value(v.flush(), "flush");
            assertEquals(Mapping.raw(pbn), v.blockMap().get(RAW), "the failed partial write mapped nothing new");
            assertEquals(1, p.stats().get("checksum_errors"));
        }
        assertServed(c, 1, RAW);
    }

    @Test
    void checksumsSurviveJournalReplay() throws Exception {
        // written and flushed, then a crash before any checkpoint: the block map comes back from
        // the journal, so the journal entry must carry the checksum (or every read would fail)
        Random r = new Random(5);
        byte[][] c = {Blocks.random(r), Blocks.text(r), Blocks.text(r)};
        Pool p = Pool.create(dir, PoolConfig.small(64L << 20));
        Volume v = p.createVolume("v", 64L * BS);
        for (int i = 0; i < c.length; i++) Await.value(v.write((long) i * BS, ByteBuffer.wrap(c[i]), false), "write " + i);
        Await.value(v.flush(), "flush");
        p.crash();
        try (Pool q = Pool.open(dir, PoolConfig.small(64L << 20))) {
            Volume w = q.volume("v");
            for (int i = 0; i < c.length; i++) assertArrayEquals(c[i], Volumes.read(w, (long) i * BS, BS), "lbn " + i);
            assertEquals(0, q.stats().get("checksum_errors"));
            assertNotEquals(0, w.blockMap().checksum(0), "the replayed entry kept its checksum");
        }
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(dir, false, null).exitCode());
    }
}
