package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.CMD_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.api.BlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Pooled WRITE payload arrays must never be reused while a device may still read them: the
 * device here reads a write's buffer only when the test completes the write (BlockDevice#write
 * allows that), and later writes must not have overwritten it by then.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PayloadPoolTest {
    /** Holds writes at the offsets in {@link #held}; copies a write's bytes only when it completes. */
    static final class LateCopyDevice implements BlockDevice {
        final BlockDevice inner;
        final ConcurrentHashMap<Long, CompletableFuture<Void>> held = new ConcurrentHashMap<>();

        LateCopyDevice(BlockDevice inner) { this.inner = inner; }

        @Override public String name() { return inner.name(); }
        @Override public long size() { return inner.size(); }
        @Override public boolean readOnly() { return false; }
        @Override public CompletableFuture<Void> read(long offset, ByteBuffer dst) { return inner.read(offset, dst); }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
            CompletableFuture<Void> gate = held.get(offset);
            if (gate == null) return inner.write(offset, src, fua);
            return gate.thenCompose(x -> inner.write(offset, src, fua));
        }

        @Override public CompletableFuture<Void> flush() { return inner.flush(); }
        @Override public CompletableFuture<Void> trim(long o, long l, boolean fua) { return inner.trim(o, l, fua); }
        @Override public CompletableFuture<Void> writeZeroes(long o, long l, boolean nh, boolean fua) { return inner.writeZeroes(o, l, nh, fua); }
        @Override public List<Extent> blockStatus(long offset, long length) { return inner.blockStatus(offset, length); }
    }

    @Test
    void aHeldWritesBufferIsNotReusedByLaterWrites() throws IOException {
        LateCopyDevice dev = new LateCopyDevice(TestServers.device("main", 64L << 20));
        for (int size : new int[] {4096, 6000, 65536, 1 << 20}) {
            CompletableFuture<Void> gate = new CompletableFuture<>();
            long heldAt = 32L << 20;
            dev.held.clear();
            dev.held.put(heldAt, gate);
            TestServers.Handle server = TestServers.start(List.of(dev));
            try (RawClient c = RawClient.open(server.port())) {
                c.go("main");
                byte[] a = pattern(size, 'a');
                c.request(0, CMD_WRITE, 1, heldAt, size, a);      // held: its buffer is still the device's
                for (int i = 0; i < 8; i++) {                      // same size: would get A's array if it went back early
                    byte[] b = pattern(size, (char) ('b' + i));
                    assertEquals(0, c.write(100 + i, (long) i * 2 * size, b), "write " + i);
                }
                gate.complete(null);                               // now the device copies A's buffer
                RawClient.Simple r = c.simple();
                assertEquals(1, r.handle());
                assertEquals(0, r.error());
                assertArrayEquals(a, c.read(2, heldAt, size), size + "-byte write held while later writes ran came back changed");
                for (int i = 0; i < 8; i++) {
                    assertArrayEquals(pattern(size, (char) ('b' + i)), c.read(200 + i, (long) i * 2 * size, size), "write " + i);
                }
            } finally {
                server.close();
            }
        }
    }

    @Test
    void arraysComeBackInTheirSizeClassAndTheCapHolds() {
        PayloadPool p = new PayloadPool(1 << 20);
        byte[] x = p.take(5000);
        assertEquals(8192 + PayloadPool.SLACK, x.length);
        p.give(x);
        assertSame(x, p.take(8000));
        assertNotSame(x, p.take(8000));
        assertEquals((1 << 20) + PayloadPool.SLACK, p.take((1 << 20) + 28).length, "a 1 MiB read's frame (header + data) is one 1 MiB-class array");
        assertEquals(3 << 20, p.take(3 << 20).length, "beyond 1 MiB: an array of its own size");
        int quarter = (1 << 18) + PayloadPool.SLACK;
        for (int i = 0; i < 4; i++) p.give(new byte[quarter]);
        assertEquals(3L * quarter, p.pooledBytes(), "at most the cap is kept");
        p.give(new byte[1000]);
        p.give(new byte[1 << 18]);
        assertEquals(3L * quarter, p.pooledBytes(), "foreign sizes are ignored");
    }

    /**
     * READ frames are pooled too: an array goes back only once its reply is written. Many
     * pipelined reads of distinct contents, of sizes that share size classes, while the client
     * reads nothing (the replies pile up in the socket and the server's queue), must each come
     * back with exactly their bytes.
     */
    @Test
    void pipelinedReadsOfDistinctContentsComeBackExact() throws IOException {
        BlockDevice dev = TestServers.device("main", 64L << 20);
        TestServers.Handle server = TestServers.start(List.of(dev));
        try (RawClient c = RawClient.open(server.port())) {
            c.go("main");
            int chunk = 1 << 20;
            for (int i = 0; i < 32; i++) assertEquals(0, c.write(i, (long) i * chunk, pattern(chunk, (char) ('A' + i))), "write " + i);
            java.util.Random rnd = new java.util.Random(7);
            int n = 400;
            long[] offsets = new long[n];
            int[] lengths = new int[n];
            for (int i = 0; i < n; i++) {
                lengths[i] = (1 + rnd.nextInt(4)) * (1 << 18) - (rnd.nextBoolean() ? 0 : 4096);   // 252 KiB .. 1 MiB
                offsets[i] = (long) rnd.nextInt(32) * chunk + (long) rnd.nextInt(chunk - lengths[i] + 1) / 4096 * 4096;
                c.request(0, org.jvdo.nbd.NbdProtocol.CMD_READ, 1000 + i, offsets[i], lengths[i], null);
            }
            byte[] all = new byte[32 * chunk];
            for (int i = 0; i < 32; i++) System.arraycopy(pattern(chunk, (char) ('A' + i)), 0, all, i * chunk, chunk);
            for (int i = 0; i < n; i++) {
                RawClient.Simple r = c.simple();
                assertEquals(0, r.error(), "read " + r.handle());
                int k = (int) (r.handle() - 1000);
                byte[] got = c.readFully(lengths[k]);
                assertArrayEquals(java.util.Arrays.copyOfRange(all, (int) offsets[k], (int) offsets[k] + lengths[k]), got,
                        "read " + k + " (" + lengths[k] + " bytes at " + offsets[k] + ") came back with other bytes");
            }
        } finally {
            server.close();
        }
    }

    private static byte[] pattern(int size, char c) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) b[i] = (byte) (c + (i % 7));
        return b;
    }
}
