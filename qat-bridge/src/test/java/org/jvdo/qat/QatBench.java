package org.jvdo.qat;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

import java.util.concurrent.CountDownLatch;

/**
 * A simple measurement (not a test, not JMH): per 4 KiB block, lz4-java vs a QATzip session over
 * the test double (jnr-ffi call + liblz4 frame / zlib work), and the engine's queue overhead
 * (submit -> callback, one request in flight) on top of the direct session call.
 * Run: see the qat-bridge report (java -cp target/test-classes:target/classes:deps org.jvdo.qat.QatBench).
 */
public final class QatBench {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
        byte[][] blocks = new byte[64][];
        for (int i = 0; i < blocks.length; i++) blocks[i] = QatEngineTest.text(i);
        byte[] out = new byte[8192];
        LZ4Compressor lz4 = LZ4Factory.fastestInstance().fastCompressor();
        for (int round = 0; round < 2; round++) {
            long t0 = System.nanoTime(), bytes = 0;
            for (int i = 0; i < n; i++) bytes += lz4.compress(blocks[i & 63], 0, 4096, out, 0, out.length);
            report(round, "lz4-java block", t0, n, bytes);
            for (String alg : new String[]{"lz4", "deflate"}) {
                QatOptions opt = new QatOptions(FakeQat.library().toString(), alg, 1, 1, 4096, 0);
                try (QatSession s = QatSession.open(FakeQat.qatzip(), opt)) {
                    t0 = System.nanoTime();
                    bytes = 0;
                    for (int i = 0; i < n; i++) {
                        if (s.compress(blocks[i & 63]) != 0) throw new IllegalStateException();
                        bytes += s.outputLength();
                        s.copyOutput(out, s.outputLength());
                    }
                    report(round, "QatSession " + alg + " (direct)", t0, n, bytes);
                }
                try (QatEngine e = new QatEngine(FakeQat.qatzip(), opt)) {
                    QatEngineTest.Task[] ts = new QatEngineTest.Task[1];
                    t0 = System.nanoTime();
                    for (int i = 0; i < n; i++) {
                        QatEngineTest.Task t = new QatEngineTest.Task(blocks[i & 63]);
                        e.submit(t);
                        t.result();
                        ts[0] = t;
                    }
                    report(round, "QatEngine " + alg + " submit->callback, 1 in flight", t0, n, 0);
                }
                QatOptions two = new QatOptions(opt.library(), alg, 1, 2, 4096, 0);
                try (QatEngine e = new QatEngine(FakeQat.qatzip(), two)) {
                    t0 = System.nanoTime();
                    int batch = 1024;
                    for (int i = 0; i < n; i += batch) {
                        CountDownLatch l = new CountDownLatch(batch);
                        for (int j = 0; j < batch; j++) e.submit(new Counting(blocks[j & 63], out, l));
                        l.await();
                    }
                    report(round, "QatEngine " + alg + " 2 sessions, 1024 in flight", t0, n, 0);
                }
            }
        }
    }

    private record Counting(byte[] src, byte[] dst, CountDownLatch l) implements org.jvdo.core.compress.CompressionTask {
        public byte[] source() { return src; }
        public byte[] target() { return new byte[org.jvdo.core.compress.FragmentCodec.MAX_OUTPUT]; }
        public void compressed(int size, int encoding) { l.countDown(); }
        public void failed(Throwable error) { l.countDown(); }
    }

    private static void report(int round, String what, long t0, int n, long bytes) {
        double ns = (System.nanoTime() - t0) / (double) n;
        if (round == 0) return; // warm-up
        System.out.printf("%-50s %8.0f ns/block %7.0f MB/s%s%n", what, ns, 4096 / ns * 1000,
                bytes > 0 ? String.format("  ratio %.2f", bytes / (4096.0 * n)) : "");
    }
}
