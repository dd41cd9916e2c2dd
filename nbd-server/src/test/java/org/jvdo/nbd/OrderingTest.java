package org.jvdo.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.Volume;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Ordering across connections on the real engine: read-after-acknowledged-write, and racing writers never mix. */
class OrderingTest {
    @TempDir Path dir;

    private static byte[] fill(int seed, boolean compressible) {
        byte[] b = new byte[4096];
        Random r = new Random(seed);
        if (compressible) for (int i = 0; i < b.length; i++) b[i] = (byte) ('a' + (i + r.nextInt(3)) % 20);
        else r.nextBytes(b);
        return b;
    }

    @Test
    void readAfterAcknowledgedWriteSeesItOnAnotherConnection() throws Exception {
        try (Pool pool = Pool.create(dir, EngineDevices.config())) {
            Volume v = pool.createVolume("v", 16L << 20);
            try (TestServers.Handle h = TestServers.start(List.of(v));
                 RawClient writer = RawClient.open(h.port());
                 RawClient reader = RawClient.open(h.port())) {
                writer.go("v");
                reader.go("v");
                for (int i = 0; i < 400; i++) {
                    int block = i % 37;
                    byte[] data = fill(i, i % 2 == 0);
                    assertEquals(0, writer.write(i, block * 4096L, data));
                    // no flush: the write is only acknowledged, and must be visible at once elsewhere
                    assertArrayEquals(data, reader.read(i, block * 4096L, 4096), "round " + i + " block " + block);
                    byte[] part = Arrays.copyOfRange(data, 100, 700);
                    assertArrayEquals(part, reader.read(i, block * 4096L + 100, 600), "sub-block read, round " + i);
                }
            }
        }
    }

    @Test
    void twoConnectionsWritingOneBlockLeaveOneContentNeverAMix() throws Exception {
        try (Pool pool = Pool.create(dir, EngineDevices.config())) {
            Volume v = pool.createVolume("v", 16L << 20);
            ExecutorService ex = Executors.newFixedThreadPool(2);
            try (TestServers.Handle h = TestServers.start(List.of(v));
                 RawClient a = RawClient.open(h.port());
                 RawClient b = RawClient.open(h.port());
                 RawClient check = RawClient.open(h.port())) {
                a.go("v");
                b.go("v");
                check.go("v");
                for (int round = 0; round < 150; round++) {
                    int block = round % 5;
                    byte[] da = fill(round * 2, round % 3 == 0), db = fill(round * 2 + 1, round % 3 != 1);
                    // two whole-block writes released together race on the same block
                    CyclicBarrier go = new CyclicBarrier(2);
                    int r = round;
                    Future<Integer> fa = ex.submit(() -> { go.await(); return a.write(r, block * 4096L, da); });
                    Future<Integer> fb = ex.submit(() -> { go.await(); return b.write(r, block * 4096L, db); });
                    assertEquals(0, fa.get(30, TimeUnit.SECONDS));
                    assertEquals(0, fb.get(30, TimeUnit.SECONDS));
                    byte[] got = check.read(round, block * 4096L, 4096);
                    assertTrue(Arrays.equals(got, da) || Arrays.equals(got, db),
                            "round " + round + ": block " + block + " holds a mix of the two writes");
                }
                // writes are acknowledged before they reach the block map: the counts are compared once
                // every acknowledged write has (a flush), else a write still holding its new block's
                // reference looks like a difference
                pool.quiesce();
                List<String> diff = pool.verifyReferenceCounts();
                assertTrue(diff.isEmpty(), diff.toString());
            } finally {
                ex.shutdownNow();
            }
        }
    }
}
