package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.Mapping;
import org.jvdo.testsupport.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stuck write names the stage it is stuck in: a partial write whose base read is held is
 * listed as READ_FOR_MERGE, the write queued behind it on the same LBN as LBN_QUEUE; once the
 * read goes on, both complete and the dump lists no vio.
 */
class InFlightDumpTest {
    @TempDir Path tmp;

    /** Holds reads of one block until released. */
    static final class HeldReads implements BlockStore {
        final BlockStore s;
        volatile long heldBlock = -1;
        final CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);

        HeldReads(BlockStore s) { this.s = s; }

        @Override public void read(long b, ByteBuffer dst) throws IOException {
            if (b == heldBlock) {
                entered.countDown();
                try { release.await(20, TimeUnit.SECONDS); } catch (InterruptedException e) { throw new IOException(e); }
            }
            s.read(b, dst);
        }
        @Override public void write(long b, ByteBuffer src) throws IOException { s.write(b, src); }
        @Override public void sync() throws IOException { s.sync(); }
        @Override public long sizeInBlocks() throws IOException { return s.sizeInBlocks(); }
        @Override public void extendTo(long blocks) throws IOException { s.extendTo(blocks); }
        @Override public boolean reserve(long first, long blocks) throws IOException { return s.reserve(first, blocks); }
        @Override public String describe() { return s.describe(); }
        @Override public void close() throws IOException { s.close(); }
    }

    @Test
    void aStuckWriteNamesItsStage() throws Exception {
        HeldReads[] h = new HeldReads[1];
        PoolConfig cfg = PoolConfig.small(16L << 20);
        cfg.storeWrapper = s -> h[0] = new HeldReads(s);
        try (Pool pool = Pool.create(tmp.resolve("p"), cfg)) {
            Volume v = pool.createVolume("v", 8L << 20);
            byte[] base = new byte[4096];
            for (int i = 0; i < base.length; i++) base[i] = (byte) (i * 31 + 17);
            assertNull(Await.outcome(v.write(5 * 4096L, ByteBuffer.wrap(base), false), "base write"));
            assertNull(Await.outcome(v.flush(), "flush"));
            h[0].heldBlock = Mapping.pbn(v.blockMap().get(5));
            CompletableFuture<Void> partial = v.write(5 * 4096L + 10, ByteBuffer.wrap(new byte[]{1, 2, 3}), false);
            assertTrue(h[0].entered.await(20, TimeUnit.SECONDS), "the read-modify-write reads its base block");
            CompletableFuture<Void> behind = v.write(5 * 4096L, ByteBuffer.wrap(new byte[4096]), false);
            List<String> dump = pool.inFlight();
            String all = String.join("\n", dump);
            assertTrue(all.contains("v lbn 5 partial write: READ_FOR_MERGE"), all);
            assertTrue(all.contains("v lbn 5 write: LBN_QUEUE"), all);
            h[0].release.countDown();
            assertNull(Await.outcome(partial, "partial write"));
            assertNull(Await.outcome(behind, "write queued behind it"));
            assertNull(Await.outcome(v.flush(), "flush"));
            Await.until(() -> pool.inFlight().size() == 1, Await.SECONDS, () -> "every vio back in the pool: " + pool.inFlight());
            assertEquals(1, pool.inFlight().size(), String.join("\n", pool.inFlight()));
        }
    }
}
