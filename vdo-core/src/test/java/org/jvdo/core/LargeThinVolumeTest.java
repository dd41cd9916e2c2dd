package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Large, sparsely written thin volumes (issue 10, item 6): creating a 64 TiB volume, resizing it
 * to 128 TiB, recovering after a crash and deleting it must cost time in proportion to the
 * block-map pages actually written, not to the logical size. Asserts correctness only (data
 * reads back, reference counts match, another volume's write and flush complete while the
 * delete runs, within a bound that fails the test); prints the timings for docs/benchmarks.md.
 *
 * <p>-Djvdo.thin.tib=N sets the volume size (default 64; the resize doubles it).
 */
class LargeThinVolumeTest {
    @TempDir Path dir;
    static final long TIB = 1L << 40;
    static final int WRITES = 300;

    private static byte[] block(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void write(Volume v, long lbn, byte[] data) throws Exception {
        v.write(lbn * 4096, ByteBuffer.wrap(data), false).get(60, TimeUnit.SECONDS);
    }

    private static byte[] read(Volume v, long lbn) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        v.read(lbn * 4096, b).get(60, TimeUnit.SECONDS);
        return b.array();
    }

    private static double ms(long t0) { return (System.nanoTime() - t0) / 1e6; }

    @Test
    void inMemorySparseStore() throws Exception {
        PowerLossBlockStore s = PowerLossBlockStore.inMemory("mem:thin");
        PoolConfig cfg = PoolConfig.small(1L << 30);
        cfg.storeWrapper = s.wrapper();
        run("memory", cfg, () -> {
            try {
                s.powerLoss();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @Test
    void realFile() throws Exception {
        run("file", PoolConfig.small(1L << 30), () -> { });
    }

    private void run(String kind, PoolConfig cfg, Runnable powerLoss) throws Exception {
        long tib = Long.getLong("jvdo.thin.tib", 64);
        long blocks = tib * TIB / 4096;
        Path pd = dir.resolve(kind);
        Map<String, Double> t = new LinkedHashMap<>();
        Map<Long, Long> model = new LinkedHashMap<>();   // lbn -> content seed
        Random r = new Random(42);
        Pool p = Pool.create(pd, cfg);
        long t0 = System.nanoTime();
        Volume v = p.createVolume("thin", tib * TIB, "none");
        t.put("create", ms(t0));
        Volume other = p.createVolume("other", 64L << 20, "none");
        for (int i = 0; i < WRITES; i++) {
            long lbn = i * (blocks / WRITES) + r.nextInt(1 << 20);
            model.put(lbn, (long) i);
            write(v, lbn, block(i));
        }
        write(other, 1, block(-1));
        p.quiesce();
        t0 = System.nanoTime();
        p.resizeVolume("thin", 2 * tib * TIB);
        t.put("resize", ms(t0));
        for (int i = 0; i < 20; i++) {
            long lbn = blocks + i * (blocks / 20) + r.nextInt(1 << 20);
            model.put(lbn, 1000L + i);
            write(v, lbn, block(1000 + i));
        }
        v.flush().get(60, TimeUnit.SECONDS);
        verify(p, model, 1);
        // crash: the pool stops without a checkpoint; recovery replays the journal and rebuilds
        // every reference count from the block maps
        p.crash();
        powerLoss.run();
        t0 = System.nanoTime();
        p = Pool.open(pd, cfg);
        t.put("recovery", ms(t0));
        try {
            assertFalse(p.wasClean(), "the reopen recovered after the crash");
            assertEquals(2 * blocks, p.volume("thin").logicalBlocks());
            verify(p, model, 1);
            Volume o = p.volume("other");
            CountDownLatch started = new CountDownLatch(1);
            Pool pool = p;
            CompletableFuture<Double> delete = CompletableFuture.supplyAsync(() -> {
                started.countDown();
                long d0 = System.nanoTime();
                try {
                    pool.deleteVolume("thin");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
                return ms(d0);
            });
            assertTrue(started.await(60, TimeUnit.SECONDS), "the delete started");
            // another volume's I/O goes on while the delete runs
            long w0 = System.nanoTime();
            o.write(2 * 4096L, ByteBuffer.wrap(block(-2)), false).get(60, TimeUnit.SECONDS);
            o.flush().get(60, TimeUnit.SECONDS);
            t.put("other volume write+flush during delete", ms(w0));
            t.put("delete", delete.get(120, TimeUnit.SECONDS));
            assertNull(p.volume("thin"));
            assertArrayEquals(block(-1), read(o, 1));
            assertArrayEquals(block(-2), read(o, 2));
            assertEquals(List.of(), p.verifyReferenceCounts());
            assertEquals(2, p.depot.dataBlocksUsed(), "the deleted volume's blocks are free");
        } finally {
            p.close();
        }
        try (Pool q = Pool.open(pd, cfg)) {
            assertNull(q.volume("thin"));
            assertArrayEquals(block(-2), read(q.volume("other"), 2));
            assertEquals(List.of(), q.verifyReferenceCounts());
        }
        StringBuilder sb = new StringBuilder("LargeThinVolumeTest " + kind + ": " + tib + " TiB volume, " + model.size() + " blocks written:");
        t.forEach((k, ms) -> sb.append(String.format(" %s %.1f ms;", k, ms)));
        System.out.println(sb);
    }

    private static void verify(Pool p, Map<Long, Long> model, long extra) throws Exception {
        Volume v = p.volume("thin");
        for (Map.Entry<Long, Long> e : model.entrySet()) assertArrayEquals(block(e.getValue()), read(v, e.getKey()), "lbn " + e.getKey());
        assertArrayEquals(new byte[4096], read(v, 12345), "an unwritten block reads zeros");
        assertEquals(List.of(), p.verifyReferenceCounts());
        assertEquals(model.size() + extra, p.depot.dataBlocksUsed());
        assertEquals(model.size(), v.usedBlocks());
    }
}
