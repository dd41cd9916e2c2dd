package org.jvdo.nbd;

import org.jvdo.testsupport.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The promise under test: after a FLUSH (or a FUA write) is answered, that data survives any
 * crash. A writer drives {@code jvdo serve} over NBD and records exactly which writes were
 * acknowledged before which completed flush; the server is killed with SIGKILL at a random
 * moment after a minimum of work was acknowledged, restarted, and every block is checked:
 * flushed writes exactly (or a later write to the same block); writes after the last flush
 * either old or new, never a mix within a block, never another block's data. Between cycles
 * {@code jvdo check} must find the pool clean (exit code 0).
 *
 * <p>The test fails, with seed and cycle in the message, when: the server answers any write,
 * trim or flush with an error; the connection fails before the kill was sent; a cycle gets less
 * than {@link #MIN_DURABLE} writes acknowledged before a completed flush within
 * {@link #WORK_TIMEOUT}; fewer than {@link #MIN_DURABLE_FRACTION} of all issued writes were
 * acknowledged before a completed flush; a block reads wrong after the restart; {@code jvdo
 * check} is not clean. Every step is bounded in time (socket timeout 15 s, waits 30 to 60 s).
 * Cycles: {@code -Djvdo.torture.cycles} (default 20); seed: {@code -Djvdo.seed}.
 */
class CrashTortureTest {
    static final int BLOCKS = 1024;
    static final int SHARED = 6;   // contents written to many blocks: dedup across the volume
    /** Writes (and trims) each cycle must get acknowledged and then covered by a completed flush before the kill. */
    static final int MIN_DURABLE = 24;
    /** Of all writes issued over the run, at least this share must be acknowledged before a completed flush. */
    static final double MIN_DURABLE_FRACTION = 0.5;
    static final Duration WORK_TIMEOUT = Duration.ofSeconds(60);
    static final String[] POOL = {"--logical-size", "16M", "--physical-size", "64M"};

    @TempDir Path tmp;

    /** One write as issued: block, content id (0 = zeros/trim), and what became of it. */
    static final class Op {
        final int block;
        final long id;
        final boolean fua;
        volatile boolean acked;

        Op(int block, long id, boolean fua) { this.block = block; this.id = id; this.fua = fua; }

        String kind() { return id == 0 ? "TRIM" : fua ? "WRITE+FUA" : "WRITE"; }
    }

    /** What one cycle's writer did: its ops in order, how far flushes reached, and how it ended. */
    static final class Cycle {
        final int number;
        final boolean cleanStop;
        final List<Op> ops = new ArrayList<>();   // guarded by itself
        volatile int durableUpTo;                  // ops[0..n) were acknowledged before a completed flush
        volatile int acked;
        volatile int flushes;
        volatile boolean killSent;                 // set before SIGKILL: from then on I/O errors are expected
        volatile boolean stopped;                  // the writer left its loop (for any reason)
        volatile Throwable failure;                // the first thing that went wrong before the kill
        volatile String endedBy = "still running";

        Cycle(int number, boolean cleanStop) { this.number = number; this.cleanStop = cleanStop; }

        int issued() { synchronized (ops) { return ops.size(); } }

        String progress() {
            return issued() + " issued, " + acked + " acknowledged, " + flushes + " flushes completed, "
                    + durableUpTo + " acknowledged before a completed flush";
        }
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

    @Test
    void flushedWritesSurviveSigkill() throws Exception {
        Tools.require("java");
        int cycles = Integer.getInteger("jvdo.torture.cycles", 20);
        long seed = Long.getLong("jvdo.seed", System.nanoTime());
        String tag = "seed " + seed + " (rerun with -Djvdo.seed=" + seed + ")";
        Random rnd = new Random(seed);
        Path data = tmp.resolve("pool");
        Path logs = tmp.resolve("logs");
        long[] stable = new long[BLOCKS];            // what each block held when last verified
        long nextId = 1;
        long totalIssued = 0, totalAcked = 0, totalDurable = 0, totalFlushes = 0;
        long started = System.nanoTime();
        Cycle previous = null;
        // each cycle's server first verifies what the previous cycle left behind, then is written to and killed
        for (int cycle = 0; cycle <= cycles; cycle++) {
            boolean last = cycle == cycles;
            int port = ServeProcess.freePort();
            try (ServeProcess s = ServeProcess.serve(logs, (last ? "verify-" : "serve-") + cycle, data, port, POOL)) {
                s.awaitServing("vdo0", Duration.ofSeconds(60));
                String where = tag + ", cycle " + cycle + (previous == null ? " (fresh pool)" : ", after restarting from cycle "
                        + previous.number + (previous.cleanStop ? "'s clean stop" : "'s SIGKILL"));
                verify(s, port, stable, previous, where);
                if (last) {
                    assertEquals(0, s.terminate(Duration.ofSeconds(60)), where + ": clean stop after the final verify\n" + s.err());
                    break;
                }
                Cycle c = new Cycle(cycle, cycle % 5 == 4);
                String cyc = tag + ", cycle " + cycle;
                long firstId = nextId;
                nextId += 1_000_000;
                Random wr = new Random(rnd.nextLong());
                Thread writer = new Thread(() -> write(port, wr, firstId, c), "torture-writer-" + cycle);
                writer.setDaemon(true);
                writer.start();
                awaitMinimumWork(s, writer, c, cyc);
                // now the kill (or stop) lands at a random moment of steady writing
                long until = System.nanoTime() + Duration.ofMillis(rnd.nextInt(1200)).toNanos();
                while (System.nanoTime() < until && c.failure == null && !c.stopped) Thread.sleep(10);
                checkWriter(s, c, cyc + ", before the " + (c.cleanStop ? "stop" : "kill"));
                if (c.cleanStop) {
                    writer.interrupt();
                    writer.join(30_000);
                    assertFalse(writer.isAlive(), cyc + ": writer did not stop within 30 s after its interrupt; " + c.progress());
                    checkWriter(s, c, cyc + ", stopping the writer");
                    assertEquals(0, s.terminate(Duration.ofSeconds(60)), cyc + ": clean stop\n" + s.err());
                } else {
                    c.killSent = true;
                    s.process.destroyForcibly();       // SIGKILL
                    assertTrue(s.process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), cyc + ": server did not die of SIGKILL");
                    writer.join(30_000);
                    assertFalse(writer.isAlive(), cyc + ": writer did not stop within 30 s after the kill; " + c.progress());
                    checkWriter(s, c, cyc + ", around the kill");
                }
                previous = c;
            }
            // offline check between the crash and the restart: exactly what `jvdo check DIR` runs and exits with
            ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
            int rc = Main.run(new String[]{"check", data.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(0, rc, tag + ", cycle " + cycle + ": jvdo check after the " + (previous.cleanStop ? "clean stop" : "SIGKILL")
                    + " exited " + rc + " instead of 0 (clean)\n" + out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8));
            totalIssued += previous.issued();
            totalAcked += previous.acked;
            totalDurable += previous.durableUpTo;
            totalFlushes += previous.flushes;
        }
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        String summary = cycles + " kill/restart cycles in " + seconds + " s: " + totalIssued + " writes and trims issued, " + totalAcked
                + " acknowledged, " + totalDurable + " acknowledged before a completed flush, " + totalFlushes + " flushes (" + tag + ")";
        System.out.println("crash torture: " + summary);
        assertTrue(totalDurable >= MIN_DURABLE_FRACTION * totalIssued, "too little acknowledged work: " + summary);
    }

    /** Waits until the writer has {@link #MIN_DURABLE} ops acknowledged before a completed flush; fails on any writer failure. */
    private static void awaitMinimumWork(ServeProcess s, Thread writer, Cycle c, String cyc) throws Exception {
        Await.until(Conditions.checked(() -> {
            if (c.durableUpTo >= MIN_DURABLE && c.flushes >= 1) return true;
            checkWriter(s, c, cyc + ", waiting for the first " + MIN_DURABLE + " durable writes");
            if (c.stopped) fail(cyc + ": writer stopped early (" + c.endedBy + "); " + c.progress());
            return false;
        }), WORK_TIMEOUT.toSeconds(), Conditions.text(() -> cyc + ": the server did not acknowledge " + MIN_DURABLE
                + " writes and complete a flush after them; " + c.progress() + "\nserver stderr:\n" + tail(s.err())));
    }

    /** Turns a failure the writer recorded into a test failure, with its cause and the server's stderr. */
    private static void checkWriter(ServeProcess s, Cycle c, String where) throws IOException {
        Throwable t = c.failure;
        if (t != null) {
            throw new AssertionError(where + ": " + t.getMessage() + "; " + c.progress() + "\nserver stderr:\n" + tail(s.err()), t);
        }
    }

    private static String tail(String s) {
        return s.length() <= 4000 ? s : "..." + s.substring(s.length() - 4000);
    }

    /**
     * Sequential writer: writes and trims, a flush every few ops, occasional FUA. An error reply, a
     * wrong handle or any exception before the kill is recorded as the cycle's failure; after the
     * kill, an I/O exception is the expected end.
     */
    private static void write(int port, Random r, long firstId, Cycle c) {
        long id = firstId;
        long handle = 1;
        String doing = "connecting";
        try (RawClient client = RawClient.open(port)) {
            client.go("vdo0");
            while (!Thread.currentThread().isInterrupted()) {
                int block = r.nextInt(BLOCKS);
                int kind = r.nextInt(20);
                Op op;
                if (kind == 0) {
                    op = new Op(block, 0, false);
                } else {
                    long cid = kind <= 3 ? -(1 + r.nextInt(SHARED)) : id++;
                    op = new Op(block, cid, kind == 4);
                }
                int index;
                synchronized (c.ops) { index = c.ops.size(); c.ops.add(op); }
                doing = op.kind() + " of block " + block + " (op #" + index + ", content id " + op.id + ", handle " + handle + ")";
                if (op.id == 0) {
                    client.request(0, NbdProtocol.CMD_TRIM, handle, block * 4096L, 4096, null);
                } else {
                    client.request(op.fua ? NbdProtocol.CMD_FLAG_FUA : 0, NbdProtocol.CMD_WRITE, handle, block * 4096L, 4096,
                            content(op.id, block));
                }
                expectSuccess(client.simple(), handle, doing);
                op.acked = true;
                c.acked++;
                handle++;
                if (r.nextInt(12) == 0) {
                    int upTo = index + 1;
                    doing = "FLUSH after op #" + index + " (handle " + handle + ")";
                    client.request(0, NbdProtocol.CMD_FLUSH, handle, 0, 0, null);
                    expectSuccess(client.simple(), handle, doing);
                    c.durableUpTo = upTo;
                    c.flushes++;
                    handle++;
                }
            }
            c.endedBy = "interrupted";
        } catch (IOException e) {
            if (c.killSent) {
                c.endedBy = "connection lost after the kill (" + e + ")";
            } else {
                c.failure = new AssertionError("I/O error before the kill, during " + doing + ": " + e, e);
                c.endedBy = "I/O error before the kill";
            }
        } catch (Throwable t) {
            // an error reply, a bad reply header, anything else: a failure whether or not the kill was sent
            c.failure = t instanceof AssertionError a && a.getMessage() != null && a.getMessage().startsWith("server ")
                    ? a : new AssertionError("writer failed during " + doing + ": " + t, t);
            c.endedBy = "failure";
        } finally {
            c.stopped = true;
        }
    }

    /** An answer with the right handle and no error, or an AssertionError saying what the server answered. */
    private static void expectSuccess(RawClient.Simple reply, long handle, String doing) {
        if (reply.error() != 0) {
            throw new AssertionError("server replied error " + reply.error() + " to " + doing);
        }
        if (reply.handle() != handle) {
            throw new AssertionError("server replied to handle " + reply.handle() + " while " + doing + " was outstanding");
        }
    }

    /**
     * Reads every block; each must hold an allowed content given what {@code cycle} did (null: nothing
     * since {@code stable}); the model then adopts what was read.
     */
    private static void verify(ServeProcess s, int port, long[] stable, Cycle cycle, String where) throws IOException {
        List<Set<Long>> allowed = new ArrayList<>(BLOCKS);
        for (int b = 0; b < BLOCKS; b++) allowed.add(new LinkedHashSet<>(List.of(stable[b])));
        List<Op> ops = cycle == null ? List.of() : cycle.ops;
        int durableUpTo = cycle == null ? 0 : cycle.cleanStop ? ops.size() : cycle.durableUpTo;
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            boolean guaranteed = op.acked && (i < durableUpTo || op.fua);
            Set<Long> a = allowed.get(op.block);
            if (guaranteed) a.clear();         // a flushed (or FUA) write: nothing older may come back
            a.add(op.id);                      // anything later, acknowledged or in flight, may have landed
        }
        try (RawClient c = RawClient.open(port)) {
            c.go("vdo0");
            long handle = 1;
            for (int b0 = 0; b0 < BLOCKS; b0 += 256) {
                c.request(0, 0, handle, b0 * 4096L, 256 * 4096, null);
                RawClient.Simple reply = c.simple();
                if (reply.error() != 0 || reply.handle() != handle) {
                    fail(where + ": READ of blocks " + b0 + ".." + (b0 + 255) + " answered error " + reply.error() + ", handle "
                            + reply.handle() + " (sent " + handle + ")\nserver stderr:\n" + tail(s.err()));
                }
                byte[] chunk = new byte[256 * 4096];
                c.in.readFully(chunk);
                handle++;
                for (int k = 0; k < 256; k++) {
                    byte[] got = Arrays.copyOfRange(chunk, k * 4096, (k + 1) * 4096);
                    stable[b0 + k] = identify(got, b0 + k, allowed.get(b0 + k), stable[b0 + k], ops, durableUpTo, where);
                }
            }
        }
    }

    /** Which content id a block holds, or fails: it must be exactly one we allowed there. */
    static long identify(byte[] got, int block, Set<Long> allowed, long before, List<Op> ops, int durableUpTo, String where) {
        for (long id : allowed) {
            if (Arrays.equals(got, content(id, block))) return id;
        }
        ByteBuffer g = ByteBuffer.wrap(got);
        long claimed = g.getLong(0);
        String what;
        if (Arrays.equals(got, new byte[4096])) {
            what = "zeros";
        } else if (g.getInt(12) == 0x0B10C && Arrays.equals(got, content(claimed, g.getInt(8)))) {
            what = "content id " + claimed + " of block " + g.getInt(8) + (g.getInt(8) == block ? "" : " (ANOTHER BLOCK'S DATA)");
        } else if (g.getInt(12) == 0x5AAED && claimed != 0) {
            what = "something like shared content (first 8 bytes " + Long.toHexString(claimed) + ")";
        } else {
            what = "unrecognised bytes (first 16: " + Long.toHexString(claimed) + " " + Long.toHexString(g.getLong(8)) + ")";
        }
        StringBuilder history = new StringBuilder();
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            if (op.block != block) continue;
            history.append("\n  op #").append(i).append(' ').append(op.kind()).append(" id ").append(op.id)
                    .append(op.acked ? " acknowledged" : " not acknowledged")
                    .append(i < durableUpTo ? ", before the last completed flush" : ", after the last completed flush");
        }
        fail(where + ": block " + block + " holds " + what + ", none of the allowed contents " + allowed
                + " (it held " + before + " at the previous verify; " + ops.size() + " ops last cycle, the last completed flush covered "
                + durableUpTo + "); this cycle's ops on the block:" + (history.length() == 0 ? " none" : history));
        return -1;
    }
}
