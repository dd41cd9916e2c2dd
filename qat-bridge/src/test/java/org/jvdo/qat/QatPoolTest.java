package org.jvdo.qat;

import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.Volume;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** End to end through Pool and Volume, with the qat provider found by ServiceLoader and QATzip being the test double. */
class QatPoolTest {
    @TempDir Path dir;
    FakeQat.Control c;

    @BeforeEach
    void reset() throws Exception {
        c = FakeQat.control();
        c.fakeqz_reset();
    }

    PoolConfig cfg(String algorithm) throws Exception {
        PoolConfig p = PoolConfig.small(256L << 20);
        p.engineOptions.put("qat.library", FakeQat.library().toString());
        p.engineOptions.put("qat.algorithm", algorithm);
        p.packerTimeoutMillis = 5000; // bins fill up instead of leaving on a timer: fragments get packed together
        return p;
    }

    /** 64 blocks: compressible text, some duplicates, random, zeros. */
    static byte[] data(long seed) {
        byte[] all = new byte[64 * 4096];
        Random r = new Random(seed);
        for (int b = 0; b < 64; b++) {
            byte[] blk = switch (b % 8) {
                case 5 -> { byte[] x = new byte[4096]; r.nextBytes(x); yield x; }
                case 6 -> new byte[4096];
                case 7 -> java.util.Arrays.copyOfRange(all, (b - 7) * 4096, (b - 6) * 4096);
                default -> QatEngineTest.text(seed * 1000 + b);
            };
            System.arraycopy(blk, 0, all, b * 4096, 4096);
        }
        return all;
    }

    static void write(Pool p, Volume v, byte[] d) throws Exception { writeAt(p, v, 0, d); }

    static void writeAt(Pool p, Volume v, long at, byte[] d) throws Exception {
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int off = 0; off < d.length; off += 16 * 4096) fs.add(v.write(at + off, ByteBuffer.wrap(d, off, 16 * 4096), false));
        // let every compressed block reach the packer before the flush (a waiting flush sends each
        // arriving fragment out at once, alone in its bin, hence raw)
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            Map<String, Long> s = p.stats();
            if (s.get("vio_pool_in_use") > 0 && s.get("vio_pool_in_use").equals(s.get("compressed_fragments_in_packer"))) break;
            if (fs.stream().allMatch(CompletableFuture::isDone)) break;
            Thread.sleep(5);
        }
        v.flush().get(); // writes the packer's bins (the long packer timeout keeps fragments waiting until then)
        for (CompletableFuture<Void> f : fs) f.get();
    }

    static void check(Volume v, byte[] d) throws Exception { checkAt(v, 0, d); }

    static void checkAt(Volume v, long at, byte[] d) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(d.length);
        v.read(at, b).get();
        for (int blk = 0; blk < d.length / 4096; blk++) {
            assertArrayEquals(java.util.Arrays.copyOfRange(d, blk * 4096, blk * 4096 + 4096),
                    java.util.Arrays.copyOfRange(b.array(), blk * 4096, blk * 4096 + 4096), v.name() + " block " + blk);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lz4", "deflate"})
    void qatLz4AndNoneVolumesStoreAndReadBackAcrossReopen(String algorithm) throws Exception {
        String[] engines = {"qat", "lz4", "none"};
        byte[][] d = new byte[3][];
        byte[] extra = null;
        try (Pool p = Pool.create(dir, cfg(algorithm))) {
            assertTrue(p.engineNames().contains("qat"), p.engineNames() + " " + p.unavailableEngines());
            for (int i = 0; i < 3; i++) {
                Volume v = p.createVolume("v-" + engines[i], 1L << 20, engines[i]);
                assertEquals(engines[i], v.engineName());
                d[i] = data(i + 1);
                write(p, v, d[i]);
                check(v, d[i]);
            }
            p.quiesce();
            Map<String, Long> s = p.stats();
            // 64 blocks: 8 zero, 8 duplicates -> 48 compressions on the qat volume
            assertEquals(48, s.get("engine_qat_requests"), s.toString());
            assertEquals(0, s.get("engine_qat_fallbacks"));
            assertEquals(8, s.get("engine_qat_incompressible"), "the random blocks");
            assertTrue(s.get("engine_qat_bytes_out") < s.get("engine_qat_bytes_in"));
            // how many fragments share packed blocks depends on timing (on a busy machine a flush
            // can catch fragments one by one, and a lone fragment is stored raw): write fresh
            // batches to the qat volume until some QAT-encoded fragments have been packed
            Volume q = p.volume("v-qat");
            for (int k = 0; k < 10 && q.stats().get("compressed_fragments_written") == 0; k++) {
                extra = data(50 + k);
                writeAt(p, q, 64 * 4096, extra);
            }
            assertTrue(q.stats().get("compressed_fragments_written") > 0,
                    "QAT-encoded fragments were packed (so reading back exercises their decoding): " + s);
            assertTrue(p.verifyReferenceCounts().isEmpty());
        }
        try (Pool p = Pool.open(dir, cfg(algorithm))) {
            for (int i = 0; i < 3; i++) check(p.volume("v-" + engines[i]), d[i]);
            if (extra != null) checkAt(p.volume("v-qat"), 64 * 4096, extra);
            assertEquals("qat", p.volume("v-qat").engineName());
        }
    }

    @Test
    void injectedErrorsAreCountedFallbacksAndNeverWrongData() throws Exception {
        try (Pool p = Pool.create(dir, cfg("lz4"))) {
            Volume v = p.createVolume("q", 1L << 20, "qat");
            c.fakeqz_inject("qzCompress", QzStatus.QZ_NOSW_NO_HW.code, 10);
            c.fakeqz_inject("qzCompress", QzStatus.QZ_FAIL.code, 5);
            c.fakeqz_inject("qzCompress", QzStatus.QZ_DATA_ERROR.code, 3);
            c.fakeqz_inject("qzCompress", QzStatus.QZ_BUF_ERROR.code, 2);
            byte[] d = data(9);
            write(p, v, d);
            check(v, d);
            p.quiesce();
            Map<String, Long> s = p.stats();
            assertEquals(15, s.get("engine_qat_fallbacks"), s.toString());
            assertEquals(10, s.get("engine_qat_rc_QZ_NOSW_NO_HW"));
            assertEquals(5, s.get("engine_qat_rc_QZ_FAIL"));
            assertEquals(3, s.get("engine_qat_errors"));
            assertEquals(3, s.get("compression_errors"), "the failed tasks were stored raw");
            assertEquals(30, s.get("engine_qat_requests"), "48 compressions - 15 fallbacks - 3 errors");
            assertEquals(2, s.get("engine_qat_rc_QZ_BUF_ERROR"));
            assertTrue(s.get("engine_qat_incompressible") >= 2, "QZ_BUF_ERROR answers are incompressible (plus random blocks)");
        }
        try (Pool p = Pool.open(dir, cfg("lz4"))) {
            check(p.volume("q"), data(9));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"disabled", "no-device", "no-library"})
    void qatWrittenVolumeReadsBackWithoutQat(String how) throws Exception {
        byte[] d = data(5);
        try (Pool p = Pool.create(dir, cfg("deflate"))) {
            write(p, p.createVolume("q", 1L << 20, "qat"), d);
        }
        try (Pool p = Pool.create(dir.resolve("lz4frames"), cfg("lz4"))) {
            write(p, p.createVolume("q", 1L << 20, "qat"), d);
        }
        for (Path pd : new Path[]{dir, dir.resolve("lz4frames")}) {
            PoolConfig off = cfg("lz4");
            String expect;
            switch (how) {
                case "disabled" -> { off.disabledEngines.add("qat"); expect = "disabled by configuration"; }
                case "no-device" -> { c.fakeqz_set_hardware(0); expect = "QZ_NOSW_NO_HW"; }
                default -> { off.engineOptions.put("qat.library", dir.resolve("none/libqatzip.so.3").toString()); expect = "not found"; }
            }
            try (Pool p = Pool.open(pd, off)) {
                assertTrue(p.unavailableEngines().get("qat").contains(expect), p.unavailableEngines().toString());
                Volume v = p.volume("q");
                assertEquals("lz4", v.engineName());
                assertEquals("qat", v.configuredEngine());
                check(v, d);
                byte[] more = data(6);
                v.write(0, ByteBuffer.wrap(more, 0, 8 * 4096), false).get();
                p.quiesce();
                assertTrue(p.stats().get("engine_qat_fallbacks") > 0, p.stats().toString());
                assertThrows(VdoException.class, () -> p.createVolume("q2", 1L << 20, "qat"));
            }
            c.fakeqz_reset();
        }
    }

    @Test
    void strictPolicyRefusesToOpenWithoutQat() throws Exception {
        try (Pool p = Pool.create(dir, cfg("lz4"))) {
            p.createVolume("fast", 1L << 20, "qat");
        }
        c.fakeqz_set_hardware(0);
        PoolConfig strict = cfg("lz4");
        strict.strictEngines = true;
        VdoException e = assertThrows(VdoException.class, () -> Pool.open(dir, strict));
        assertTrue(e.getMessage().contains("volume fast") && e.getMessage().contains("QZ_NOSW_NO_HW"), e.getMessage());
        c.fakeqz_set_hardware(1);
        try (Pool p = Pool.open(dir, strict)) {
            assertEquals("qat", p.volume("fast").engineName());
        }
    }

    @Test
    void setVolumeEngineSwitchesToQatAndBack() throws Exception {
        byte[] d = data(3), e = data(4);
        try (Pool p = Pool.create(dir, cfg("lz4"))) {
            Volume v = p.createVolume("x", 2L << 20, "lz4");
            write(p, v, d);
            p.setVolumeEngine("x", "qat");
            assertEquals("qat", v.engineName());
            v.write(1L << 20, ByteBuffer.wrap(e), false).get();
            p.quiesce();
            assertTrue(p.stats().get("engine_qat_requests") > 0);
            p.setVolumeEngine("x", "none");
        }
        try (Pool p = Pool.open(dir, cfg("lz4"))) {
            Volume v = p.volume("x");
            assertEquals("none", v.engineName());
            check(v, d);
            ByteBuffer b = ByteBuffer.allocate(e.length);
            v.read(1L << 20, b).get();
            assertArrayEquals(e, b.array());
        }
    }
}
