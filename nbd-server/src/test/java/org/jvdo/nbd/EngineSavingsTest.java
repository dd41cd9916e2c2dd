package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * nbdcopy of 256 MiB of mixed data into a jvdo volume and back: the bytes survive (also across a
 * clean pool restart) and the engine's statistics show the zero, dedupe and compression savings.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class EngineSavingsTest {
    static final long DATA = 256L << 20;
    static final long SIZE = 512L << 20;
    static final Duration T = Duration.ofSeconds(120);

    @TempDir
    Path tmp;
    Pool pool;
    TestServers.Handle server;

    @AfterEach
    void stop() throws Exception {
        try {
            if (server != null) {
                server.close();
            }
        } finally {
            if (pool != null) {
                pool.close();
            }
        }
    }

    private void serve() {
        server = TestServers.start(List.of(pool.volume("vol")));
    }

    private void copyOutAndCompare(Path in, String name) {
        Path out = tmp.resolve(name);
        Tools.run(T, "nbdcopy", server.uri("vol"), out.toString()).assertOk("nbdcopy out");
        // the volume is larger than the data; the rest must read as zeros
        Tools.run(T, "truncate", "-s", String.valueOf(DATA), out.toString()).assertOk("truncate");
        Tools.run(T, "cmp", in.toString(), out.toString()).assertOk("cmp of the copy with the original");
        try {
            Files.delete(out);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void mixedDataRoundTripsAndSaves() throws Exception {
        Tools.require("nbdcopy", "cmp", "truncate");
        Path in = tmp.resolve("in.img");
        Blocks.Mix mix = Blocks.writeMixed(in, DATA / Blocks.BS, 128, 20240611L);
        System.out.println("savings test data: " + mix);

        pool = Pool.create(tmp.resolve("pool"), EngineDevices.config());
        Volume vol = pool.createVolume("vol", SIZE);
        serve();
        // --allocated -S 0: every block goes over the wire as data, zeros too; the engine must find them
        Tools.run(T, "nbdcopy", "--allocated", "-S", "0", "--flush", in.toString(), server.uri("vol"))
                .assertOk("nbdcopy in");
        pool.quiesce();
        Map<String, Long> s = pool.stats();
        System.out.println("savings test stats: " + s);

        long written = mix.blocks();
        long nonZero = written - mix.zeroBlocks;
        assertEquals(DATA, s.get("bytes_written"), "bytes the volume received");
        assertEquals(written, s.get("logical_blocks_used"));
        assertTrue(s.get("same_pages") >= mix.zeroBlocks, "same_pages " + s.get("same_pages") + " < zero blocks " + mix.zeroBlocks);
        long dedupe = s.get("dedupe_advice_valid") + s.get("concurrent_data_matches");
        long margin = Math.max(16, mix.duplicateBlocks / 100);
        assertTrue(dedupe >= mix.duplicateBlocks - margin,
                "dedupe " + dedupe + " < duplicates " + mix.duplicateBlocks + " - " + margin);
        assertTrue(s.get("compressed_fragments_written") > 0, "nothing was compressed: " + s);
        long used = s.get("data_blocks_used");
        // random and source blocks take a block each; text (1000-1500 bytes after LZ4) must pack at least two to a block
        long bound = mix.randomBlocks + mix.sourceBlocks + mix.textBlocks / 2;
        assertTrue(used <= bound, "data_blocks_used " + used + " > " + bound + " (" + mix + ")");
        assertTrue(used < nonZero * 3 / 4, "data_blocks_used " + used + " not well below " + nonZero + " non-zero blocks written");
        System.out.printf("savings test: %d blocks written (%d non-zero), %d data blocks used: %.1f%% saved; dedupe %d of %d"
                        + " duplicates, %d compressed fragments%n", written, nonZero, used, 100.0 * (written - used) / written,
                dedupe, mix.duplicateBlocks, s.get("compressed_fragments_written"));
        copyOutAndCompare(in, "out1.img");

        // a clean restart of the pool: same data, same space, no recovery
        server.close();
        server = null;
        pool.close();
        pool = Pool.open(tmp.resolve("pool"), EngineDevices.config());
        assertFalse(pool.openReport().contains("recovered"), pool.openReport());
        assertEquals(used, pool.stats().get("data_blocks_used"), "data blocks after a clean restart");
        assertEquals(List.of(), pool.verifyReferenceCounts());
        serve();
        copyOutAndCompare(in, "out2.img");
        assertTrue(vol.size() == pool.volume("vol").size());
    }
}
