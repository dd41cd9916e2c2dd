package org.jvdo.core;

import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.api.PoolConfig;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LatencyHistogramTest {
    @TempDir Path dir;

    @Test
    void bucketsAreInclusiveUpperBoundsAndCumulative() {
        assertEquals(0, LatencyHistogram.bucketOf(0));
        assertEquals(0, LatencyHistogram.bucketOf(1024));
        assertEquals(1, LatencyHistogram.bucketOf(1025));
        assertEquals(1, LatencyHistogram.bucketOf(2048));
        assertEquals(2, LatencyHistogram.bucketOf(2049));
        assertEquals(LatencyHistogram.BUCKETS, LatencyHistogram.bucketOf(Long.MAX_VALUE));
        for (int i = 0; i < LatencyHistogram.BUCKETS; i++) {
            assertEquals(i, LatencyHistogram.bucketOf(LatencyHistogram.boundNanos(i)));
        }
        LatencyHistogram h = new LatencyHistogram();
        h.record(500);
        h.record(1500);
        h.record(1500);
        h.record(Long.MAX_VALUE / 2);
        h.record(-5);
        LatencyHistogram.Snapshot s = h.snapshot();
        assertEquals(5, s.count());
        assertEquals(2, s.cumulative()[0]);
        assertEquals(4, s.cumulative()[1]);
        assertEquals(4, s.cumulative()[LatencyHistogram.BUCKETS - 1]);
        assertEquals(500 + 3000 + Long.MAX_VALUE / 2, s.sumNanos());
    }

    @Test
    void writesRecordStageLatencies() throws Exception {
        try (Pool pool = Pool.create(dir, PoolConfig.small(32L << 20))) {
            Volume v = pool.createVolume("v", 1L << 20);
            byte[] text = "compressible text ".repeat(300).substring(0, 4096).getBytes();
            byte[] random = new byte[4096];
            new Random(1).nextBytes(random);
            v.write(0, ByteBuffer.wrap(text), false).get(10, TimeUnit.SECONDS);
            v.write(4096, ByteBuffer.wrap(random), false).get(10, TimeUnit.SECONDS);
            pool.quiesce(); // the next identical write then finds index advice and verifies it
            v.write(8192, ByteBuffer.wrap(random), false).get(10, TimeUnit.SECONDS); // dedupe: verify
            pool.quiesce();
            var l = pool.stageLatencies();
            assertEquals(3, l.get("ack").snapshot().count());
            assertTrue(l.get("hash").snapshot().count() >= 3);
            assertTrue(l.get("index").snapshot().count() >= 2);
            assertTrue(l.get("compress").snapshot().count() >= 2);
            assertTrue(l.get("journal").snapshot().count() >= 3);
            assertTrue(l.get("verify").snapshot().count() >= 1);
        }
    }
}
