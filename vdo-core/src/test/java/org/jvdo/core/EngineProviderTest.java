package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.jvdo.testsupport.Blocks;

import static org.junit.jupiter.api.Assertions.*;

/** The compression-engine provider SPI and the per-volume fallback / strict policy, with {@link TestQatProvider}. */
class EngineProviderTest {
    @TempDir Path dir;

    @AfterEach
    void reset() { TestQatProvider.unavailableReason = null; }

    private static byte[] read(Volume v, long off) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        v.read(off, b).get();
        return b.array();
    }

    @Test
    void qatVolumeFallsBackToLz4WhenUnavailableAndReadsBack() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        byte[][] data = new byte[8][];
        Random r = new Random(1);
        for (int i = 0; i < data.length; i++) data[i] = Blocks.text(r);
        try (Pool p = Pool.create(dir, cfg)) {
            assertTrue(p.engineNames().contains("qat"), p.engineNames().toString());
            Volume v = p.createVolume("q", 1L << 20, "qat");
            assertEquals("qat", v.engineName());
            for (int i = 0; i < 4; i++) v.write(i * 4096L, ByteBuffer.wrap(data[i]), false).get();
            p.quiesce();
            Map<String, Long> s = p.stats();
            assertEquals(4, s.get("engine_qat_requests"));
            assertTrue(s.get("compressed_fragments_written") >= 4, s.toString());
        }
        TestQatProvider.unavailableReason = "QZ_NOSW_NO_HW";
        try (Pool p = Pool.open(dir, cfg)) {
            assertEquals(Map.of("qat", "QZ_NOSW_NO_HW"), p.unavailableEngines());
            Volume v = p.volume("q");
            assertEquals("lz4", v.engineName());
            assertEquals("qat", v.configuredEngine());
            for (int i = 0; i < 4; i++) assertArrayEquals(data[i], read(v, i * 4096L), "block " + i);
            for (int i = 4; i < 8; i++) v.write(i * 4096L, ByteBuffer.wrap(data[i]), false).get();
            p.quiesce();
            Map<String, Long> s = p.stats();
            assertEquals(4, s.get("engine_qat_fallbacks"));
            assertEquals(0, s.get("engine_qat_available"));
            assertTrue(s.get("engine_lz4_requests") >= 4, s.toString());
            VdoException e = assertThrows(VdoException.class, () -> p.createVolume("q2", 1L << 20, "qat"));
            assertTrue(e.getMessage().contains("QZ_NOSW_NO_HW"), e.getMessage());
            assertThrows(VdoException.class, () -> p.setVolumeEngine("q", "qat"));
        }
        TestQatProvider.unavailableReason = null;
        try (Pool p = Pool.open(dir, cfg)) {
            Volume v = p.volume("q");
            assertEquals("qat", v.engineName(), "available again: the volume uses qat, its configuration was kept");
            for (int i = 0; i < 8; i++) assertArrayEquals(data[i], read(v, i * 4096L), "block " + i);
        }
    }

    @Test
    void strictPolicyRefusesToOpen() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        try (Pool p = Pool.create(dir, cfg)) {
            p.createVolume("plain", 1L << 20, "lz4");
            p.createVolume("fast", 1L << 20, "qat");
        }
        TestQatProvider.unavailableReason = "libqatzip.so.3 not found";
        PoolConfig strict = cfg.copy();
        strict.strictEngines = true;
        VdoException e = assertThrows(VdoException.class, () -> Pool.open(dir, strict));
        assertTrue(e.getMessage().contains("volume fast") && e.getMessage().contains("libqatzip.so.3 not found"), e.getMessage());
        // the refused open released the pool: a lenient open works
        try (Pool p = Pool.open(dir, cfg)) {
            assertEquals("lz4", p.volume("fast").engineName());
        }
    }

    @Test
    void disabledEngineIsUnavailable() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.disabledEngines.add("qat");
        try (Pool p = Pool.create(dir, cfg)) {
            assertFalse(p.engineNames().contains("qat"));
            assertEquals("disabled by configuration", p.unavailableEngines().get("qat"));
            VdoException e = assertThrows(VdoException.class, () -> p.createVolume("x", 1L << 20, "qat"));
            assertEquals(Errno.ENOTSUP, e.errno());
            assertThrows(VdoException.class, () -> p.createVolume("y", 1L << 20, "zstd"));
        }
    }
}
