package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The index modes through the engine: a VM-like image (text, random and nearly empty blocks)
 * written to one volume, then a copy with 2% of its blocks changed in place and three changed
 * runs written to a second. Both modes must find at least 95% of the copy's duplicates and
 * every block must read back as written (advice, dense or sparse, is only ever a hint).
 */
class IndexModeEngineTest {
    static final int BLOCKS = 8192;
    static final int CHUNK = 64;
    @TempDir Path dir;

    static byte[][] image(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[][] img = new byte[BLOCKS][];
        for (int i = 0; i < BLOCKS; i++) {
            int k = r.nextInt(10);
            img[i] = k < 4 ? Blocks.text(r) : k < 9 ? Blocks.random(r) : Blocks.sparse(r);
        }
        return img;
    }

    /** The image with about 2% of its blocks changed in place and three runs of 64 changed. */
    static byte[][] copyWithChanges(byte[][] img, long seed, boolean[] changed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[][] c = img.clone();
        for (int i = 0; i < BLOCKS; i++) if (r.nextInt(100) < 2) { c[i] = Blocks.random(r); changed[i] = true; }
        for (int run = 0; run < 3; run++) {
            int s = r.nextInt(BLOCKS - 64);
            for (int i = s; i < s + 64; i++) { c[i] = Blocks.random(r); changed[i] = true; }
        }
        return c;
    }

    static void write(Volume v, byte[][] blocks) throws Exception {
        for (int base = 0; base < BLOCKS; base += CHUNK) {
            ByteBuffer b = ByteBuffer.allocate(CHUNK * Blocks.BS);
            for (int i = 0; i < CHUNK; i++) b.put(blocks[base + i]);
            b.flip();
            Await.value(v.write((long) base * Blocks.BS, b, false), "write at block " + base);
        }
        Await.value(v.flush(), "flush");
    }

    static void assertReadsBack(Volume v, byte[][] blocks, String what) throws Exception {
        byte[] got = Volumes.read(v, 0, BLOCKS * Blocks.BS);
        int wrong = 0, first = -1;
        for (int i = 0; i < BLOCKS; i++) {
            if (!Arrays.equals(got, i * Blocks.BS, (i + 1) * Blocks.BS, blocks[i], 0, Blocks.BS)) { wrong++; if (first < 0) first = i; }
        }
        assertEquals(0, wrong, what + ": " + wrong + " blocks read back wrong, the first at block " + first);
    }

    static long found(Map<String, Long> s) { return s.get("dedupe_advice_valid") + s.get("concurrent_data_matches"); }

    @ParameterizedTest
    @ValueSource(strings = {"sparse", "dense"})
    @Timeout(180)
    void aCopyWithChangesIsDeduplicatedAndEveryBlockReadsBack(String mode) throws Exception {
        PoolConfig cfg = PoolConfig.small(256L << 20);
        cfg.indexMode = mode;
        byte[][] img = image(1);
        boolean[] changed = new boolean[BLOCKS];
        byte[][] copy = copyWithChanges(img, 2, changed);
        long present = 0;
        for (boolean ch : changed) if (!ch) present++;
        try (Pool p = Pool.create(dir, cfg)) {
            Volume a = p.createVolume("a", (long) BLOCKS * Blocks.BS);
            Volume b = p.createVolume("b", (long) BLOCKS * Blocks.BS);
            write(a, img);
            long before = found(p.stats());
            write(b, copy);
            long got = found(p.stats()) - before;
            assertTrue(got >= 0.95 * present, mode + ": found " + got + " of " + present + " duplicates");
            assertReadsBack(a, img, mode + " volume a");
            assertReadsBack(b, copy, mode + " volume b");
            assertEquals(mode, p.index.mode());
        }
        // saved and loaded in the same mode: a third copy (of the changed copy) is found as well
        try (Pool p = Pool.open(dir, cfg)) {
            assertTrue(p.openReport().contains("index: loaded"), p.openReport());
            Volume c = p.createVolume("c", (long) BLOCKS * Blocks.BS);
            long before = found(p.stats());
            write(c, copy);
            long got = found(p.stats()) - before;
            assertTrue(got >= 0.95 * BLOCKS, mode + " after reopening: found " + got + " of " + BLOCKS + " duplicates");
            assertReadsBack(p.volume("a"), img, mode + " volume a after reopening");
            assertReadsBack(p.volume("b"), copy, mode + " volume b after reopening");
            assertReadsBack(c, copy, mode + " volume c");
        }
        // opened in the other mode: the file is discarded with a note, nothing is lost
        PoolConfig other = cfg.copy();
        other.indexMode = mode.equals("dense") ? "sparse" : "dense";
        try (Pool p = Pool.open(dir, other)) {
            assertTrue(p.openReport().contains("saved by a " + mode + " index") && p.openReport().contains("started empty"), p.openReport());
            assertEquals(0, p.stats().get("index_entries"));
            assertReadsBack(p.volume("b"), copy, mode + " volume b in the other mode");
        }
    }

    @Test
    void anUnknownIndexModeIsRefusedWithAClearError() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        try (Pool p = Pool.create(dir, cfg)) {
            p.createVolume("v", 1 << 20);
        }
        cfg.indexMode = "fast";
        VdoException e = assertThrows(VdoException.class, () -> Pool.open(dir, cfg));
        assertEquals("index mode 'fast' is not one of: dense, sparse", e.getMessage());
        cfg.indexMode = "dense";
        try (Pool p = Pool.open(dir, cfg)) {
            assertNotNull(p.volume("v"), "the refused open changed nothing");
        }
    }
}
