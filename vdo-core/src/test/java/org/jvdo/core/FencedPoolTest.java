package org.jvdo.core;

import org.jvdo.core.api.FencedException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.api.WriteFence;
import org.jvdo.testsupport.Blocks;
import org.jvdo.testsupport.FileSnapshots;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The write fence (docs/cluster.md): once a pool's fence refuses, nothing more reaches any file
 * of the pool (compared byte for byte), writes and flushes fail instead of hanging; and a
 * takeover opens a pool whose former owner still holds it, after which the former owner's
 * epoch fence refuses its writes and the new owner reads every flushed block.
 */
@Timeout(120)
class FencedPoolTest {
    @TempDir Path dir;
    static final UUID A = new UUID(2, 0xA), B = new UUID(2, 0xB);

    static byte[] block(int seed) { return Blocks.random(new java.util.SplittableRandom(seed)); }

    static void write(Volume v, int first, int n, int seed) throws Exception {
        for (int i = 0; i < n; i++) {
            v.write((long) (first + i) * Blocks.BS, ByteBuffer.wrap(block(seed + i)), false).get(30, TimeUnit.SECONDS);
        }
    }

    /** Waits for {@code f} (bounded); true when it failed. */
    static boolean failed(CompletableFuture<?> f) throws Exception {
        try {
            f.get(60, TimeUnit.SECONDS);
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        }
    }

    @Test
    void nothingReachesThePoolFilesOnceTheFenceRefuses() throws Exception {
        AtomicReference<String> refuse = new AtomicReference<>();
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.ownerMember = A;
        cfg.writeFence = () -> {
            String r = refuse.get();
            if (r != null) throw new FencedException(r);
        };
        Pool p = Pool.create(dir, cfg);
        Volume v = p.createVolume("v", 4 << 20);
        write(v, 0, 256, 0);
        v.flush().get(30, TimeUnit.SECONDS);
        Map<String, byte[]> before = FileSnapshots.of(dir, Pool.LOCK_FILE);
        refuse.set("pool taken over by member " + B + " at epoch 2");
        int refusedWrites = 0;
        for (int i = 0; i < 128; i++) {
            // new data, overwrites and trims: whatever the pipeline would store, journal or free
            CompletableFuture<Void> w = i % 3 == 2 ? v.trim((long) i * Blocks.BS, Blocks.BS, false)
                    : v.write((long) i * Blocks.BS, ByteBuffer.wrap(block(1000 + i)), false);
            if (failed(w)) refusedWrites++;
        }
        assertTrue(failed(v.flush()), "a flush after the fence refused cannot succeed");
        try {
            p.close();
        } catch (Exception expected) {
            // the close's checkpoint is refused as well
        }
        FileSnapshots.assertSameFiles(before, FileSnapshots.of(dir, Pool.LOCK_FILE));
        // the refusals were the fence's: the same pool, opened without it, holds exactly what was flushed before
        PoolConfig plain = PoolConfig.small(64L << 20);
        try (Pool q = Pool.open(dir, plain)) {
            for (int i = 0; i < 256; i++) {
                assertArrayEquals(block(i), Volumes.read(q.volume("v"), (long) i * Blocks.BS, Blocks.BS), "block " + i);
            }
        }
        System.out.println("fenced: " + refusedWrites + " of 128 requests failed at once, the rest at the flush");
    }

    @Test
    void aTakeoverFencesTheFormerOwnerByItsEpoch() throws Exception {
        PoolConfig a = PoolConfig.small(64L << 20);
        a.ownerMember = A;
        Pool first = Pool.create(dir, a);
        long epochA = first.ownerEpoch();
        // the former owner's fence: its epoch must still be the pool's (read from the file, as a member does when its lease lapsed)
        WriteFence byEpoch = () -> {
            try {
                long now = Pool.superBlockOf(dir).ownerEpoch;
                if (now != epochA) throw new FencedException("pool taken over: epoch " + now + ", ours " + epochA);
            } catch (FencedException e) {
                throw e;
            } catch (Exception e) {
                throw new FencedException("cannot read the owner epoch: " + e);
            }
        };
        first.close();
        a.writeFence = byEpoch;
        a.ownerMember = null; // reopened by the same owner, keeping its epoch
        first = Pool.open(dir, a);
        assertEquals(epochA, first.ownerEpoch());
        Volume v = first.createVolume("v", 4 << 20);
        write(v, 0, 128, 0);
        v.flush().get(30, TimeUnit.SECONDS);

        PoolConfig b = PoolConfig.small(64L << 20);
        b.ownerMember = B;
        VdoException busy = assertThrows(VdoException.class, () -> Pool.open(dir, b), "the lock refuses a second opener");
        assertTrue(busy.getMessage().contains("in use"), busy.getMessage());
        b.takeover = true;
        try (Pool second = Pool.open(dir, b)) {
            assertEquals(epochA + 1, second.ownerEpoch());
            Map<String, byte[]> before = FileSnapshots.of(dir, Pool.LOCK_FILE);
            // the former owner resumes: every write is refused, nothing reaches the files
            for (int i = 0; i < 32; i++) failed(v.write((long) i * Blocks.BS, ByteBuffer.wrap(block(5000 + i)), false));
            assertTrue(failed(v.flush()), "the former owner's flush fails");
            try {
                first.close();
            } catch (Exception expected) {
                // refused
            }
            FileSnapshots.assertSameFiles(before, FileSnapshots.of(dir, Pool.LOCK_FILE));
            for (int i = 0; i < 128; i++) {
                assertArrayEquals(block(i), Volumes.read(second.volume("v"), (long) i * Blocks.BS, Blocks.BS), "block " + i + " at the new owner");
            }
            write(second.volume("v"), 0, 16, 9000);
            second.volume("v").flush().get(30, TimeUnit.SECONDS);
        }
    }
}
