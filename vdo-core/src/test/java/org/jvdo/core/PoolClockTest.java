package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The pool's timers read {@link PoolConfig#clock}: with the clock held still, a lone fragment
 * stays in its packer bin however long the packer-timeout task runs; once the clock moves past
 * the timeout, that task writes the bin.
 */
class PoolClockTest {
    @TempDir Path tmp;

    @Test
    void thePackerTimeoutFollowsThePoolClock() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        PoolConfig cfg = PoolConfig.small(16L << 20);
        cfg.clock = now::get;
        try (Pool pool = Pool.create(tmp.resolve("p"), cfg)) {
            Volume v = pool.createVolume("v", 8L << 20);
            assertNull(Await.outcome(v.write(0, ByteBuffer.wrap(Blocks.text(new Random(1))), false), "write"));
            Await.until(() -> pool.stats().get("compressed_fragments_in_packer") == 1, Await.SECONDS, () -> "the fragment reaches a bin: " + pool.stats());
            // an observation window, not an ordering: the timeout task runs every 5 ms, 40 times here
            Thread.sleep(200);
            assertEquals(1L, pool.stats().get("compressed_fragments_in_packer"), "the clock stood still: the bin waits");
            now.addAndGet(1_000_000_000L);
            Await.until(() -> pool.stats().get("compressed_fragments_in_packer") == 0, Await.SECONDS,
                    () -> "the clock moved 1 s past the 20 ms timeout: the bin is written; " + pool.stats());
        }
    }
}
