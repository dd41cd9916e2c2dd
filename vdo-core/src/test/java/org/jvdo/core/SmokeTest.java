package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class SmokeTest {
    @TempDir Path dir;

    static byte[] text(int seed) {
        byte[] b = new byte[4096];
        Random r = new Random(seed);
        String words = "the quick brown fox jumps over the lazy dog and keeps running ";
        for (int i = 0; i < b.length; i++) b[i] = (byte) words.charAt((i + r.nextInt(3)) % words.length());
        return b;
    }

    @Test
    void writeReadReopen() throws Exception {
        byte[] a = text(1), c = text(2);
        byte[] rnd = new byte[4096];
        new Random(5).nextBytes(rnd);
        try (Pool p = Pool.create(dir, PoolConfig.small(64L << 20))) {
            Volume v = p.createVolume("vol", 16L << 20);
            v.write(0, ByteBuffer.wrap(a), false).get();
            v.write(4096, ByteBuffer.wrap(a), false).get();
            v.write(8192, ByteBuffer.wrap(c), false).get();
            v.write(12288, ByteBuffer.wrap(rnd), false).get();
            v.write(16384, ByteBuffer.wrap(new byte[4096]), false).get();
            v.flush().get();
            ByteBuffer out = ByteBuffer.allocate(5 * 4096);
            v.read(0, out).get();
            assertArrayEquals(a, Arrays.copyOfRange(out.array(), 0, 4096));
            assertArrayEquals(a, Arrays.copyOfRange(out.array(), 4096, 8192));
            assertArrayEquals(c, Arrays.copyOfRange(out.array(), 8192, 12288));
            assertArrayEquals(rnd, Arrays.copyOfRange(out.array(), 12288, 16384));
            Map<String, Long> s = p.stats();
            System.out.println(s);
            assertEquals(5, s.get("logical_blocks_used"));
            assertEquals(1, s.get("same_pages"));
            assertEquals(1, s.get("dedupe_advice_valid") + s.get("concurrent_data_matches"));
            assertTrue(p.verifyReferenceCounts().isEmpty(), p.verifyReferenceCounts().toString());
        }
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            Volume v = p.volume("vol");
            ByteBuffer out = ByteBuffer.allocate(4 * 4096);
            v.read(0, out).get();
            assertArrayEquals(a, Arrays.copyOfRange(out.array(), 0, 4096));
            assertArrayEquals(c, Arrays.copyOfRange(out.array(), 8192, 12288));
            assertArrayEquals(rnd, Arrays.copyOfRange(out.array(), 12288, 16384));
            v.write(100, ByteBuffer.wrap(new byte[]{1, 2, 3}), false).get();
            ByteBuffer one = ByteBuffer.allocate(10);
            v.read(98, one).get();
            assertArrayEquals(new byte[]{a[98], a[99], 1, 2, 3, a[103], a[104], a[105], a[106], a[107]}, one.array());
            v.flush().get();
            p.crash();
        }
        try (Pool p = Pool.open(dir, PoolConfig.small(64L << 20))) {
            System.out.println(p.openReport());
            Volume v = p.volume("vol");
            ByteBuffer one = ByteBuffer.allocate(10);
            v.read(98, one).get();
            assertArrayEquals(new byte[]{a[98], a[99], 1, 2, 3, a[103], a[104], a[105], a[106], a[107]}, one.array());
            assertTrue(p.verifyReferenceCounts().isEmpty());
        }
    }
}
