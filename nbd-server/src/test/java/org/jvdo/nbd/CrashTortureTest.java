package org.jvdo.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvdo.core.PoolCheck;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The promise under test: after a FLUSH (or a FUA write) is answered, that data survives any
 * crash. A writer drives {@code jvdo serve} over NBD and records exactly which writes were
 * acknowledged before which completed flush; the server is killed with SIGKILL at a random
 * moment, restarted, and every block is checked: flushed writes exactly; writes after the last
 * flush either old or new, never a mix within a block, never another block's data. Between
 * cycles {@code jvdo check} must find the pool consistent. Cycles: {@code -Djvdo.torture.cycles}
 * (default 20); seed: {@code -Djvdo.seed}.
 */
class CrashTortureTest {
    static final int BLOCKS = 1024;
    static final int SHARED = 6;   // contents written to many blocks: dedup across the volume

    @TempDir Path tmp;

    /** One write as issued: block, content id (0 = zeros/trim), and what became of it. */
    static final class Op {
        final int block;
        final long id;
        final boolean fua;
        volatile boolean acked;

        Op(int block, long id, boolean fua) { this.block = block; this.id = id; this.fua = fua; }
    }

    /** Content of a block: unique contents carry their id and block; shared ones are identical everywhere. */
    static byte[] content(long id, int block) {
        byte[] b = new byte[4096];
        if (id == 0) return b;
        Random r = new Random(id);
        if (id < 0) {                                    // shared content, same bytes on every block
            r.nextBytes(b);
            for (int i = 2048; i < 4096; i++) b[i] = (byte) (i % 7);
        } else if (id % 3 == 0) {
            r.nextBytes(b);                              // incompressible: stored raw
        } else {
            byte[] words = ("block " + block + " id " + id + " lorem ipsum dolor sit amet ").getBytes();
            for (int i = 0; i < 4096; i++) b[i] = words[(i + r.nextInt(2)) % words.length];  // compressible: packed
        }
        if (id > 0) {
            ByteBuffer.wrap(b).putLong(0, id).putInt(8, block);
        }
        ByteBuffer.wrap(b).putInt(12, id < 0 ? 0x5AAED : 0x0B10C);
        return b;
    }

    /** Which content id a block holds, or fails: it must be exactly one we wrote there. */
    static long identify(byte[] got, int block, Set<Long> allowed, String where) {
        for (long id : allowed) {
            if (Arrays.equals(got, content(id, block))) return id;
        }
        long claimed = ByteBuffer.wrap(got).getLong(0);
        fail(where + ": block " + block + " holds none of the allowed contents " + allowed + " (its first 8 bytes say id "
                + claimed + ", block field " + ByteBuffer.wrap(got).getInt(8) + ")");
        return -1;
    }

    @Test
    void flushedWritesSurviveSigkill() throws Exception {
        Tools.require("java");
        int cycles = Integer.getInteger("jvdo.torture.cycles", 20);
        long seed = Long.getLong("jvdo.seed", System.nanoTime());
        String tag = "seed " + seed;
        Random rnd = new Random(seed);
        Path data = tmp.resolve("pool");
        long[] stable = new long[BLOCKS];            // what each block held when last verified
        long nextId = 1;
        int survived = 0;
        long totalOps = 0, totalDurable = 0;
        for (int cycle = 0; cycle < cycles; cycle++) {
            int port = ServeProcess.freePort();
            List<Op> ops = new ArrayList<>();
            AtomicInteger durableUpTo = new AtomicInteger();  // ops[0..n) acknowledged before a completed flush
            boolean cleanStop = cycle % 5 == 4;
            try (ServeProcess s = ServeProcess.serve(tmp.resolve("logs"), "serve-" + cycle, data, port,
                    "--logical-size", "16M", "--physical-size", "64M")) {
                s.awaitServing("vdo0", Duration.ofSeconds(60));
                verify(port, stable, List.of(), 0, tag + " cycle " + cycle + " (before writing)");
                long firstId = nextId;
                nextId += 100_000;
                Random wr = new Random(rnd.nextLong());
                Thread writer = new Thread(() -> write(port, wr, firstId, ops, durableUpTo), "torture-writer");
                writer.start();
                Thread.sleep(300 + rnd.nextInt(1200));
                if (cleanStop) {
                    writer.interrupt();
                    writer.join(30_000);
                    assertEquals(0, s.terminate(Duration.ofSeconds(60)), tag + ": clean stop");
                } else {
                    s.process.destroyForcibly();       // SIGKILL
                    s.process.waitFor();
                    writer.join(30_000);
                }
                assertFalse(writer.isAlive(), tag + ": writer did not stop");
            }
            // offline check between the crash and the restart
            PoolCheck.Result check = PoolCheck.run(data, false, null);
            assertEquals(PoolCheck.CLEAN, check.exitCode(), tag + " cycle " + cycle + ": jvdo check found " + check.problems());
            // restart and check every block against what was acknowledged
            int port2 = ServeProcess.freePort();
            try (ServeProcess s = ServeProcess.serve(tmp.resolve("logs"), "verify-" + cycle, data, port2,
                    "--logical-size", "16M", "--physical-size", "64M")) {
                s.awaitServing("vdo0", Duration.ofSeconds(60));
                verify(port2, stable, ops, cleanStop ? ops.size() : durableUpTo.get(), tag + " cycle " + cycle);
                assertEquals(0, s.terminate(Duration.ofSeconds(60)), tag + ": clean stop after verify");
            }
            survived++;
            totalOps += ops.size();
            totalDurable += cleanStop ? ops.size() : durableUpTo.get();
        }
        assertEquals(cycles, survived);
        System.out.println("crash torture: " + survived + " kill/restart cycles survived, " + totalOps + " writes and trims issued, "
                + totalDurable + " of them acknowledged before a completed flush (" + tag + ")");
    }

    /** Sequential writer: writes and trims, a flush every few ops, occasional FUA; stops at the first I/O error. */
    private static void write(int port, Random r, long firstId, List<Op> ops, AtomicInteger durableUpTo) {
        long id = firstId;
        long handle = 1;
        try (RawClient c = RawClient.open(port)) {
            c.go("vdo0");
            while (!Thread.currentThread().isInterrupted()) {
                int block = r.nextInt(BLOCKS);
                int kind = r.nextInt(20);
                Op op;
                if (kind == 0) {
                    op = new Op(block, 0, false);
                    synchronized (ops) { ops.add(op); }
                    c.request(0, 4, handle, block * 4096L, 4096, null);                    // TRIM
                } else {
                    long cid = kind <= 3 ? -(1 + r.nextInt(SHARED)) : id++;
                    boolean fua = kind == 4;
                    op = new Op(block, cid, fua);
                    synchronized (ops) { ops.add(op); }
                    c.request(fua ? 1 : 0, 1, handle, block * 4096L, 4096, content(cid, block));  // WRITE
                }
                RawClient.Simple reply = c.simple();
                if (reply.handle() != handle || reply.error() != 0) return;
                op.acked = true;
                handle++;
                if (r.nextInt(16) == 0) {
                    int upTo;
                    synchronized (ops) { upTo = ops.size(); }
                    c.request(0, 3, handle, 0, 0, null);                                   // FLUSH
                    RawClient.Simple f = c.simple();
                    if (f.handle() != handle || f.error() != 0) return;
                    durableUpTo.set(upTo);
                    handle++;
                }
            }
        } catch (IOException | RuntimeException | AssertionError e) {
            // the server was killed: the writer stops here
        }
    }

    /** Reads every block; each must hold an allowed content; the model adopts what was read. */
    private static void verify(int port, long[] stable, List<Op> ops, int durableUpTo, String where) throws IOException {
        List<Set<Long>> allowed = new ArrayList<>(BLOCKS);
        for (int b = 0; b < BLOCKS; b++) allowed.add(new HashSet<>(List.of(stable[b])));
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            boolean guaranteed = i < durableUpTo && op.acked || op.fua && op.acked;
            Set<Long> a = allowed.get(op.block);
            if (guaranteed) a.clear();
            a.add(op.id);
        }
        try (RawClient c = RawClient.open(port)) {
            c.go("vdo0");
            long handle = 1;
            for (int b0 = 0; b0 < BLOCKS; b0 += 256) {
                byte[] chunk = c.read(handle++, b0 * 4096L, 256 * 4096);
                for (int k = 0; k < 256; k++) {
                    byte[] got = Arrays.copyOfRange(chunk, k * 4096, (k + 1) * 4096);
                    stable[b0 + k] = identify(got, b0 + k, allowed.get(b0 + k), where);
                }
            }
        }
    }
}
