package org.jvdo.core;

import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.api.PoolConfig;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.LongStream;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;

/**
 * Randomized operations on two volumes of one pool against a byte-array model per volume,
 * with clean and crash reopens. -Djvdo.seed=N runs one seed; -Djvdo.ops=N sets the length.
 */
class ModelBasedTest {
    @TempDir Path tmp;

    static LongStream seeds() {
        String s = System.getProperty("jvdo.seed");
        if (s != null && !s.isBlank()) return LongStream.of(Long.parseLong(s.trim()));
        return LongStream.of(101, 202, 303);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void randomOperationsMatchModel(long seed) throws Exception {
        int ops = Integer.getInteger("jvdo.ops", 3000);
        System.out.println("ModelBasedTest seed " + seed + " (rerun with -Djvdo.seed=" + seed + "), " + ops + " ops");
        new Run(seed, tmp.resolve("pool-" + seed)).run(ops);
    }

    static final int HOLE = 0, MAPPED = 1, UNKNOWN = 2;

    /** The reference model of one volume. */
    static final class Model {
        final String name;
        final int blocks;
        final byte[] data;
        /** Per block: null when only {@code data} is allowed after a crash, else every content allowed. */
        final List<byte[]>[] pending;
        final int[] alloc;
        final int[] hot;

        @SuppressWarnings("unchecked")
        Model(String name, int blocks, Random r) {
            this.name = name;
            this.blocks = blocks;
            this.data = new byte[blocks * BS];
            this.pending = new List[blocks];
            this.alloc = new int[blocks];
            this.hot = new int[48];
            for (int i = 0; i < hot.length; i++) hot[i] = r.nextInt(blocks);
        }

        /** Records that block b's content is about to change (not durable yet). */
        void beforeChange(int b) {
            if (pending[b] == null) {
                pending[b] = new ArrayList<>();
                pending[b].add(Arrays.copyOfRange(data, b * BS, (b + 1) * BS));
            }
        }

        void afterChange(int b) {
            pending[b].add(Arrays.copyOfRange(data, b * BS, (b + 1) * BS));
        }

        /** Applies bytes at any offset, tracking every touched block. */
        void apply(long offset, byte[] bytes, int mappedState) {
            int first = (int) (offset / BS), last = (int) ((offset + bytes.length - 1) / BS);
            for (int b = first; b <= last; b++) beforeChange(b);
            System.arraycopy(bytes, 0, data, (int) offset, bytes.length);
            for (int b = first; b <= last; b++) {
                afterChange(b);
                alloc[b] = mappedState;
            }
        }

        void durable(int b) { pending[b] = null; }

        void durableAll() { Arrays.fill(pending, null); }
    }

    static final class Run {
        final long seed;
        final Path dir;
        final Random r;
        final PoolConfig cfg;
        final List<byte[]> dups;
        final ArrayDeque<String> history = new ArrayDeque<>();
        Pool pool;
        Model[] models;
        int op;
        int crashes, reopens, batches, flushes;

        Run(long seed, Path dir) {
            this.seed = seed;
            this.dir = dir;
            this.r = new Random(seed);
            this.cfg = PoolConfig.small(64L << 20);
            cfg.blockMapCachePages = 4; // the volumes have more pages: evictions and write-ahead
            this.dups = Blocks.dupSet(seed ^ 0x5EED, 9);
        }

        String ctx() {
            return "seed " + seed + " (rerun with -Djvdo.seed=" + seed + "), op " + op + ", last ops " + history;
        }

        void note(String s) {
            history.addLast(op + ":" + s);
            if (history.size() > 12) history.removeFirst();
        }

        void fail(String msg) { throw new AssertionError(msg + " — " + ctx()); }

        Volume vol(int i) { return pool.volume(models[i].name); }

        void run(int ops) throws Exception {
            pool = Pool.create(dir, cfg);
            models = new Model[]{new Model("alpha", 2600, r), new Model("beta", 2100, r)};
            for (Model m : models) pool.createVolume(m.name, (long) m.blocks * BS);
            try {
                for (op = 0; op < ops; op++) step();
                pool.quiesce(); // statistics count writes once they reach the block map
                for (Model m : models) m.durableAll();
                verifyAll("end");
                pool.close();
                pool = Pool.open(dir, cfg);
                verifyAll("final reopen");
                System.out.println("seed " + seed + ": " + ops + " ops, " + crashes + " crash reopens, " + reopens
                        + " clean reopens, " + batches + " concurrent batches, " + flushes + " flushes; " + pool.stats());
            } finally {
                if (pool != null) pool.close();
            }
        }

        int pickBlock(Model m) {
            return r.nextInt(2) == 0 ? m.hot[r.nextInt(m.hot.length)] : r.nextInt(m.blocks);
        }

        byte[] fullBlockContent() {
            int k = r.nextInt(100);
            if (k < 10) return new byte[BS];
            if (k < 40) return dups.get(r.nextInt(dups.size())).clone();
            if (k < 75) return Blocks.text(r);
            return Blocks.random(r);
        }

        byte[] partialContent(int len) {
            byte[] b = new byte[len];
            int k = r.nextInt(4);
            if (k == 0) r.nextBytes(b);
            else if (k == 1) { byte[] t = Blocks.text(r); for (int i = 0; i < len; i++) b[i] = t[i % BS]; }
            else if (k == 2) Arrays.fill(b, (byte) r.nextInt(256));
            // else zeros
            return b;
        }

        void step() throws Exception {
            int k = r.nextInt(1000);
            int vi = r.nextInt(2);
            Model m = models[vi];
            Volume v = vol(vi);
            if (k < 300) fullWrite(m, v);
            else if (k < 450) partialWrite(m, v);
            else if (k < 510) trim(m, v);
            else if (k < 570) writeZeroes(m, v);
            else if (k < 760) readRange(m, v);
            else if (k < 840) batch(m, v);
            else if (k < 900) blockStatus(m, v);
            else if (k < 985) { note("flush " + m.name); Await.value(v.flush(), "flush"); m.durableAll(); flushes++; }
            else if (k < 992) cleanReopen();
            else crashReopen();
        }

        void fullWrite(Model m, Volume v) throws Exception {
            int n = 1 + r.nextInt(4);
            int b = Math.min(pickBlock(m), m.blocks - n);
            byte[] buf = new byte[n * BS];
            for (int i = 0; i < n; i++) System.arraycopy(fullBlockContent(), 0, buf, i * BS, BS);
            boolean fua = r.nextInt(20) == 0;
            note("write " + m.name + " blocks " + b + "+" + n + (fua ? " fua" : ""));
            Await.value(v.write((long) b * BS, ByteBuffer.wrap(buf), fua), "write " + ctx());
            m.apply((long) b * BS, buf, MAPPED);
            if (fua) for (int i = 0; i < n; i++) m.durable(b + i);
        }

        void partialWrite(Model m, Volume v) throws Exception {
            int len = 1 + r.nextInt(r.nextBoolean() ? 200 : 3 * BS + 100);
            long size = (long) m.blocks * BS;
            long off = r.nextBoolean() ? (long) pickBlock(m) * BS + r.nextInt(BS) : (long) (r.nextDouble() * size);
            off = Math.min(off, size - len);
            byte[] buf = partialContent(len);
            boolean fua = r.nextInt(20) == 0;
            note("pwrite " + m.name + " @" + off + "+" + len + (fua ? " fua" : ""));
            // a buffer with a non-zero position and extra capacity: only [position, limit) is written
            ByteBuffer src = ByteBuffer.allocate(len + 10);
            src.position(5);
            src.put(buf);
            src.position(5).limit(5 + len);
            Await.value(v.write(off, src, fua), "partial write " + ctx());
            m.apply(off, buf, MAPPED);
            if (fua) for (long b = off / BS; b <= (off + len - 1) / BS; b++) m.durable((int) b);
        }

        long[] range(Model m) {
            long size = (long) m.blocks * BS;
            long off, len;
            if (r.nextBoolean()) {
                int n = 1 + r.nextInt(6);
                int b = Math.min(pickBlock(m), m.blocks - n);
                off = (long) b * BS;
                len = (long) n * BS;
            } else {
                off = (long) pickBlock(m) * BS + r.nextInt(BS);
                len = 1 + r.nextInt(5 * BS);
                off = Math.min(off, size - len);
            }
            return new long[]{off, len};
        }

        void zeroRange(Model m, long off, long len, boolean holeForWhole, boolean fua) {
            long firstFull = (off + BS - 1) / BS, endFull = (off + len) / BS;
            m.apply(off, new byte[(int) len], UNKNOWN);
            for (long b = firstFull; b < endFull; b++) m.alloc[(int) b] = holeForWhole ? HOLE : MAPPED;
            if (fua) for (long b = off / BS; b <= (off + len - 1) / BS; b++) m.durable((int) b);
        }

        void trim(Model m, Volume v) throws Exception {
            long[] rg = range(m);
            boolean fua = r.nextInt(20) == 0;
            note("trim " + m.name + " @" + rg[0] + "+" + rg[1] + (fua ? " fua" : ""));
            Await.value(v.trim(rg[0], rg[1], fua), "trim " + ctx());
            zeroRange(m, rg[0], rg[1], true, fua);
        }

        void writeZeroes(Model m, Volume v) throws Exception {
            long[] rg = range(m);
            boolean noHole = r.nextBoolean();
            boolean fua = r.nextInt(20) == 0;
            note("wzero " + m.name + " @" + rg[0] + "+" + rg[1] + (noHole ? " nohole" : "") + (fua ? " fua" : ""));
            Await.value(v.writeZeroes(rg[0], rg[1], noHole, fua), "write zeroes " + ctx());
            zeroRange(m, rg[0], rg[1], false, fua);
            if (!noHole) {
                // without noHole whole blocks may or may not be unmapped
                for (long b = (rg[0] + BS - 1) / BS; b < (rg[0] + rg[1]) / BS; b++) m.alloc[(int) b] = UNKNOWN;
            }
        }

        void readRange(Model m, Volume v) throws Exception {
            long size = (long) m.blocks * BS;
            int len = 1 + r.nextInt(r.nextBoolean() ? 100 : 6 * BS);
            long off = r.nextBoolean() ? (long) pickBlock(m) * BS + r.nextInt(BS) : (long) (r.nextDouble() * size);
            off = Math.min(off, size - len);
            note("read " + m.name + " @" + off + "+" + len);
            byte[] got = Volumes.read(v, off, len);
            if (!Arrays.equals(got, 0, len, m.data, (int) off, (int) off + len)) {
                int i = Arrays.mismatch(got, 0, len, m.data, (int) off, (int) off + len);
                fail("volume " + m.name + ": read of " + len + " bytes at " + off + " differs from the model at byte "
                        + (off + i) + " (block " + (off + i) / BS + "): got " + got[i] + ", expected " + m.data[(int) off + i]);
            }
        }

        /** Concurrent writes to distinct blocks: issue all, then await all. */
        void batch(Model m, Volume v) throws Exception {
            int n = 8 + r.nextInt(17);
            List<Integer> blocks = new ArrayList<>();
            while (blocks.size() < n) {
                int b = pickBlock(m);
                if (!blocks.contains(b)) blocks.add(b);
            }
            batches++;
            note("batch " + m.name + " " + blocks);
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            List<Runnable> apply = new ArrayList<>();
            for (int b : blocks) {
                boolean fua = r.nextInt(30) == 0;
                if (r.nextInt(4) == 0) {
                    int from = r.nextInt(BS), len = 1 + r.nextInt(BS - from);
                    byte[] buf = partialContent(len);
                    fs.add(v.write((long) b * BS + from, ByteBuffer.wrap(buf), fua));
                    apply.add(() -> { m.apply((long) b * BS + from, buf, MAPPED); if (fua) m.durable(b); });
                } else {
                    byte[] buf = fullBlockContent();
                    fs.add(v.write((long) b * BS, ByteBuffer.wrap(buf), fua));
                    apply.add(() -> { m.apply((long) b * BS, buf, MAPPED); if (fua) m.durable(b); });
                }
            }
            Await.value(CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])), "batch " + ctx());
            apply.forEach(Runnable::run);
        }

        void blockStatus(Model m, Volume v) {
            long[] rg = range(m);
            note("status " + m.name + " @" + rg[0] + "+" + rg[1]);
            checkStatus(m, v, rg[0], rg[1], false);
        }

        /** Checks blockStatus against the model; with adopt, takes the device's answer for blocks the model cannot know. Returns blocks not holes. */
        long checkStatus(Model m, Volume v, long off, long len, boolean adopt) {
            long pos = off, end = off + len, used = 0;
            while (pos < end) {
                List<BlockDevice.Extent> ex = v.blockStatus(pos, end - pos);
                if (ex.isEmpty()) fail("volume " + m.name + ": blockStatus at " + pos + " returned no extent");
                for (BlockDevice.Extent e : ex) {
                    if (e.length() <= 0) fail("volume " + m.name + ": empty extent at " + pos);
                    long extEnd = pos + e.length();
                    if (extEnd > end) fail("volume " + m.name + ": extent past the range end");
                    if (extEnd != end && extEnd % BS != 0) fail("volume " + m.name + ": extent end " + extEnd + " not block aligned");
                    for (long b = pos / BS; b * BS < extEnd; b++) {
                        int blk = (int) b;
                        if (e.hole() && !e.zero()) fail("volume " + m.name + ": extent is a hole but not zero");
                        int want = m.alloc[blk];
                        if (want == UNKNOWN) {
                            if (adopt) m.alloc[blk] = e.hole() ? HOLE : MAPPED;
                        } else if ((want == HOLE) != e.hole()) {
                            fail("volume " + m.name + ": block " + blk + " status hole=" + e.hole() + ", model says " + (want == HOLE ? "hole" : "allocated"));
                        }
                        if (e.hole() && !isZero(m.data, blk)) fail("volume " + m.name + ": block " + blk + " reported a hole but the model holds data");
                        if (!e.hole() && b * BS >= pos && (b + 1) * BS <= extEnd) used++;
                    }
                    pos = extEnd;
                }
            }
            return used;
        }

        static boolean isZero(byte[] d, int b) {
            for (int i = b * BS; i < (b + 1) * BS; i++) if (d[i] != 0) return false;
            return true;
        }

        /** Full check of both volumes (exact), usage statistics and reference counts. */
        void verifyAll(String when) throws Exception {
            for (int i = 0; i < models.length; i++) {
                Model m = models[i];
                Volume v = vol(i);
                byte[] got = Volumes.read(v, 0, m.blocks * BS);
                for (int b = 0; b < m.blocks; b++) {
                    if (!Arrays.equals(got, b * BS, (b + 1) * BS, m.data, b * BS, (b + 1) * BS)) {
                        fail(when + ": volume " + m.name + " block " + b + " reads " + Blocks.describe(got, b * BS)
                                + ", model holds " + Blocks.describe(m.data, b * BS));
                    }
                }
                checkUsage(m, v, when, false);
            }
            checkRefs(when);
        }

        void checkUsage(Model m, Volume v, String when, boolean adopt) {
            long used = checkStatus(m, v, 0, (long) m.blocks * BS, adopt);
            long stat = v.stats().get("logical_blocks_used");
            if (stat != used) fail(when + ": volume " + m.name + " logical_blocks_used " + stat + " but blockStatus shows " + used + " allocated blocks");
        }

        void checkRefs(String when) throws Exception {
            List<String> problems = pool.verifyReferenceCounts();
            if (!problems.isEmpty()) fail(when + ": reference counts inconsistent: " + problems.subList(0, Math.min(10, problems.size())));
        }

        void cleanReopen() throws Exception {
            note("close+open");
            reopens++;
            pool.close();
            pool = Pool.open(dir, cfg);
            for (Model m : models) m.durableAll();
            verifyAll("after clean reopen");
        }

        void crashReopen() throws Exception {
            note("crash+open");
            crashes++;
            pool.crash();
            pool = null;
            pool = Pool.open(dir, cfg);
            for (int i = 0; i < models.length; i++) {
                Model m = models[i];
                Volume v = vol(i);
                byte[] got = Volumes.read(v, 0, m.blocks * BS);
                for (int b = 0; b < m.blocks; b++) {
                    boolean ok;
                    if (m.pending[b] == null) {
                        ok = Arrays.equals(got, b * BS, (b + 1) * BS, m.data, b * BS, (b + 1) * BS);
                    } else {
                        ok = false;
                        for (byte[] c : m.pending[b]) if (Arrays.equals(got, b * BS, (b + 1) * BS, c, 0, BS)) { ok = true; break; }
                    }
                    if (!ok) {
                        StringBuilder allowed = new StringBuilder();
                        if (m.pending[b] == null) allowed.append(Blocks.describe(m.data, b * BS));
                        else for (byte[] c : m.pending[b]) allowed.append(Blocks.describe(c, 0)).append(' ');
                        fail("after crash: volume " + m.name + " block " + b + " reads " + Blocks.describe(got, b * BS)
                                + ", allowed: " + allowed + (m.pending[b] == null ? "(durable)" : "(written since the last flush)"));
                    }
                }
                System.arraycopy(got, 0, m.data, 0, got.length);
                // allocation after a crash: a block changed since the last flush has whichever state survived
                for (int b = 0; b < m.blocks; b++) if (m.pending[b] != null) m.alloc[b] = isZero(m.data, b) ? UNKNOWN : MAPPED;
                m.durableAll();
                checkUsage(m, v, "after crash reopen", true);
            }
            checkRefs("after crash reopen");
        }
    }
}
