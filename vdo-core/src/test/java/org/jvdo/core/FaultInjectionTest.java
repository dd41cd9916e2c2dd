package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Storage faults under the real engine: it must say so, never serve wrong data, lose nothing acknowledged. */
class FaultInjectionTest {
    @TempDir Path dir;

    private static byte[] random(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(Volume v, long block) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        v.read(block * 4096, b).get(30, TimeUnit.SECONDS);
        return b.array();
    }

    private static Errno errnoOf(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        return VdoException.errnoOf(e.getCause());
    }

    private PoolConfig config(FaultyBlockStore[] holder, long physical) {
        PoolConfig c = PoolConfig.small(physical);
        c.storeWrapper = s -> holder[0] = new FaultyBlockStore(s);
        return c;
    }

    @Test
    void writeErrorAfterAcknowledgementMakesThePoolReadOnlyAndSaysWhy() throws Exception {
        FaultyBlockStore[] fs = new FaultyBlockStore[1];
        byte[] kept = random(1);
        try (Pool p = Pool.create(dir, config(fs, 16L << 20))) {
            Volume v = p.createVolume("v", 8L << 20);
            v.write(0, ByteBuffer.wrap(kept), true).get(30, TimeUnit.SECONDS);
            long firstData = Mapping.pbn(v.blockMap().get(0));
            fs[0].failWrite = b -> b > firstData;             // every later data or metadata write fails
            CompletableFuture<Void> w = v.write(4096, ByteBuffer.wrap(random(2)), true);
            assertEquals(Errno.EIO, errnoOf(w), "a FUA write whose data cannot be stored fails with EIO");
            assertTrue(p.isReadOnly());
            assertTrue(p.readOnlyReason().contains("injected write error"), p.readOnlyReason());
            assertEquals(1L, p.stats().get("read_only"));
            assertEquals(Errno.EROFS, errnoOf(v.write(8192, ByteBuffer.wrap(random(3)), false)), "writes refused");
            assertEquals(Errno.EIO, errnoOf(v.flush()), "flush reports the loss");
            assertArrayEquals(kept, read(v, 0), "reads still served");
            assertTrue(fs[0].writeFaults.get() > 0);
            fs[0].failWrite = b -> false;
        }
        // read-only mode is recorded in the pool and survives a restart
        try (Pool p = Pool.open(dir, PoolConfig.small(16L << 20))) {
            assertTrue(p.isReadOnly(), "read-only persists across restarts");
            assertTrue(p.readOnlyReason().contains("injected write error"), p.readOnlyReason());
            assertArrayEquals(kept, read(p.volume("v"), 0));
            assertEquals(Errno.EROFS, errnoOf(p.volume("v").write(0, ByteBuffer.wrap(random(4)), false)));
        }
    }

    @Test
    void readErrorFailsThatReadOnly() throws Exception {
        FaultyBlockStore[] fs = new FaultyBlockStore[1];
        try (Pool p = Pool.create(dir, config(fs, 16L << 20))) {
            Volume v = p.createVolume("v", 8L << 20);
            v.write(0, ByteBuffer.wrap(random(1)), false).get();
            v.write(4096, ByteBuffer.wrap(random(2)), false).get();
            v.flush().get();
            long bad = Mapping.pbn(v.blockMap().get(1));
            fs[0].failRead = b -> b == bad;
            ByteBuffer one = ByteBuffer.allocate(4096);
            assertEquals(Errno.EIO, errnoOf(v.read(4096, one)));
            assertArrayEquals(random(1), read(v, 0), "other reads unaffected");
            assertFalse(p.isReadOnly(), "a read error does not stop writes");
            v.write(8192, ByteBuffer.wrap(random(3)), true).get();
            fs[0].failRead = b -> false;
            assertArrayEquals(random(2), read(v, 1));
            assertEquals(1, fs[0].readFaults.get());
        }
    }

    @Test
    void fullPoolFailsNewBlocksWithEnospcButDedupZeroTrimAndReadsWork() throws Exception {
        FaultyBlockStore[] fs = new FaultyBlockStore[1];
        long physicalBlocks = 64;
        try (Pool p = Pool.create(dir, config(fs, physicalBlocks * 4096))) {
            Volume v = p.createVolume("v", 4L << 20);
            List<Long> written = new ArrayList<>();
            Errno failure = null;
            int lbn = 0;
            for (; lbn < 200 && failure == null; lbn++) {
                try {
                    v.write(lbn * 4096L, ByteBuffer.wrap(random(100 + lbn)), false).get(30, TimeUnit.SECONDS);
                    written.add((long) lbn);
                } catch (ExecutionException e) {
                    failure = VdoException.errnoOf(e.getCause());
                }
            }
            assertEquals(Errno.ENOSPC, failure, "a write needing a new block fails with ENOSPC");
            assertTrue(written.size() <= physicalBlocks && written.size() >= physicalBlocks - 2, "written " + written.size());
            assertFalse(p.isReadOnly(), "a full pool is not a broken pool");
            long full = lbn;
            // a duplicate, a zero block and a trim need no new block
            v.write(full * 4096, ByteBuffer.wrap(random(100)), false).get(30, TimeUnit.SECONDS);
            v.write((full + 1) * 4096, ByteBuffer.wrap(new byte[4096]), false).get(30, TimeUnit.SECONDS);
            v.flush().get();
            assertArrayEquals(random(100), read(v, full));
            assertArrayEquals(new byte[4096], read(v, full + 1));
            for (long b : written) assertArrayEquals(random(100 + b), read(v, b), "nothing acknowledged is lost, block " + b);
            // free space by trimming, then new data fits again
            v.trim(0, 8 * 4096L, false).get();
            v.flush().get();
            v.write((full + 2) * 4096, ByteBuffer.wrap(random(999)), true).get(30, TimeUnit.SECONDS);
            assertArrayEquals(random(999), read(v, full + 2));
            for (long b : written) if (b >= 8) assertArrayEquals(random(100 + b), read(v, b));
            assertTrue(p.verifyReferenceCounts().isEmpty(), p.verifyReferenceCounts().toString());
        }
    }

    @Test
    void tornBlockMapPageIsDetectedOnOpenWithTheVolumeAndPage() throws Exception {
        FaultyBlockStore[] fs = new FaultyBlockStore[1];
        long mapStart;
        try (Pool p = Pool.create(dir, config(fs, 16L << 20))) {
            Volume v = p.createVolume("v", 8L << 20);
            v.write(0, ByteBuffer.wrap(random(1)), false).get();
            mapStart = sbMapStart(p);
        }
        // clean close wrote the page; now tear the next write of that page
        try (Pool p = Pool.open(dir, config(fs, 16L << 20))) {
            fs[0].tearBytes = 100;
            fs[0].failWrite = b -> b == mapStart;
            p.volume("v").write(300 * 4096L, ByteBuffer.wrap(random(2)), false).get(); // entry 300 lies beyond the torn prefix
            assertThrows(Exception.class, p::close);
        } catch (Exception expected) {
            // close reported the failed checkpoint
        }
        CorruptPoolException e = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, PoolConfig.small(16L << 20)));
        assertTrue(e.getMessage().contains("volume v block map page 0"), e.getMessage());
    }

    private static long sbMapStart(Pool p) throws Exception {
        var f = Pool.class.getDeclaredField("sb");
        f.setAccessible(true);
        SuperBlock sb = (SuperBlock) f.get(p);
        return sb.volumes.get(0).mapStart;
    }
}
