package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.FileBlockStore;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Blocks;

import static org.junit.jupiter.api.Assertions.*;

class PoolCheckTest {
    @TempDir Path dir;

    private static byte[] random(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    private SuperBlock superBlock() throws Exception {
        try (FileBlockStore s = new FileBlockStore(dir.resolve(Pool.DATA_FILE), false)) {
            return SuperBlock.read(s);
        }
    }

    private void writeSome() throws Exception {
        try (Pool p = Pool.create(dir, PoolConfig.small(16L << 20))) {
            Volume v = p.createVolume("v", 8L << 20);
            Random r = new Random(3);
            for (int i = 0; i < 40; i++) {
                byte[] b = i % 3 == 0 ? Blocks.text(r) : random(i % 10);
                v.write(i * 4096L, ByteBuffer.wrap(b), false).get(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void cleanPoolChecksClean() throws Exception {
        writeSome();
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.CLEAN, r.exitCode(), r.problems().toString());
    }

    @Test
    void damagedReferenceCountsAreFoundAndRepairedWithoutLosingData() throws Exception {
        writeSome();
        SuperBlock sb = superBlock();
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(Pool.DATA_FILE).toFile(), "rw")) {
            f.seek(sb.slabStart(0) * 4096 + 1);
            f.write(77);
        }
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode());
        assertTrue(r.problems().toString().contains("reference counts"), r.problems().toString());
        PoolCheck.Result fixed = PoolCheck.run(dir, true, null);
        assertEquals(PoolCheck.REPAIRED, fixed.exitCode(), fixed.problems() + " " + fixed.notes());
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(dir, false, null).exitCode());
        try (Pool p = Pool.open(dir, PoolConfig.small(16L << 20))) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            p.volume("v").read(4096, b).get();
            assertArrayEquals(random(1), b.array(), "repair keeps every mapping");
            assertTrue(p.verifyReferenceCounts().isEmpty());
        }
    }

    @Test
    void readOnlyPoolNeedsRepair() throws Exception {
        writeSome();
        try (FileBlockStore s = new FileBlockStore(dir.resolve(Pool.DATA_FILE), false)) {
            SuperBlock sb = SuperBlock.read(s);
            sb.readOnly = true;
            sb.readOnlyReason = "test: simulated write failure";
            sb.write(s);
        }
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode());
        assertTrue(r.problems().toString().contains("simulated write failure"));
        try (Pool p = Pool.open(dir, PoolConfig.small(16L << 20))) {
            assertTrue(p.isReadOnly());
        }
        assertEquals(PoolCheck.REPAIRED, PoolCheck.run(dir, true, null).exitCode());
        try (Pool p = Pool.open(dir, PoolConfig.small(16L << 20))) {
            assertFalse(p.isReadOnly(), "repair leaves read-only mode");
            p.volume("v").write(0, ByteBuffer.wrap(random(99)), true).get();
        }
    }

    @Test
    void corruptPackedBlockIsReportedWithVolumeAndBlock() throws Exception {
        long lbn = -1, pbn = -1;
        PoolConfig cfg = PoolConfig.small(16L << 20);
        cfg.packerTimeoutMillis = 60_000;   // bins are written by the flush below, full of fragments, whatever the machine's speed
        try (Pool p = Pool.create(dir, cfg)) {
            Volume v = p.createVolume("v", 8L << 20);
            Random r = new Random(5);
            for (int i = 0; i < 20; i++) v.write(i * 4096L, ByteBuffer.wrap(Blocks.text(r)), false).get();
            p.quiesce();
            for (int i = 0; i < 20 && lbn < 0; i++) {
                long m = v.blockMap().get(i);
                if (Mapping.isPacked(m)) { lbn = i; pbn = Mapping.pbn(m); }
            }
        }
        assertTrue(lbn >= 0, "text blocks are packed");
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(Pool.DATA_FILE).toFile(), "rw")) {
            f.seek(pbn * 4096 + 10);
            f.write(0xEE);
        }
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode());
        String all = r.problems().toString();
        assertTrue(all.contains("volume v block " + lbn) && all.contains("packed block " + pbn), all);
    }

    @Test
    void missingPoolIsAUsageError() {
        assertEquals(PoolCheck.USAGE_OR_IO, PoolCheck.run(dir.resolve("nothing"), false, null).exitCode());
    }
}
