package org.jvdo.qat;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import org.jvdo.core.compress.CompressionEngine;
import org.jvdo.core.compress.CompressionTask;
import org.jvdo.core.compress.CompressionWorkers;
import org.jvdo.core.compress.FragmentCodec;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Logger;

/**
 * QAT compression through QATzip as an asynchronous {@link CompressionEngine}.
 *
 * <p><b>Threads and sessions.</b> A fixed set of worker threads, each owning one
 * {@link QatSession} opened on that thread (QATzip sessions are per thread, like zram's per-CPU
 * streams), takes requests from one bounded queue ({@link CompressionWorkers}), makes the
 * blocking QATzip call and calls the task back on the worker thread.
 *
 * <p><b>Back-pressure.</b> {@link #submit} never waits for QAT. The queue holds
 * {@link QatOptions#queueCapacity()} requests, by default twice the pool's vio pool: every
 * request in flight holds one of the pool's data vios, so the pool's own back-pressure keeps the
 * queue from filling. Should it be full anyway (another user of the engine, a smaller queue
 * setting), the request is compressed with lz4-java on the submitting thread at once, answered
 * through the same callback and counted in {@code fallbacks} and {@code queue_full}: the caller
 * pays one software compression (~10 us), never an unbounded wait.
 *
 * <p><b>Results.</b> QZ_OK: the fragment in {@link QatOptions#encoding()} (LZ4 frame or raw
 * deflate); output of 4096 bytes or more, or that did not fit the bounded destination buffer
 * (QZ_BUF_ERROR), is reported incompressible (size 0, stored raw). Codes meaning "hardware not
 * there or busy" ({@link QzStatus.Outcome#FALLBACK}) make the worker compress the block with
 * lz4-java instead (encoding 0), counted in {@code fallbacks}; error codes fail the task with the
 * code's name (stored raw, counted in {@code errors}). Every code seen is counted as
 * {@code rc_<QZ_NAME>}.
 */
public final class QatEngine implements CompressionEngine {
    private static final Logger LOG = Logger.getLogger("org.jvdo.qat");
    private static final QzStatus[] STATUSES = QzStatus.values();

    private final QatOptions opt;
    private final Qatzip lib;
    private final int encoding;
    private final CompressionWorkers workers;
    private final LZ4Compressor software = LZ4Factory.fastestInstance().fastCompressor();
    private final LongAdder requests = new LongAdder();
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder fallbacks = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder incompressible = new LongAdder();
    private final LongAdder softwareExecuted = new LongAdder();
    private final LongAdder queueFull = new LongAdder();
    private final AtomicLongArray codes = new AtomicLongArray(STATUSES.length);
    private final boolean[] logged = new boolean[STATUSES.length];

    /**
     * Starts the workers and opens their sessions; fails (closing what it opened) if no session
     * can be opened, with the first failure as the reason.
     */
    public QatEngine(Qatzip lib, QatOptions opt) {
        this.lib = lib;
        this.opt = opt;
        this.encoding = opt.encoding();
        this.workers = new CompressionWorkers(opt.queueCapacity(), LOG);
        CountDownLatch started = new CountDownLatch(opt.sessions());
        RuntimeException[] firstFailure = new RuntimeException[1];
        AtomicInteger opened = new AtomicInteger();
        for (int i = 0; i < opt.sessions(); i++) {
            workers.start("jvdo-qat-" + i, () -> {
                QatSession s;
                try {
                    s = QatSession.open(lib, opt);
                    opened.incrementAndGet();
                } catch (RuntimeException e) {
                    synchronized (firstFailure) { if (firstFailure[0] == null) firstFailure[0] = e; }
                    started.countDown();
                    return;
                }
                started.countDown();
                try {
                    workers.serve(t -> {
                        workers.dequeued();
                        process(s, t);
                    });
                } finally {
                    s.close();
                }
            });
        }
        try {
            started.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (opened.get() == 0) {
            close();
            RuntimeException f = firstFailure[0];
            throw f != null ? f : new IllegalStateException("no QAT session opened");
        }
        if (opened.get() < opt.sessions()) {
            LOG.warning("QAT engine: only " + opened.get() + " of " + opt.sessions() + " sessions opened: " + firstFailure[0].getMessage());
        }
    }

    @Override
    public String name() { return "qat"; }

    public QatOptions options() { return opt; }

    @Override
    public void submit(CompressionTask task) {
        if (workers.isClosed()) { workers.fail(task, new IllegalStateException("qat engine closed")); return; }
        if (workers.offer(task)) return;
        queueFull.increment();
        fallback(task);
    }

    private void process(QatSession s, CompressionTask t) {
        int rc;
        try {
            rc = s.compress(t.source());
        } catch (RuntimeException | LinkageError e) {
            errors.increment();
            workers.fail(t, e);
            return;
        }
        QzStatus st = QzStatus.of(rc);
        codes.incrementAndGet(st.ordinal());
        switch (st.outcome) {
            case OK -> {
                requests.increment();
                bytesIn.add(QatSession.BLOCK);
                if (s.ranInSoftware()) softwareExecuted.increment();
                int n = s.outputLength();
                byte[] out = t.target();
                if (n <= 0 || n >= QatSession.BLOCK || n > out.length) {
                    incompressible.increment();
                    bytesOut.add(QatSession.BLOCK);
                    workers.complete(t, 0, encoding);
                } else {
                    s.copyOutput(out, n);
                    bytesOut.add(n);
                    workers.complete(t, n, encoding);
                }
            }
            case INCOMPRESSIBLE -> {
                requests.increment();
                bytesIn.add(QatSession.BLOCK);
                bytesOut.add(QatSession.BLOCK);
                incompressible.increment();
                workers.complete(t, 0, encoding);
            }
            case FALLBACK -> {
                logOnce(st, rc);
                fallback(t);
            }
            case ERROR -> {
                logOnce(st, rc);
                errors.increment();
                workers.fail(t, new QatException("qzCompressExt", rc));
            }
        }
    }

    /** lz4-java instead of QAT for one request (encoding 0), on the calling thread. */
    private void fallback(CompressionTask t) {
        fallbacks.increment();
        int n;
        try {
            byte[] out = t.target();
            n = software.compress(t.source(), 0, QatSession.BLOCK, out, 0, out.length);
        } catch (RuntimeException e) {
            errors.increment();
            workers.fail(t, e);
            return;
        }
        workers.complete(t, n < QatSession.BLOCK ? n : 0, FragmentCodec.LZ4_BLOCK);
    }

    private void logOnce(QzStatus st, int rc) {
        if (logged[st.ordinal()]) return;
        logged[st.ordinal()] = true;
        LOG.warning("QAT engine: qzCompressExt returned " + QzStatus.describe(rc)
                + (st.outcome == QzStatus.Outcome.FALLBACK ? "; using lz4 for such requests" : "; storing such blocks raw")
                + " (logged once per code; see engine_qat_rc_* statistics)");
    }

    @Override
    public int queued() { return workers.queued(); }

    /** Sessions (= worker threads) serving requests. */
    public int sessions() {
        return workers.alive();
    }

    @Override
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("requests", requests.sum());
        m.put("bytes_in", bytesIn.sum());
        m.put("bytes_out", bytesOut.sum());
        m.put("fallbacks", fallbacks.sum());
        m.put("errors", errors.sum());
        m.put("incompressible", incompressible.sum());
        m.put("software_executed", softwareExecuted.sum());
        m.put("queue_full", queueFull.sum());
        m.put("queued", (long) workers.queued());
        m.put("sessions", (long) sessions());
        for (int i = 0; i < STATUSES.length; i++) {
            long c = codes.get(i);
            if (c > 0 && STATUSES[i] != QzStatus.QZ_OK) m.put("rc_" + STATUSES[i].name(), c);
        }
        return m;
    }

    @Override
    public void close() {
        workers.close(); // requests still queued are answered first (the workers drain in order)
    }
}
