package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.core.PowerLossBlockStore.Fate;
import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Chosen (not random) power losses over {@link PowerLossBlockStore} that reproduce what
 * {@link PowerLossTest} found: slab additions write the super block without a sync.
 */
class PowerLossRegressionTest {
    @TempDir Path tmp;

    private final PowerLossBlockStore[] holder = new PowerLossBlockStore[1];

    private PoolConfig config() {
        PoolConfig c = PoolConfig.small(32L << 20);
        c.slabDataBlocks = 16;
        c.storeWrapper = s -> holder[0] = new PowerLossBlockStore(s);
        return c;
    }

    private static void await(java.util.concurrent.CompletableFuture<?> f) throws Exception { f.get(20, TimeUnit.SECONDS); }

    /** Unique incompressible blocks at lbn first.., all inside one block-map page: no eviction, no sync. */
    private static byte[] burst(Volume v, long first, int n, long seed) throws Exception {
        byte[] b = new byte[n * BS];
        new Random(seed).nextBytes(b);
        await(v.write(first * BS, ByteBuffer.wrap(b), false));
        return b;
    }

    /**
     * Bursts of new blocks (two or more slab additions each), as many as used to leave both
     * super block copies with unsynced writes (format 1 wrote the super block unsynced at every
     * slab addition, alternating copies). Now a super block write is synced before the other
     * copy can be written, so at no moment are both copies unsynced.
     */
    private static void bothCopiesUnsynced(Pool pool, Volume v, PowerLossBlockStore store) throws Exception {
        for (int i = 0; i < 20; i++) {
            burst(v, 100 + (i % 9) * 40, 40, 100 + i);
            settle(pool);
            assertTrue(store.superCopiesPending() < 2, "both super block copies hold unsynced writes after burst " + i);
        }
    }

    /** Waits (without a flush) until the acknowledged writes have reached the block map: they are acknowledged early. */
    private static void settle(Pool pool) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (pool.pipeline.busy() && System.nanoTime() < deadline) Thread.sleep(1);
    }

    private static long generation(Pool p) throws Exception {
        var f = Pool.class.getDeclaredField("sb");
        f.setAccessible(true);
        SuperBlock sb = (SuperBlock) f.get(p);
        synchronized (sb) { return sb.generation; }
    }

    private static boolean isSuperBlock(long b) { return b < 2L * SuperBlock.COPY_BLOCKS; }

    /**
     * Two slab additions after the last sync write both super block copies unsynced; a power
     * loss that tears both (each copy is 8 pages of 8 sectors: not atomic) leaves no valid copy,
     * although everything was flushed but the slab additions themselves.
     */
    @Test
    void twoSlabAdditionsBetweenSyncsThenTornSuperBlocksPoolStillOpens() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Path dir = tmp.resolve("p");
            PoolConfig cfg = config();
            Pool pool = Pool.create(dir, cfg);
            Volume v = pool.createVolume("v", 511L * BS);
            // 30 slabs: the super block's used bytes (320 + 107 per volume + 8 per slab) pass one
            // 512-byte sector, so a sector-torn copy fails its checksum
            burst(v, 0, 480, 0);
            byte[] flushed = burst(v, 0, 8, 1);
            await(v.flush());
            PowerLossBlockStore store = holder[0];
            bothCopiesUnsynced(pool, v, store);
            pool.crash();
            var report = store.simulateCrash(null, true, b -> isSuperBlock(b) ? Fate.TORN : Fate.NEW);
            try (Pool p = Pool.open(dir, cfg)) {
                byte[] got = Volumes.read(p.volume("v"), 0, 8 * BS);
                assertArrayEquals(flushed, got, "flushed blocks after the power loss");
            } catch (CorruptPoolException e) {
                fail("no openable pool after a power loss that tore only unsynced super block writes: " + e.getMessage() + "; power loss: " + report);
            }
        });
    }

    /**
     * A FUA write into a new slab makes that slab's super block generation durable; two more slab
     * additions then overwrite that copy and the other one, unsynced. A power loss that tears the
     * copy holding the newest durable generation and reverts the other leaves only an older
     * generation, which lacks the slab holding the FUA-written block.
     */
    @Test
    void fuaWrittenBlockInANewSlabSurvivesLaterSlabAdditionsAndAPowerLoss() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Path dir = tmp.resolve("p");
            PoolConfig cfg = config();
            Pool pool = Pool.create(dir, cfg);
            Volume v = pool.createVolume("v", 511L * BS);
            burst(v, 0, 480, 0); // 30 slabs: a super block longer than one sector
            await(v.flush());
            // FUA writes one at a time until one of them needed a new slab: its sync makes that
            // slab addition's super block generation the newest durable one
            byte[] fua = null;
            long fuaLbn = -1, durableGen = -1;
            for (int i = 0; i < 40 && fua == null; i++) {
                int slabs = pool.depot.slabCount();
                byte[] b = Blocks.random(new Random(1000 + i));
                await(v.write((long) i * BS, ByteBuffer.wrap(b), true));
                settle(pool);
                if (pool.depot.slabCount() > slabs && slabs > 0) { fua = b; fuaLbn = i; durableGen = generation(pool); }
            }
            assertTrue(fua != null, "a FUA write added a slab");
            PowerLossBlockStore store = holder[0];
            bothCopiesUnsynced(pool, v, store);
            pool.crash();
            long tornCopy = durableGen & 1; // the copy that held the newest durable generation
            var report = store.simulateCrash(null, true, b -> {
                if (!isSuperBlock(b)) return Fate.NEW;
                return (b / SuperBlock.COPY_BLOCKS) == tornCopy ? Fate.TORN : Fate.OLD;
            });
            try (Pool p = Pool.open(dir, cfg)) {
                byte[] got = Volumes.read(p.volume("v"), fuaLbn * BS, BS);
                if (!Arrays.equals(fua, got)) fail("FUA-written lbn " + fuaLbn + " lost: reads " + Blocks.describe(got, 0) + "; power loss: " + report);
                assertTrue(p.verifyReferenceCounts().isEmpty(), "reference counts");
            } catch (CorruptPoolException e) {
                fail("no openable pool after the FUA write of lbn " + fuaLbn + " (durable super block generation " + durableGen + " in copy "
                        + tornCopy + ", torn; the other copy reverted): " + e.getMessage() + "; power loss: " + report);
            }
        });
    }

    /**
     * A slab addition undone by the power loss (super block reverted) after data was written into
     * the slab: its region is handed out again, here as a new volume's block map, and the stale
     * data there must not be taken for block-map pages.
     */
    @Test
    void regionOfALostSlabAdditionIsCleanWhenReused() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Path dir = tmp.resolve("p");
            PoolConfig cfg = config();
            Pool pool = Pool.create(dir, cfg);
            Volume v = pool.createVolume("v", 511L * BS);
            burst(v, 0, 8, 6);
            await(v.flush());
            burst(v, 100, 60, 7); // slab additions and their data, unsynced
            settle(pool);
            PowerLossBlockStore store = holder[0];
            pool.crash();
            var report = store.simulateCrash(null, false, b -> isSuperBlock(b) ? Fate.OLD : Fate.NEW);
            try (Pool p = Pool.open(dir, cfg)) {
                Volume w = p.createVolume("w", 60_000L * BS); // 118 block-map pages from the old nextRegionBlock
                ByteBuffer all = ByteBuffer.allocate(60_000 * BS);
                try {
                    w.read(0, all).get(20, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    fail("a new volume's block map over the region of a slab addition lost in the power loss: " + e.getCause().getMessage() + "; power loss: " + report);
                }
                assertArrayEquals(new byte[60_000 * BS], all.array(), "a new volume reads zeros");
                for (int i = 0; i < 60_000; i += 500) await(w.write((long) i * BS, ByteBuffer.wrap(Blocks.random(new Random(i))), false));
                await(w.flush());
            }
        });
    }
}
