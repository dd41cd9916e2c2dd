package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The owner epoch (pool format 3.1, docs/cluster.md): a cluster member's open claims the pool,
 * bumping the epoch and naming itself in the super block, written and synced before any other
 * write of that open; an open without a member keeps both; 3.0 pools read as epoch 0 and become
 * 3.1 when first claimed, with their data intact.
 */
@Timeout(120)
class OwnerEpochTest {
    @TempDir Path dir;
    static final UUID A = new UUID(1, 0xA), B = new UUID(1, 0xB);

    /** Records the order of writes and syncs, with the owner epoch of super block copies written. */
    static final class Recording implements BlockStore {
        final BlockStore inner;
        final List<String> events = new ArrayList<>();

        Recording(BlockStore inner) { this.inner = inner; }

        @Override public void read(long b, ByteBuffer dst) throws IOException { inner.read(b, dst); }

        @Override
        public synchronized void write(long b, ByteBuffer src) throws IOException {
            if (b == org.jvdo.format.SuperBlockLayout.copyBlock(0) || b == org.jvdo.format.SuperBlockLayout.copyBlock(1)) {
                events.add("superblock epoch " + src.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(src.position() + 344));
            } else {
                events.add("write " + b);
            }
            inner.write(b, src);
        }

        @Override public synchronized void sync() throws IOException { events.add("sync"); inner.sync(); }
        @Override public long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }
        @Override public void extendTo(long blocks) throws IOException { inner.extendTo(blocks); }
        @Override public boolean reserve(long f, long n) throws IOException { return inner.reserve(f, n); }
        @Override public String describe() { return inner.describe(); }
        @Override public void close() throws IOException { inner.close(); }
    }

    static byte[] block(int seed) { return Blocks.random(new java.util.SplittableRandom(seed)); }

    static void writeBlocks(Volume v, int n) throws Exception {
        for (int i = 0; i < n; i++) Await.value(v.write((long) i * Blocks.BS, ByteBuffer.wrap(block(i)), false), "write " + i);
        Await.value(v.flush(), "flush");
    }

    static void assertBlocks(Volume v, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            assertArrayEquals(block(i), Volumes.read(v, (long) i * Blocks.BS, Blocks.BS), "block " + i);
        }
    }

    @Test
    void eachClaimBumpsTheEpochBeforeAnythingElseIsWritten() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        try (Pool p = Pool.create(dir, cfg)) {
            writeBlocks(p.createVolume("v", 1 << 20), 64);
        }
        SuperBlock sb = Pool.superBlockOf(dir);
        assertEquals(1, sb.minor, "new pools are format 3.1");
        assertEquals(0, sb.ownerEpoch);
        assertNull(sb.ownerMember);

        PoolConfig a = cfg.copy();
        a.ownerMember = A;
        Recording[] rec = new Recording[1];
        a.storeWrapper = s -> rec[0] = new Recording(s);
        try (Pool p = Pool.open(dir, a)) {
            assertEquals(1, p.ownerEpoch());
            SuperBlock seen = Pool.superBlockOf(dir);
            assertEquals(1, seen.ownerEpoch, "the claim is on disk while the pool is open");
            assertEquals(A, seen.ownerMember);
            List<String> ev = new ArrayList<>(rec[0].events);
            assertTrue(ev.size() >= 2, ev.toString());
            assertEquals(List.of("superblock epoch 1", "sync"), ev.subList(0, 2), "the claim is the first write, synced: " + ev);
            assertBlocks(p.volume("v"), 64);
            writeBlocks(p.volume("v"), 64);
        }
        PoolConfig b = cfg.copy();
        b.ownerMember = B;
        try (Pool p = Pool.open(dir, b)) {
            assertEquals(2, p.ownerEpoch());
            assertEquals(B, Pool.superBlockOf(dir).ownerMember);
        }
        try (Pool p = Pool.open(dir, cfg)) {
            assertEquals(2, p.ownerEpoch(), "an open outside a cluster keeps the epoch");
            assertBlocks(p.volume("v"), 64);
        }
        SuperBlock after = Pool.superBlockOf(dir);
        assertEquals(2, after.ownerEpoch);
        assertEquals(B, after.ownerMember);
    }

    @Test
    void aFormat30PoolOpensAndBecomes31WhenClaimed() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        try (Pool p = Pool.create(dir, cfg)) {
            writeBlocks(p.createVolume("v", 1 << 20), 64);
        }
        // rewrite both copies as format 3.0 (no owner fields), as a pool of the previous release
        try (SegmentedBlockStore store = SegmentedBlockStore.open(dir)) {
            SuperBlock sb = SuperBlock.read(store);
            sb.minor = 0;
            sb.write(store);
            sb.write(store);
            ByteBuffer raw = ByteBuffer.allocate(SuperBlock.COPY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            store.read(org.jvdo.format.SuperBlockLayout.copyBlock(0), raw);
            assertEquals(0, raw.getShort(10));
        }
        try (Pool p = Pool.open(dir, cfg)) {
            assertEquals(0, p.ownerEpoch());
            assertBlocks(p.volume("v"), 64);
        }
        assertEquals(0, Pool.superBlockOf(dir).minor, "an open outside a cluster leaves a 3.0 pool 3.0");
        PoolConfig a = cfg.copy();
        a.ownerMember = A;
        try (Pool p = Pool.open(dir, a)) {
            assertEquals(1, p.ownerEpoch());
            assertBlocks(p.volume("v"), 64);
        }
        SuperBlock sb = Pool.superBlockOf(dir);
        assertEquals(1, sb.minor);
        assertEquals(1, sb.ownerEpoch);
        assertEquals(A, sb.ownerMember);
    }
}
