package org.jvdo.core;

import org.jvdo.core.api.ForeignBlocks;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Pins across pools in one process (docs/cluster.md, "Dedup across members"), the engine's side
 * without Hazelcast: two cluster-mode pools share one index (advice names the pool that stored a
 * block), and a {@link ForeignBlocks} that calls {@link ReferenceSlots} on the other pool directly.
 *
 * <p>A model-based run: the writer pool W writes, overwrites and trims few contents (half of them
 * stored by the owner pool O first, so they become foreign mappings), flushes, and crashes and
 * opens again at random; O overwrites its own copies and churns through fresh blocks in a small
 * pool, so a block freed while W maps it is soon reused (and W would read another block's bytes,
 * which the checksums turn into EIO); O crashes and opens again too, while W's pins and unpins to
 * it fail and wait. After each crash every LBN of W reads a content the model allows (the one
 * flushed, or one written since). At the end {@code jvdo check --cluster}'s check finds every
 * foreign mapping's slot holding its block, and after W's reconciliation no leaked slot. The seed
 * is printed; {@code -Djvdo.foreignSeed=N} repeats a run.
 */
@Timeout(300)
class ForeignPinsTest {
    static final int CONTENTS = 32, SHARED = 16, LBNS = 64, OPS = Integer.getInteger("jvdo.foreignOps", 600);
    @TempDir Path tmp;

    /** One index for both pools: a fingerprint's newest stored block and its pool. */
    static final class SharedIndex {
        final ConcurrentHashMap<List<Long>, Object[]> entries = new ConcurrentHashMap<>();

        DedupIndex view(UUID pool) {
            return new DedupIndex() {
                @Override public long lookup(long h, long l) { return -1; }
                @Override public void update(long h, long l, long mapping) { entries.put(List.of(h, l), new Object[]{pool, mapping}); }
                @Override public boolean answersLater() { return true; }
                @Override public long answerTimeoutNanos() { return 30_000_000_000L; }
                @Override public void lookupAsync(long h, long l, int volume, long lbn, Advice answer) {
                    Object[] e = entries.get(List.of(h, l));
                    if (e == null) answer.advice(-1, null);
                    else answer.advice((Long) e[1], pool.equals(e[0]) ? null : (UUID) e[0]);
                }
                @Override public long entries() { return entries.size(); }
                @Override public long memoryBytes() { return 0; }
                @Override public void save(Path file) { }
            };
        }
    }

    /** The pools of this process by UUID; a pool closed or crashed is absent (its owner "unreachable"). */
    static final class Direct implements ForeignBlocks {
        final Map<UUID, Pool> pools = new ConcurrentHashMap<>();
        final Map<UUID, Path> folders = new ConcurrentHashMap<>();

        Pool target(UUID t) throws IOException {
            Pool p = pools.get(t);
            if (p == null) throw new IOException("pool " + t + " has no owner now");
            return p;
        }

        @Override public Path folder(UUID pool) { return folders.get(pool); }

        @Override
        public long[] pin(UUID source, long epoch, UUID target, int volume, long volumeBlocks, long[] slots, byte[][] data) throws IOException {
            return ReferenceSlots.pin(target(target), source, volume, volumeBlocks, slots, data);
        }

        @Override
        public void unpin(UUID source, long epoch, UUID target, int volume, long[] slots, long[] mappings) throws IOException {
            ReferenceSlots.unpin(target(target), source, volume, slots, mappings);
        }

        @Override
        public long reconcile(UUID source, long epoch, UUID target, int[] volumes, long[][] slots, long[][] mappings) throws IOException {
            return ReferenceSlots.reconcile(target(target), source, volumes, slots, mappings);
        }
    }

    final SharedIndex index = new SharedIndex();
    final Direct direct = new Direct();
    private PoolConfig config(UUID member) {
        PoolConfig c = PoolConfig.small(8L << 20); // 2048 data blocks: O's churn reuses freed blocks within the run
        c.segmentShift = 9; // segment files of 512 blocks: foreign reads cross segments, and meet segments added since
        c.indexSupplier = index::view;
        c.foreignBlocks = direct;
        c.ownerMember = member;
        return c;
    }

    private Pool open(Path dir, UUID member, boolean create) throws IOException {
        Pool p = create ? Pool.create(dir, config(member)) : Pool.open(dir, config(member));
        direct.folders.put(p.uuid(), dir);
        direct.pools.put(p.uuid(), p);
        return p;
    }

    private void crash(Pool p) throws IOException {
        direct.pools.remove(p.uuid());
        p.crash();
    }

    static void write(Volume v, long lbn, byte[] b) throws Exception {
        Await.value(v.write(lbn * Blocks.BS, ByteBuffer.wrap(b), false), "write of lbn " + lbn);
    }

    @Test
    void crashesOfEitherPoolNeverLeaveAMappingWithoutItsReference() throws Exception {
        long seed = Long.getLong("jvdo.foreignSeed", System.nanoTime());
        System.out.println("ForeignPinsTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        byte[][] content = new byte[CONTENTS][];
        for (int i = 0; i < CONTENTS; i++) content[i] = i % 2 == 0 ? Blocks.text(r) : Blocks.random(r);
        Path w = tmp.resolve("w"), o = tmp.resolve("o");
        UUID memberW = new UUID(7, 1), memberO = new UUID(7, 2);
        Pool po = open(o, memberO, true), pw = open(w, memberW, true);
        Volume vo = po.createVolume("o", 1536L * Blocks.BS), vw = pw.createVolume("w", LBNS * (long) Blocks.BS);
        // O's allocations first pass its first segment files, so the shared blocks lie in later ones
        for (int i = 0; i < 1200; i++) write(vo, 64 + i, Blocks.random(r));
        for (int i = 0; i < SHARED; i++) write(vo, i, content[i]);
        Await.value(vo.flush(), "flush of o");
        // W's model: per LBN the content flushed (-1: zeros) and the contents written since
        int[] flushed = new int[LBNS];
        java.util.Arrays.fill(flushed, -1);
        int[] last = new int[LBNS];
        java.util.Arrays.fill(last, -1);
        List<Set<Integer>> since = new ArrayList<>();
        for (int i = 0; i < LBNS; i++) since.add(new HashSet<>());
        int crashesW = 0, crashesO = 0;
        long pins = 0, unpins = 0;
        try {
            for (int op = 0; op < OPS; op++) {
                int kind = r.nextInt(100);
                String where = "seed " + seed + ", operation " + op;
                if (kind < 55) {
                    int lbn = r.nextInt(LBNS), c = r.nextInt(CONTENTS);
                    write(vw, lbn, content[c]);
                    since.get(lbn).add(c);
                    last[lbn] = c;
                } else if (kind < 62) {
                    int lbn = r.nextInt(LBNS);
                    Await.value(vw.trim(lbn * (long) Blocks.BS, Blocks.BS, false), "trim");
                    since.get(lbn).add(-1);
                    last[lbn] = -1;
                } else if (kind < 72) {
                    Await.value(vw.flush(), "flush of w");
                    for (int i = 0; i < LBNS; i++) {
                        byte[] got = Volumes.read(vw, i * (long) Blocks.BS, Blocks.BS);
                        int c = which(content, got, where + " lbn " + i + " after a flush");
                        if (c != last[i]) fail(where + ": after a flush lbn " + i + " reads content " + c + ", not " + last[i]);
                        flushed[i] = c;
                        since.get(i).clear();
                    }
                } else if (kind < 84) {
                    // O churns: fresh blocks over its own LBNs 64.., and sometimes its copies of the shared contents go
                    for (int i = 0; i < 32; i++) write(vo, 64 + r.nextInt(192), Blocks.random(r));
                    if (r.nextInt(4) == 0) Await.value(vo.trim(0, SHARED * (long) Blocks.BS, false), "trim of o");
                    if (r.nextInt(2) == 0) for (int i = 0; i < SHARED; i++) write(vo, i, content[i]);
                    Await.value(vo.flush(), "flush of o");
                } else if (kind < 92) {
                    crashesW++;
                    pins += pw.foreignFigures()[0];
                    unpins += pw.foreignFigures()[2];
                    crash(pw);
                    pw = open(w, memberW, false);
                    vw = pw.volume("w");
                    for (int i = 0; i < LBNS; i++) {
                        byte[] got = Volumes.read(vw, i * (long) Blocks.BS, Blocks.BS);
                        int c = which(content, got, where + " lbn " + i + " after W's crash");
                        if (c != flushed[i] && !since.get(i).contains(c)) {
                            fail(where + ": after W's crash lbn " + i + " reads content " + c + "; flushed " + flushed[i] + ", written since " + since.get(i));
                        }
                        flushed[i] = c;
                        last[i] = c;
                        since.get(i).clear();
                    }
                } else {
                    crashesO++;
                    crash(po);
                    po = open(o, memberO, false);
                    vo = po.volume("o");
                }
            }
            Await.value(vw.flush(), "final flush of w");
            for (int i = 0; i < LBNS; i++) {
                byte[] got = Volumes.read(vw, i * (long) Blocks.BS, Blocks.BS);
                int c = which(content, got, "seed " + seed + ": lbn " + i + " at the end");
                assertEquals(last[i], c, "seed " + seed + ": lbn " + i + " at the end");
            }
            pins += pw.foreignFigures()[0];
            unpins += pw.foreignFigures()[2];
            System.out.println("ForeignPinsTest seed " + seed + ": " + OPS + " operations, " + crashesW + " crashes of W, " + crashesO
                    + " of O; " + pins + " pins, " + unpins + " unpins");
            assertTrue(pins >= OPS / 60 && unpins >= OPS / 120, "seed " + seed + ": blocks were shared and unshared: " + pins + " pins, " + unpins + " unpins");
        } finally {
            direct.pools.clear();
            po.close();
            pw.close();
        }
        PoolCheck.Result check = ClusterCheck.run(List.of(o, w), null);
        assertEquals(PoolCheck.CLEAN, check.exitCode(), "seed " + seed + ": " + check.problems() + " " + check.notes());
        // W opened again: its reconciliation with O leaves no slot that no mapping uses
        po = open(o, memberO, false);
        pw = open(w, memberW, false);
        Pool fw = pw, fo = po;
        // each reconciles with the other pools it names (O may name W: it stored after advice naming W's copy)
        Await.until(() -> fw.foreignFigures()[4] >= fw.foreignPools.size() && fo.foreignFigures()[4] >= fo.foreignPools.size(), 60,
                () -> "the reconciliations (W " + fw.foreignFigures()[4] + " of " + fw.foreignPools.size() + ", O " + fo.foreignFigures()[4]
                        + " of " + fo.foreignPools.size() + ")");
        direct.pools.clear();
        pw.close();
        po.close();
        check = ClusterCheck.run(List.of(o, w), null);
        assertEquals(PoolCheck.CLEAN, check.exitCode(), "seed " + seed + ": " + check.problems());
        String summary = String.join(" ", check.notes());
        assertTrue(summary.contains(" 0 reference slots no mapping uses"), "seed " + seed + ": " + summary);
    }

    /** Which content {@code got} is (-1: zeros); anything else fails. */
    static int which(byte[][] content, byte[] got, String where) {
        if (java.util.Arrays.equals(got, new byte[Blocks.BS])) return -1;
        for (int i = 0; i < content.length; i++) if (java.util.Arrays.equals(got, content[i])) return i;
        throw new AssertionError(where + ": reads bytes that are none of the contents written");
    }
}
