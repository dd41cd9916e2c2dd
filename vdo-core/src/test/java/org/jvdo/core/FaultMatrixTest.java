package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.Mapping;

import org.jvdo.core.RegionFaultStore.Op;
import org.jvdo.core.RegionFaultStore.Region;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * An I/O error on every kind of storage call of every path: {read, write, sync} x {data blocks,
 * journal, block-map pages, super block, reference-count blocks} x {write path, read path,
 * flush, checkpoint/close, clean open, open with recovery}. Each case must give a clear error
 * (VdoException or IOException) to the requests it concerns, or put the pool in read-only mode;
 * never hang (every wait is bounded by 20 s); never serve wrong data: while the fault lasts and
 * after it is removed and the pool reopened, an acknowledged block reads its data (a block
 * whose write failed, or any block written since the last flush once the pool is read-only:
 * its old or new data) or fails with an error; a flushed block reads exactly its data after
 * the reopen. A case whose fault the path never reaches passes trivially and is reported.
 *
 * <p>Plus the failed read-modify-write: a sub-block write whose base read fails, more sub-block
 * writes to the block queued behind it, a FLUSH after them, then a read.
 */
class FaultMatrixTest {
    static final long BOUND_S = 20;
    static final int VOL_BLOCKS = 4600; // 9 block-map pages, 4 cached
    @TempDir Path tmp;

    enum Phase { WRITE_PATH, READ_PATH, FLUSH, CLOSE, OPEN_CLEAN, OPEN_RECOVERY }

    static final Map<String, String> OUTCOMES = new java.util.concurrent.ConcurrentSkipListMap<>();

    static Stream<Arguments> cases() {
        List<Arguments> l = new ArrayList<>();
        for (Phase p : Phase.values())
            for (Op o : Op.values())
                for (Region r : new Region[]{Region.DATA, Region.JOURNAL, Region.BLOCK_MAP, Region.SUPER_BLOCK, Region.REFCOUNT})
                    l.add(Arguments.of(p, o, r));
        return l.stream();
    }

    @AfterAll
    static void printMatrix() {
        System.out.println("FaultMatrixTest outcomes (" + OUTCOMES.size() + " cases):");
        OUTCOMES.forEach((k, v) -> System.out.println("  " + k + ": " + v));
    }

    @SkipRefcountInvariant(value = "a block-map read fault armed for close: the check's own block-map reads at close would take"
            + " it and the case would see it swallowed", cases = "READ error on BLOCK_MAP during CLOSE")
    @ParameterizedTest(name = "{1} error on {2} during {0}")
    @MethodSource("cases")
    void ioErrorGivesAClearErrorOrReadOnlyNeverHangsNeverWrongData(Phase phase, Op op, Region region) {
        String name = phase + "/" + op + "/" + region;
        Case c = new Case(tmp.resolve("pool"), phase, op, region);
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(100), c::run, () -> name + ": did not finish within 100 s (hang); log " + c.log);
        } catch (Throwable t) {
            OUTCOMES.put(name, "FAILED: " + t.getMessage());
            if (c.pool != null) try { c.pool.crash(); } catch (Exception ignored) { }
            throw t;
        }
        OUTCOMES.put(name, c.summary());
    }

    /** One cell of the matrix. */
    static final class Case {
        final Path dir;
        final Phase phase;
        final Op op;
        final Region region;
        final RegionFaultStore[] h = new RegionFaultStore[1];
        final PoolConfig cfg;
        final Random r = new Random(7);
        final List<String> log = new ArrayList<>();
        Pool pool;
        /** Flushed content per lbn (null entries: zeros). */
        final Map<Long, byte[]> durable = new ConcurrentSkipListMap<>();
        /** Written since the last flush: every value the lbn may hold (durable first). */
        final Map<Long, List<byte[]>> since = new LinkedHashMap<>();
        /** Newest acknowledged value per lbn. */
        final Map<Long, byte[]> acked = new LinkedHashMap<>();
        /** Lbns whose last write failed (not acknowledged). */
        final java.util.Set<Long> failedWrite = new java.util.HashSet<>();
        /** Values of writes that failed: never acknowledged, but they may have reached the block. */
        final Map<Long, List<byte[]>> maybe = new LinkedHashMap<>();
        /** After Pool.crash(): values acknowledged since the last flush may be lost. */
        boolean crashed;
        int requests, errors;
        long faults;
        String firstError;
        boolean readOnly;
        String closeOrOpenError;

        Case(Path dir, Phase phase, Op op, Region region) {
            this.dir = dir;
            this.phase = phase;
            this.op = op;
            this.region = region;
            cfg = PoolConfig.small(16L << 20);
            cfg.slabDataBlocks = 64;
            cfg.blockMapCachePages = 4;
            cfg.storeWrapper = s -> h[0] = new RegionFaultStore(s);
        }

        String ctx() { return phase + "/" + op + "/" + region; }

        String summary() {
            String s = faults == 0 ? "fault not reached" : faults + " faults: " + (errors > 0 ? errors + "/" + requests + " requests failed (" + firstError + ")" : "no request failed")
                    + (readOnly ? ", read-only" : "") + (closeOrOpenError != null ? ", " + closeOrOpenError : "");
            return s;
        }

        // ------------------------------------------------------------ model and I/O helpers

        byte[] value(long lbn) { byte[] v = acked.get(lbn); return v == null ? new byte[BS] : v; }

        void changed(long lbn, byte[] v, boolean ok) {
            since.computeIfAbsent(lbn, k -> { List<byte[]> l = new ArrayList<>(); l.add(value(k)); return l; }).add(v);
            if (ok) { acked.put(lbn, v); failedWrite.remove(lbn); }
            else { failedWrite.add(lbn); maybe.computeIfAbsent(lbn, k -> new ArrayList<>()).add(v); }
        }

        void flushed() {
            for (Map.Entry<Long, byte[]> e : acked.entrySet()) durable.put(e.getKey(), e.getValue());
            since.clear();
        }

        /** Waits at most 20 s; returns null on success, else the error (a hang fails the case). */
        Throwable await(CompletableFuture<?> f, String what) throws Exception {
            requests++;
            Throwable t = Await.outcome(f, BOUND_S, ctx() + ": " + what, () -> "faults " + h[0].faultLog + "; " + engineState(pool));
            if (t == null) return null;
            checkClear(t, what);
            errors++;
            if (firstError == null) firstError = what + ": " + t;
            return t;
        }

        void checkClear(Throwable t, String what) {
            if (t instanceof VdoException || t instanceof IOException || t instanceof UncheckedIOException) return;
            throw new AssertionError(ctx() + ": " + what + " failed with an unclear error " + t + " (expected VdoException/IOException)", t);
        }

        Throwable write(long lbn, byte[] v, boolean fua) throws Exception {
            Throwable t = await(pool.volume("v").write(lbn * BS, ByteBuffer.wrap(v), fua), "write of lbn " + lbn);
            changed(lbn, v, t == null);
            if (t == null && fua) { durable.put(lbn, v); since.remove(lbn); }
            return t;
        }

        Throwable partial(long lbn, int off, byte[] bytes) throws Exception {
            byte[] nv = value(lbn).clone();
            System.arraycopy(bytes, 0, nv, off, bytes.length);
            Throwable t = await(pool.volume("v").write(lbn * BS + off, ByteBuffer.wrap(bytes), false), "partial write of lbn " + lbn);
            changed(lbn, nv, t == null);
            return t;
        }

        Throwable flush() throws Exception {
            Throwable t = await(pool.flush(), "flush");
            if (t == null) flushed();
            return t;
        }

        byte[] text() { return Blocks.text(r); }

        byte[] random() { return Blocks.random(r); }

        /** Runs a blocking call with the bound; its exception is returned (a hang fails the case). */
        Throwable bounded(Callable<?> c, String what) throws Exception {
            CompletableFuture<Object> f = CompletableFuture.supplyAsync(() -> {
                try { return c.call(); } catch (Exception e) { throw new java.util.concurrent.CompletionException(e); }
            });
            try {
                f.get(90, TimeUnit.SECONDS);
                return null;
            } catch (TimeoutException e) {
                throw new AssertionError(ctx() + ": " + what + " did not return within 90 s (hang)");
            } catch (ExecutionException e) {
                Throwable t = e.getCause();
                if (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) t = t.getCause();
                return t;
            }
        }

        // ------------------------------------------------------------ the case

        void run() throws Exception {
            pool = Pool.create(dir, cfg);
            pool.createVolume("v", (long) VOL_BLOCKS * BS);
            setup();
            RegionFaultStore fs = h[0];
            switch (phase) {
                case WRITE_PATH -> {
                    fs.refresh(pool);
                    fs.arm(op, region);
                    writePathWorkload();
                }
                case READ_PATH -> {
                    fs.refresh(pool);
                    fs.arm(op, region);
                    for (long lbn : new ArrayList<>(acked.keySet())) readCheck(lbn, "read under fault");
                }
                case FLUSH -> {
                    unflushedWrites();
                    fs.refresh(pool);
                    fs.arm(op, region);
                    flush();
                    write(4000, random(), false);
                    flush();
                }
                case CLOSE -> {
                    unflushedWrites();
                    fs.refresh(pool);
                    fs.arm(op, region);
                    Throwable t = bounded(() -> { pool.close(); return null; }, "close");
                    if (t != null) { closeOrOpenError = "close: " + t; checkClear(t, "close"); }
                    faults = fs.faults.get();
                    readOnly = pool.isReadOnly();
                    pool = null;
                }
                case OPEN_CLEAN, OPEN_RECOVERY -> {
                    if (phase == Phase.OPEN_RECOVERY) { unflushedWrites(); pool.crash(); crashed = true; }
                    else { pool.close(); flushed(); }
                    pool = null;
                    PoolConfig armed = cfg.copy();
                    armed.storeWrapper = s -> {
                        RegionFaultStore x = new RegionFaultStore(s);
                        x.arm(op, region);
                        return h[0] = x;
                    };
                    Pool[] opened = new Pool[1];
                    Throwable t = bounded(() -> opened[0] = Pool.open(dir, armed), "open");
                    faults = h[0].faults.get();
                    if (t != null) {
                        closeOrOpenError = "open: " + t;
                        checkClear(t, "open");
                    } else {
                        pool = opened[0];
                        readOnly = pool.isReadOnly();
                        for (long lbn : new ArrayList<>(acked.keySet())) readCheck(lbn, "read after the faulty open");
                        // the opened pool keeps working or refuses clearly
                        write(4001, random(), true);
                        h[0].disarm();
                        Throwable c = bounded(() -> { pool.close(); return null; }, "close after the faulty open");
                        if (c != null) checkClear(c, "close after the faulty open");
                        pool = null;
                    }
                }
            }
            if (pool != null) {
                faults = fs.faults.get();
                readOnly = pool.isReadOnly();
                fs.disarm();
                // while this pool lives: acknowledged data or an error, never wrong data
                for (long lbn : new ArrayList<>(acked.keySet())) readCheck(lbn, "read after the fault was removed");
                for (long lbn : failedWrite) readCheck(lbn, "read of a block whose write failed");
                Throwable t = bounded(() -> { pool.close(); return null; }, "close after the fault was removed");
                if (t != null) checkClear(t, "close after the fault was removed");
                pool = null;
            }
            if (faults > 0 && errors == 0 && !readOnly && closeOrOpenError == null && !absorbable()) {
                throw new AssertionError(ctx() + ": " + faults + " injected faults but no request failed, the pool is not read-only and close/open "
                        + "reported nothing: the error was swallowed; faults " + h[0].faultLog);
            }
            reopenAndVerify();
        }

        /** A failing read that the engine may legitimately absorb: dedupe advice it cannot verify is not used. */
        boolean absorbable() {
            return op == Op.READ && region == Region.DATA && phase == Phase.WRITE_PATH
                    && h[0].faultLog.stream().allMatch(s -> s.contains("queryIndex"));
        }

        void setup() throws Exception {
            // grow the depot, then free it again: later writes need no slab addition
            byte[] big = new byte[200 * BS];
            r.nextBytes(big);
            await(pool.volume("v").write(3000L * BS, ByteBuffer.wrap(big), false), "setup fill");
            await(pool.volume("v").trim(3000L * BS, 200L * BS, false), "setup trim");
            // raw, packed (compressible), duplicate, zero blocks on several block-map pages
            byte[] dup = random();
            for (int i = 0; i < 9; i++) {
                long base = (long) i * BlockMap.ENTRIES_PER_PAGE + 3;
                if (base + 3 >= 3000) break;
                write(base, random(), false);
                write(base + 1, text(), false);
                write(base + 2, dup.clone(), false);
                write(base + 3, new byte[BS], false);
            }
            Throwable t = flush();
            if (t != null) throw new AssertionError(ctx() + ": setup flush failed: " + t);
            pool.quiesce();
        }

        void unflushedWrites() throws Exception {
            write(10, random(), false);
            write(11, text(), false);
            write(520, random(), false);
            partial(3, 100, new byte[]{1, 2, 3, 4});
        }

        void writePathWorkload() throws Exception {
            write(20, random(), false);                       // raw, new block, cached page
            write(21, text(), false);                         // packed
            write(22, value(5).clone(), false);               // duplicate (dedupe verify reads the data)
            write(1023, random(), false);                     // other page: map page miss / eviction
            write(2560, text(), false);
            write(2050, random(), false);
            partial(4 + BlockMap.ENTRIES_PER_PAGE, 10, new byte[]{9, 9, 9});  // read-modify-write of a packed block
            partial(3, 4000, new byte[]{7, 7});              // read-modify-write of a raw block
            // more new blocks than the depot has free: a slab addition writes the super block
            byte[] burst = new byte[260 * BS];
            r.nextBytes(burst);
            Throwable bt = await(pool.volume("v").write(3300L * BS, ByteBuffer.wrap(burst), false), "burst write");
            for (int i = 0; i < 260; i += 37) changed(3300 + i, Arrays.copyOfRange(burst, i * BS, (i + 1) * BS), bt == null);
            write(30, random(), true);                        // FUA: journal commit and sync
            write(2600, random(), true);
            await(pool.volume("v").trim(40L * BS, 2L * BS, false), "trim");
            flush();
        }

        void readCheck(long lbn, String what) throws Exception {
            ByteBuffer b = ByteBuffer.allocate(BS);
            Throwable t = await(pool.volume("v").read(lbn * BS, b), what + " of lbn " + lbn);
            if (t != null) return; // an error is allowed; wrong data is not
            byte[] got = b.array();
            if (Arrays.equals(got, value(lbn))) return;
            for (byte[] x : maybe.getOrDefault(lbn, List.of())) if (Arrays.equals(x, got)) return;
            List<byte[]> l = since.get(lbn);
            boolean lenient = pool.isReadOnly() || failedWrite.contains(lbn) || crashed;
            if (lenient && l != null) for (byte[] x : l) if (Arrays.equals(x, got)) return;
            throw new AssertionError(ctx() + ": " + what + " of lbn " + lbn + " returned " + Blocks.describe(got, 0) + ", acknowledged "
                    + Blocks.describe(value(lbn), 0) + (lenient ? " (or one of its unflushed values)" : "") + "; faults " + h[0].faultLog);
        }

        void reopenAndVerify() throws Exception {
            Pool[] p = new Pool[1];
            Throwable t = bounded(() -> p[0] = Pool.open(dir, PoolConfig.small(16L << 20)), "reopen without faults");
            if (t != null) throw new AssertionError(ctx() + ": the pool does not open after the fault was removed: " + t + "; faults " + h[0].faultLog
                    + (closeOrOpenError != null ? "; " + closeOrOpenError : ""), t);
            pool = p[0];
            try {
                for (long lbn : new java.util.TreeSet<>(acked.keySet())) {
                    ByteBuffer b = ByteBuffer.allocate(BS);
                    Throwable e = await(pool.volume("v").read(lbn * BS, b), "read after reopen of lbn " + lbn);
                    if (e != null) throw new AssertionError(ctx() + ": lbn " + lbn + " unreadable after the fault was removed and the pool reopened: " + e);
                    byte[] got = b.array();
                    List<byte[]> l = since.get(lbn);
                    boolean ok = l == null ? Arrays.equals(got, durable.getOrDefault(lbn, new byte[BS])) : l.stream().anyMatch(x -> Arrays.equals(x, got));
                    ok |= maybe.getOrDefault(lbn, List.of()).stream().anyMatch(x -> Arrays.equals(x, got));
                    if (!ok) {
                        throw new AssertionError(ctx() + ": after reopen lbn " + lbn + " reads " + Blocks.describe(got, 0) + ", "
                                + (l == null ? "flushed as " + Blocks.describe(durable.getOrDefault(lbn, new byte[BS]), 0) : "not any value written since the last flush")
                                + "; open report " + pool.openReport() + "; faults " + h[0].faultLog);
                    }
                }
                List<String> problems = pool.verifyReferenceCounts();
                if (!problems.isEmpty()) throw new AssertionError(ctx() + ": reference counts after reopen: " + problems);
            } finally {
                Pool q = pool;
                pool = null;
                bounded(() -> { q.close(); return null; }, "final close");
            }
        }
    }

    /** For hang messages: the engine's queues and its threads' stacks. */
    static String engineState(Pool p) {
        if (p == null) return "no pool";
        StringBuilder sb = new StringBuilder("in flight: " + String.join("\n  ", p.inFlight()) + "\nread-only " + p.readOnlyReason() + "; threads:\n");
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            String n = e.getKey().getName();
            if (!n.startsWith("jvdo") && !n.toLowerCase().contains("lz4")) continue;
            sb.append(n).append(' ').append(e.getKey().getState()).append('\n');
            StackTraceElement[] st = e.getValue();
            for (int i = 0; i < Math.min(st.length, 12); i++) sb.append("    ").append(st[i]).append('\n');
        }
        return sb.toString();
    }

    /**
     * A sub-block write whose base read fails, two more sub-block writes to the block queued
     * behind it, a FLUSH after them, then a read of the block: every request completes (success
     * or error) within 20 s and the read does not hang.
     */
    @Test
    void failedReadModifyWriteCompletesEveryQueuedRequest() throws Exception {
        RegionFaultStore[] h = new RegionFaultStore[1];
        PoolConfig cfg = PoolConfig.small(16L << 20);
        cfg.storeWrapper = s -> h[0] = new RegionFaultStore(s);
        Pool pool = Pool.create(tmp.resolve("rmw"), cfg);
        List<String> problems = new ArrayList<>();
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(90), () -> {
                Volume v = pool.createVolume("v", 8L << 20);
                byte[] base = Blocks.random(new Random(3));
                v.write(5 * BS, ByteBuffer.wrap(base), false).get(BOUND_S, TimeUnit.SECONDS);
                v.flush().get(BOUND_S, TimeUnit.SECONDS);
                long pbn = Mapping.pbn(v.blockMap().get(5));
                RegionFaultStore fs = h[0];
                fs.refresh(pool);
                CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);
                fs.readEntered = entered;
                fs.releaseRead = release;
                fs.arm(Op.READ, Region.DATA);
                fs.failBlocks = b -> b == pbn;
                CompletableFuture<Void> p1 = v.write(5 * BS + 10, ByteBuffer.wrap(new byte[]{1, 1, 1}), false);
                if (!entered.await(BOUND_S, TimeUnit.SECONDS)) throw new AssertionError("the read-modify-write never read its base block");
                CompletableFuture<Void> p2 = v.write(5 * BS + 100, ByteBuffer.wrap(new byte[]{2, 2}), false);
                CompletableFuture<Void> p3 = v.write(5 * BS + 2000, ByteBuffer.wrap(new byte[]{3}), false);
                CompletableFuture<Void> fl = v.flush();
                release.countDown(); // the base read now fails
                // and a read of the block, at once: every one of them shares one 20 s bound
                CompletableFuture<Void> rd = v.read(5 * BS, ByteBuffer.allocate(BS));
                Map<String, CompletableFuture<Void>> all = new LinkedHashMap<>();
                all.put("first partial write (base read fails)", p1);
                all.put("second partial write (queued)", p2);
                all.put("third partial write (queued)", p3);
                all.put("FLUSH after them", fl);
                all.put("read of the block", rd);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
                for (Map.Entry<String, CompletableFuture<Void>> e : all.entrySet()) {
                    String res;
                    try {
                        e.getValue().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                        res = "ok";
                    } catch (TimeoutException t) {
                        res = "NOT COMPLETED within " + BOUND_S + " s";
                        problems.add(e.getKey() + ": " + res);
                    } catch (ExecutionException t) {
                        res = "failed: " + t.getCause();
                    }
                    System.out.println("failedReadModifyWrite: " + e.getKey() + ": " + res);
                }
                // a read still waiting is ended by the crash below (its I/O thread is interrupted)
            });
        } finally {
            pool.crash();
        }
        if (!problems.isEmpty()) fail("failed read-modify-write: " + problems);
    }
}
