package org.jvdo.core.index;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Saving and loading the index: round trips, the version-1 conversion, the other mode, damage. */
class IndexFileTest {
    static final long MAX_PBN = DenseIndexTest.PBN_16GIB;
    @TempDir Path dir;

    static long mapping(long i) { return DenseIndexTest.mappingOf(i, MAX_PBN); }

    static long fp(long i) { return DenseIndexTest.fp(7, i); }

    /** fpLow making the block a sparse hook (or not). */
    static long low(long i, boolean hook) { return hook ? i << SparseIndex.SAMPLE_BITS : (i << SparseIndex.SAMPLE_BITS) | 1; }

    /**
     * What a dense index holding fp(0..n-1) answers for fp(i): the mapping of the last j < n whose
     * fingerprint has the same key bits (distinct fingerprints equal in all key bits share an
     * entry: that is the false-match rate, verified by the engine).
     */
    static long[] expected(DenseIndex idx, int n) {
        int shift = 64 - idx.keyBits();
        java.util.HashMap<Long, Long> last = new java.util.HashMap<>();
        for (int j = 0; j < n; j++) last.put(fp(j) >>> shift, mapping(j));
        long[] e = new long[n];
        for (int i = 0; i < n; i++) e[i] = last.get(fp(i) >>> shift);
        return e;
    }

    @Test
    void denseRoundTripKeepsEveryEntryAndKeepsWorking() throws Exception {
        DenseIndex idx = new DenseIndex(1000, 1 << 20, MAX_PBN);
        for (int i = 0; i < 70_000; i++) idx.update(fp(i), 0, mapping(i));
        Path f = dir.resolve("index.jvdo");
        idx.save(f);
        StringBuilder report = new StringBuilder();
        DedupIndex back = IndexFactory.loadOrEmpty(f, "dense", 1024, 1 << 20, MAX_PBN, null, report);
        assertEquals(idx.entries(), back.entries());
        assertTrue(report.toString().contains("loaded " + idx.entries() + " entries (dense)"), report.toString());
        double perEntry = (double) back.memoryBytes() / back.entries();
        assertTrue(perEntry <= 8.0, "right after loading: " + perEntry + " bytes per entry");
        long[] e1 = expected(idx, 70_000);
        for (int i = 0; i < 70_000; i++) assertEquals(e1[i], back.lookup(fp(i), 0), "entry " + i);
        for (int i = 70_000; i < 100_000; i++) back.update(fp(i), 0, mapping(i));
        long[] e2 = expected(idx, 100_000);
        for (int i = 0; i < 100_000; i++) assertEquals(e2[i], back.lookup(fp(i), 0), "entry " + i);
        assertThrows(NoSuchFileException.class, () -> IndexFactory.load(dir.resolve("missing"), "dense", 64, 1 << 20, MAX_PBN, null, new StringBuilder()));
    }

    @Test
    void sparseRoundTripKeepsHooksAndWhereTheyWereWritten() throws Exception {
        long[][] maps = {{0}};
        SparseIndex idx = new SparseIndex(1024, 1 << 24, (vol, lbn) -> vol == 3 ? mapping(lbn + 1_000_000) : -1);
        for (int i = 0; i < 20_000; i++) idx.update(fp(i), low(i, true), mapping(i), 3, i);
        Path f = dir.resolve("index.jvdo");
        idx.save(f);
        SparseIndex back = (SparseIndex) IndexFactory.load(f, "sparse", 1024, 1 << 24, MAX_PBN, (vol, lbn) -> vol == 3 ? mapping(lbn + 1_000_000) : -1, new StringBuilder());
        assertEquals(20_000, back.entries());
        for (int i = 0; i < 20_000; i += 7) assertEquals(mapping(i), back.lookup(fp(i), low(i, true)), "hook " + i);
        // the hook still knows where it was written: a hook hit at LBN 500 of volume 4 follows volume 3 from LBN 100
        assertEquals(mapping(100), back.lookup(fp(100), low(100, true), 4, 500));
        assertEquals(mapping(1_000_000 + 101), back.lookup(fp(1 << 30), low(1 << 30, false), 4, 501));
        assertEquals(maps[0][0], 0);
    }

    @Test
    void aVersion1FileIsConvertedIntoADenseIndex() throws Exception {
        MemoryIndex old = new MemoryIndex(1024, 1 << 20);
        for (int i = 0; i < 30_000; i++) old.update(fp(i), 0, mapping(i));
        Path f = dir.resolve("index.jvdo");
        old.save(f);
        assertEquals(1, java.nio.ByteBuffer.wrap(Files.readAllBytes(f)).getInt(8), "MemoryIndex writes version 1");
        StringBuilder report = new StringBuilder();
        DedupIndex idx = IndexFactory.loadOrEmpty(f, "dense", 1024, 1 << 20, MAX_PBN, null, report);
        assertInstanceOf(DenseIndex.class, idx);
        long[] e = expected((DenseIndex) idx, 30_000);
        int shift = 64 - ((DenseIndex) idx).keyBits();
        assertEquals(java.util.stream.LongStream.range(0, 30_000).map(i -> fp(i) >>> shift).distinct().count(), idx.entries(),
                "one entry per distinct key");
        assertTrue(report.toString().contains("converted a version-1 file"), report.toString());
        for (int i = 0; i < 30_000; i++) assertEquals(e[i], idx.lookup(fp(i), 0), "entry " + i);
        // and saved again it is version 2
        idx.save(f);
        assertEquals(2, java.nio.ByteBuffer.wrap(Files.readAllBytes(f)).getInt(8));
        assertEquals(idx.entries(), IndexFactory.load(f, "dense", 1024, 1 << 20, MAX_PBN, null, new StringBuilder()).entries());
    }

    @Test
    void aFileOfTheOtherModeIsDiscardedWithANote() throws Exception {
        DenseIndex dense = new DenseIndex(1024, 1 << 20, MAX_PBN);
        for (int i = 0; i < 1000; i++) dense.update(fp(i), 0, mapping(i));
        Path f = dir.resolve("index.jvdo");
        dense.save(f);
        StringBuilder report = new StringBuilder();
        DedupIndex sparse = IndexFactory.loadOrEmpty(f, "sparse", 1024, 1 << 20, MAX_PBN, null, report);
        assertInstanceOf(SparseIndex.class, sparse);
        assertEquals(0, sparse.entries());
        assertTrue(report.toString().contains("saved by a dense index") && report.toString().contains("started empty"), report.toString());

        SparseIndex s = new SparseIndex(1024, 1 << 20, null);
        for (int i = 0; i < 1000; i++) s.update(fp(i), low(i, true), mapping(i), 1, i);
        s.save(f);
        report.setLength(0);
        DedupIndex d = IndexFactory.loadOrEmpty(f, "dense", 1024, 1 << 20, MAX_PBN, null, report);
        assertInstanceOf(DenseIndex.class, d);
        assertEquals(0, d.entries());
        assertTrue(report.toString().contains("saved by a sparse index"), report.toString());
        // a version-1 file is dense: a sparse pool discards it too
        MemoryIndex old = new MemoryIndex(64, 1024);
        old.update(fp(1), 0, mapping(1));
        old.save(f);
        report.setLength(0);
        assertEquals(0, IndexFactory.loadOrEmpty(f, "sparse", 1024, 1 << 20, MAX_PBN, null, report).entries());
        assertTrue(report.toString().contains("version 1"), report.toString());
    }

    @Test
    void aFileKeyedOnFewerBitsThanNeededIsDiscardedWithANote() throws Exception {
        DenseIndex small = new DenseIndex(64, 1024, MAX_PBN);
        small.update(fp(1), 0, mapping(1));
        Path f = dir.resolve("index.jvdo");
        small.save(f);
        StringBuilder report = new StringBuilder();
        DedupIndex big = IndexFactory.loadOrEmpty(f, "dense", 1024, 1 << 24, MAX_PBN, null, report);
        assertEquals(0, big.entries());
        assertTrue(report.toString().contains("fingerprint bits"), report.toString());
    }

    @Test
    void truncatedOrCorruptFilesGiveAnEmptyIndexWithANote() throws Exception {
        for (String mode : new String[] {"dense", "sparse"}) {
            DedupIndex idx = IndexFactory.create(mode, 1024, 1 << 20, MAX_PBN, null);
            for (int i = 0; i < 3000; i++) idx.update(fp(i), low(i, true), mapping(i), 1, i);
            Path f = dir.resolve(mode + ".jvdo");
            idx.save(f);
            byte[] good = Files.readAllBytes(f);
            Random r = new Random(6);
            for (int trial = 0; trial < 40; trial++) {
                Path t = dir.resolve(mode + trial);
                byte[] bad;
                if (trial % 2 == 0) {
                    bad = java.util.Arrays.copyOf(good, r.nextInt(good.length));
                } else {
                    bad = good.clone();
                    bad[r.nextInt(bad.length)] ^= (byte) (1 + r.nextInt(255));
                }
                Files.write(t, bad);
                String what = mode + " trial " + trial + (trial % 2 == 0 ? " truncated to " + bad.length : " one byte changed");
                assertThrows(Exception.class, () -> IndexFactory.load(t, mode, 1024, 1 << 20, MAX_PBN, null, new StringBuilder()), what);
                StringBuilder report = new StringBuilder();
                DedupIndex e = IndexFactory.loadOrEmpty(t, mode, 1024, 1 << 20, MAX_PBN, null, report);
                assertEquals(0, e.entries(), what);
                assertTrue(report.toString().contains(t.toString()) && report.toString().contains("started empty"), what + ": " + report);
            }
            CorruptPoolException c = assertThrows(CorruptPoolException.class, () -> {
                Path t = dir.resolve("trailing");
                Files.write(t, java.util.Arrays.copyOf(good, good.length + 1));
                IndexFactory.load(t, mode, 1024, 1 << 20, MAX_PBN, null, new StringBuilder());
            });
            assertTrue(c.getMessage().contains("after the index's end"), c.getMessage());
        }
    }

    @Test
    void anUnknownModeIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IndexFactory.checkMode("fast"));
        assertEquals("index mode 'fast' is not one of: dense, sparse", e.getMessage());
        assertEquals("sparse", IndexFactory.checkMode(" Sparse "));
    }
}
