package org.jvdo.qat;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.compress.CompressionEngineProvider;
import org.jvdo.core.compress.CompressionTask;
import org.jvdo.core.compress.FragmentCodec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The engine and sessions over the QATzip test double. */
class QatEngineTest {
    static FakeQat.Control c;

    @BeforeEach
    void reset() throws Exception {
        c = FakeQat.control();
        c.fakeqz_reset();
    }

    static byte[] text(long seed) {
        byte[] b = new byte[4096];
        Random r = new Random(seed);
        String w = "compress the block and keep the fragment in the packer until the bin is full ";
        int shift = 0;
        for (int i = 0; i < b.length; i++) {
            if (i % 64 == 0) shift = r.nextInt(w.length());
            b[i] = (byte) w.charAt((i + shift) % w.length());
        }
        return b;
    }

    /** A task whose result is a future: size (0 = incompressible) and encoding, or the failure. */
    static final class Task implements CompressionTask {
        final byte[] src, dst = new byte[FragmentCodec.MAX_OUTPUT];
        final CompletableFuture<int[]> done = new CompletableFuture<>();
        volatile Thread callbackThread;

        Task(byte[] src) { this.src = src; }
        public byte[] source() { return src; }
        public byte[] target() { return dst; }
        public void compressed(int size, int encoding) { callbackThread = Thread.currentThread(); done.complete(new int[]{size, encoding}); }
        public void failed(Throwable error) { callbackThread = Thread.currentThread(); done.completeExceptionally(error); }

        int[] result() throws Exception { return done.get(10, TimeUnit.SECONDS); }

        /** Decodes the fragment with vdo-core's pure-Java codec and compares it with the input. */
        void assertRoundTrip() throws Exception {
            int[] r = result();
            assertTrue(r[0] > 0, "expected a compressed fragment");
            byte[] back = new byte[4096];
            FragmentCodec.decompress(r[1], dst, 0, r[0], back, "test");
            assertArrayEquals(src, back);
        }
    }

    static QatOptions opts(String algorithm, int sessions, int queue, int swBackup) throws Exception {
        return new QatOptions(FakeQat.library().toString(), algorithm, 1, sessions, queue, swBackup);
    }

    @ParameterizedTest
    @ValueSource(strings = {"lz4", "deflate"})
    void compressesInTheRecordedEncodingAndDecodesInJava(String algorithm) throws Exception {
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts(algorithm, 2, 256, 0))) {
            Task[] ts = new Task[200];
            for (int i = 0; i < ts.length; i++) { ts[i] = new Task(text(i)); e.submit(ts[i]); }
            for (Task t : ts) {
                t.assertRoundTrip();
                assertEquals(algorithm.equals("lz4") ? FragmentCodec.LZ4_FRAME : FragmentCodec.DEFLATE, t.result()[1], e.stats().toString());
                assertTrue(t.callbackThread.getName().startsWith("jvdo-qat-"), t.callbackThread.getName());
            }
            var s = e.stats();
            assertEquals(200, s.get("requests"));
            assertEquals(200 * 4096L, s.get("bytes_in"));
            assertTrue(s.get("bytes_out") < 200 * 4096L / 2, s.toString());
            assertEquals(0, s.get("fallbacks"));
            assertEquals(2, s.get("sessions"));
            assertEquals(200, c.fakeqz_calls("qzCompress"));
        }
        assertEquals(2, c.fakeqz_calls("qzClose"), "each worker closes its session");
    }

    @Test
    void randomDataIsIncompressible() throws Exception {
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts("lz4", 1, 16, 0))) {
            byte[] rnd = new byte[4096];
            new Random(7).nextBytes(rnd);
            Task t = new Task(rnd);
            e.submit(t);
            assertEquals(0, t.result()[0]);
            assertEquals(1, e.stats().get("incompressible"));
        }
    }

    @Test
    void fallbackCodesUseLz4AndAreCounted() throws Exception {
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts("deflate", 1, 16, 0))) {
            assertEquals(0, c.fakeqz_inject("qzCompress", QzStatus.QZ_NOSW_NO_HW.code, 3));
            assertEquals(0, c.fakeqz_inject("qzCompress", QzStatus.QZ_TIMEOUT.code, 2));
            Task[] ts = new Task[8];
            for (int i = 0; i < ts.length; i++) { ts[i] = new Task(text(100 + i)); e.submit(ts[i]); }
            int lz4 = 0;
            for (Task t : ts) {
                t.assertRoundTrip();
                if (t.result()[1] == FragmentCodec.LZ4_BLOCK) lz4++;
            }
            assertEquals(5, lz4);
            var s = e.stats();
            assertEquals(5, s.get("fallbacks"));
            assertEquals(3, s.get("rc_QZ_NOSW_NO_HW"));
            assertEquals(2, s.get("rc_QZ_TIMEOUT"));
            assertEquals(3, s.get("requests"));
            assertEquals(0, s.get("errors"));
        }
    }

    @Test
    void errorCodesFailTheTaskWithTheCodeName() throws Exception {
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts("lz4", 1, 16, 0))) {
            c.fakeqz_inject("qzCompress", QzStatus.QZ_DATA_ERROR.code, 1);
            c.fakeqz_inject("qzCompress", -77, 1);
            Task a = new Task(text(1)), b = new Task(text(2)), ok = new Task(text(3));
            e.submit(a);
            e.submit(b);
            e.submit(ok);
            Exception x = assertThrows(Exception.class, a::result);
            assertTrue(x.getCause() instanceof QatException && x.getCause().getMessage().contains("QZ_DATA_ERROR (-4"), x.toString());
            Exception y = assertThrows(Exception.class, b::result);
            assertTrue(y.getCause().getMessage().contains("QZ code -77"), y.toString());
            ok.assertRoundTrip();
            assertEquals(2, e.stats().get("errors"));
            assertEquals(1, e.stats().get("rc_UNKNOWN"));
        }
    }

    @Test
    void bufErrorIsIncompressible() throws Exception {
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts("lz4", 1, 16, 0))) {
            c.fakeqz_inject("qzCompress", QzStatus.QZ_BUF_ERROR.code, 1);
            Task t = new Task(text(5));
            e.submit(t);
            assertArrayEquals(new int[]{0, FragmentCodec.LZ4_FRAME}, t.result());
            assertEquals(1, e.stats().get("incompressible"));
        }
    }

    @Test
    void fullQueuePushesBackWithInlineLz4NeverWaitingForQat() throws Exception {
        c.fakeqz_set_delay_us(200_000); // every QAT call takes 200 ms: waiting for QAT would cost 20 submits >= 3.4 s
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts("lz4", 1, 2, 0))) {
            Task[] ts = new Task[20];
            long t0 = System.nanoTime();
            for (int i = 0; i < ts.length; i++) { ts[i] = new Task(text(200 + i)); e.submit(ts[i]); }
            long submitMillis = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(submitMillis < 1500, "20 submits took " + submitMillis + " ms: submit waited for QAT");
            for (Task t : ts) t.assertRoundTrip();
            var s = e.stats();
            assertTrue(s.get("queue_full") >= 10, s.toString());
            assertEquals(s.get("queue_full"), s.get("fallbacks"));
            assertEquals(20, s.get("requests") + s.get("fallbacks"));
        }
    }

    @Test
    void qatzipSoftwareBackupIsUsedAndReported() throws Exception {
        c.fakeqz_set_hardware(0);
        QatException x = assertThrows(QatException.class, () -> QatSession.open(FakeQat.qatzip(), opts("lz4", 1, 4, 0)));
        assertEquals(QzStatus.QZ_NOSW_NO_HW, x.status());
        try (QatEngine e = new QatEngine(FakeQat.qatzip(), opts("lz4", 1, 4, QzStructs.SW_BACKUP))) {
            Task t = new Task(text(9));
            e.submit(t);
            t.assertRoundTrip();
            assertEquals(1, e.stats().get("software_executed"));
        }
    }

    @Test
    void sessionDecompressesWhatItCompressed() throws Exception {
        for (String alg : new String[]{"lz4", "deflate"}) {
            try (QatSession s = QatSession.open(FakeQat.qatzip(), opts(alg, 1, 1, 0))) {
                byte[] in = text(11);
                assertEquals(0, s.compress(in));
                int n = s.outputLength();
                byte[] frag = new byte[n];
                s.copyOutput(frag, n);
                byte[] out = new byte[4096];
                assertEquals(0, s.decompress(frag, 0, n, out));
                assertEquals(4096, s.outputLength());
                assertArrayEquals(in, out);
                frag[n / 2] ^= 0x55;
                int rc = s.decompress(frag, 0, n, out);
                if (rc == 0) assertArrayEquals(in, out, alg + ": damaged input decoded to other data without an error");
            }
        }
    }

    @Test
    void providerReportsWhyItIsUnavailable() throws Exception {
        QatEngineProvider p = new QatEngineProvider();
        PoolConfig cfg = new PoolConfig();
        cfg.engineOptions.put("qat.library", FakeQat.library().toString());
        assertTrue(p.availability(cfg).available());
        c.fakeqz_set_hardware(0);
        CompressionEngineProvider.Availability a = p.availability(cfg);
        assertFalse(a.available());
        assertTrue(a.reason().startsWith("QZ_NOSW_NO_HW"), a.reason());
        cfg.engineOptions.put("qat.library", "/nonexistent/libqatzip.so.3");
        assertEquals("/nonexistent/libqatzip.so.3 not found", p.availability(cfg).reason());
        cfg.engineOptions.put("qat.library", "libqatzip-missing.so.3");
        assertTrue(p.availability(cfg).reason().startsWith("libqatzip-missing.so.3 not found"), p.availability(cfg).reason());
        cfg.engineOptions.put("qat.algorithm", "zstd");
        assertTrue(p.availability(cfg).reason().contains("lz4 or deflate"));
    }
}
