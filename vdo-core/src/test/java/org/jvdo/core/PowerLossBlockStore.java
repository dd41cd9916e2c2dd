package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.physical.FileBlockStore;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.core.physical.SuperBlock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongPredicate;
import java.util.function.UnaryOperator;

/**
 * Test double of the file layer only: a power-loss simulator. Every write goes through to the
 * wrapped store at once (so the running engine reads back what it wrote), but each 4 KiB page
 * written since the last {@link #sync()} is remembered with its durable old content and its
 * newest content. {@link #simulateCrash} then decides, page by page, what reached the media:
 * the old or the new content (any subset), or in torn mode possibly a mix of both at 512-byte
 * sector granularity, writes that choice into the wrapped store, syncs and closes it.
 *
 * <p>Use: {@code Pool.crash()} (the pool stops without flushing and closes this store, which
 * from then on refuses all I/O), then {@code simulateCrash(rnd, torn)}, then reopen the pool
 * over the file. After a clean {@code Pool.close()} nothing is pending and close closes the file.
 *
 * <p>{@link #inMemory} makes one over a sparse in-memory store instead, for sizes far beyond the
 * host filesystem: given to a pool through {@link #wrapper()} (the pool's real file is opened
 * and closed with it but holds nothing), it outlives the pool, so the same store is reopened
 * after a {@link #powerLoss()}. Chosen writes can be failed ({@link #failWrite}).
 */
final class PowerLossBlockStore implements BlockStore {
    static final int SECTOR = 512;

    private final BlockStore inner;
    /** Over a {@link MemBlockStore}: outlives the pools that use it, never refuses I/O. */
    private final boolean memory;
    /** In memory: unsynced blocks that did not exist before (a power loss removes them again). */
    private final Set<Long> absentBefore = new HashSet<>();
    /** In memory: the pool's real file, kept only to be closed with the pool. */
    private BlockStore poolFile;
    /** Writes to blocks it accepts fail with an IOException before anything is written. */
    volatile LongPredicate failWrite = b -> false;
    /** Unsynced pages: block number -> {durable old content, newest content}. */
    private final TreeMap<Long, byte[][]> unsynced = new TreeMap<>();
    private boolean closedByPool;
    private boolean innerClosed;
    long syncs, writes;
    /** Most pages ever pending at once, and the super block copies written unsynced at once. */
    int maxUnsynced;
    int maxSuperCopiesUnsynced;

    PowerLossBlockStore(BlockStore inner) { this(inner, false); }

    private PowerLossBlockStore(BlockStore inner, boolean memory) {
        this.inner = inner;
        this.memory = memory;
    }

    /** A power-loss store over a sparse in-memory store named {@code name}. */
    static PowerLossBlockStore inMemory(String name) { return new PowerLossBlockStore(new MemBlockStore(name), true); }

    /** For {@code cfg.storeWrapper} of an {@link #inMemory} store: keeps the pool's file only to close it. */
    UnaryOperator<BlockStore> wrapper() {
        if (!memory) throw new IllegalStateException("wrapper() is for in-memory stores; wrap the pool's store with new PowerLossBlockStore(s)");
        return f -> {
            synchronized (this) { poolFile = f; }
            return this;
        };
    }

    /** What a simulated power loss did. */
    record CrashReport(int pending, int keptNew, int revertedOld, int torn, boolean superCopy0Pending,
                       boolean superCopy1Pending, String detail) {
        boolean bothSuperCopiesPending() { return superCopy0Pending && superCopy1Pending; }

        @Override
        public String toString() {
            return pending + " unsynced pages: " + keptNew + " new, " + revertedOld + " old, " + torn + " torn; super block copies unsynced: "
                    + (superCopy0Pending ? "0 " : "") + (superCopy1Pending ? "1" : "") + (detail.isEmpty() ? "" : "; " + detail);
        }
    }

    private void checkOpen() throws IOException {
        if (closedByPool) throw new IOException("power-loss store " + inner.describe() + " is closed (crashed)");
    }

    @Override
    public synchronized void read(long blockNumber, ByteBuffer dst) throws IOException {
        checkOpen();
        inner.read(blockNumber, dst);
    }

    @Override
    public synchronized void write(long blockNumber, ByteBuffer src) throws IOException {
        checkOpen();
        if (src.remaining() % BLOCK_SIZE != 0) throw new IOException("unaligned write of " + src.remaining() + " bytes");
        int n = src.remaining() / BLOCK_SIZE;
        for (long b = blockNumber; b < blockNumber + n; b++) {
            if (failWrite.test(b)) throw new IOException("injected write error at block " + b);
        }
        byte[][] fresh = new byte[n][];
        ByteBuffer s = src.duplicate();
        for (int i = 0; i < n; i++) {
            fresh[i] = new byte[BLOCK_SIZE];
            s.get(fresh[i]);
            long b = blockNumber + i;
            if (!unsynced.containsKey(b)) {
                ByteBuffer old = ByteBuffer.allocate(BLOCK_SIZE);
                if (memory) {
                    if (!((MemBlockStore) inner).blocks.containsKey(b)) absentBefore.add(b);
                    inner.read(b, old);                                // an absent block reads zeros
                } else if (b < inner.sizeInBlocks()) {
                    inner.read(b, old);                                // past the end it was nothing: zeros
                }
                unsynced.put(b, new byte[][]{old.array(), null});
            }
            // recorded before the write: a write that fails half-way may have reached the file or not
            unsynced.get(b)[1] = fresh[i];
        }
        inner.write(blockNumber, src);
        writes++;
        maxUnsynced = Math.max(maxUnsynced, unsynced.size());
        int copies = (pendingIn(0, SuperBlock.COPY_BLOCKS) ? 1 : 0) + (pendingIn(SuperBlock.COPY_BLOCKS, 2 * SuperBlock.COPY_BLOCKS) ? 1 : 0);
        maxSuperCopiesUnsynced = Math.max(maxSuperCopiesUnsynced, copies);
    }

    private boolean pendingIn(long from, long to) {
        Long k = unsynced.ceilingKey(from);
        return k != null && k < to;
    }

    @Override
    public synchronized void sync() throws IOException {
        checkOpen();
        inner.sync();
        unsynced.clear();
        absentBefore.clear();
        syncs++;
    }

    /** The file's length (layout end) changes at once; the engine syncs before it relies on it. */
    @Override
    public synchronized void extendTo(long blocks) throws IOException {
        checkOpen();
        inner.extendTo(blocks);
    }

    @Override
    public synchronized long sizeInBlocks() throws IOException {
        checkOpen();
        return inner.sizeInBlocks();
    }

    @Override
    public String describe() { return inner.describe(); }

    /** The pool's close (clean or crash): refuses further I/O; the file stays open while unsynced pages await {@link #simulateCrash}. */
    @Override
    public synchronized void close() throws IOException {
        if (memory) {
            // the media outlive the pool: only its real file is closed
            if (poolFile != null) { poolFile.close(); poolFile = null; }
            return;
        }
        closedByPool = true;
        if (unsynced.isEmpty() && !innerClosed) {
            innerClosed = true;
            inner.close();
        }
    }

    /** Super block copies with writes since the last sync: 0, 1 or 2. */
    synchronized int superCopiesPending() {
        return (pendingIn(0, SuperBlock.COPY_BLOCKS) ? 1 : 0) + (pendingIn(SuperBlock.COPY_BLOCKS, 2 * SuperBlock.COPY_BLOCKS) ? 1 : 0);
    }

    /** Pages written since the last sync (for tests). */
    synchronized int pendingPages() { return unsynced.size(); }

    /**
     * A power loss in which nothing unsynced arrived: every page written since the last sync
     * gets its durable content back. An {@link #inMemory} store stays usable (reopen a pool over
     * it); over a file this is {@code simulateCrash} with every page {@link Fate#OLD}.
     */
    synchronized void powerLoss() throws IOException {
        if (!memory) {
            simulateCrash(null, false, b -> Fate.OLD);
            return;
        }
        for (Map.Entry<Long, byte[][]> e : unsynced.entrySet()) {
            if (absentBefore.contains(e.getKey())) ((MemBlockStore) inner).blocks.remove(e.getKey());
            else inner.write(e.getKey(), ByteBuffer.wrap(e.getValue()[0]));
        }
        unsynced.clear();
        absentBefore.clear();
    }

    /**
     * The power loss: each unsynced page independently keeps its new content or reverts to its
     * old one; with {@code torn}, a page may instead get each 512-byte sector from either. Then
     * the file is synced and closed. Call after the pool has stopped (Pool.crash()).
     */
    synchronized CrashReport simulateCrash(Random rnd, boolean torn) throws IOException {
        return simulateCrash(rnd, torn, null);
    }

    /** What reaches the file of one unsynced page, for a chosen (not random) power loss. */
    enum Fate { OLD, NEW, TORN }

    /**
     * As above, but {@code policy} (when not null) decides each page's fate; a torn page gets
     * its even sectors new and its odd sectors old.
     */
    synchronized CrashReport simulateCrash(Random rnd, boolean torn, java.util.function.LongFunction<Fate> policy) throws IOException {
        if (memory) throw new IllegalStateException("simulateCrash is for file-backed stores; an in-memory one has powerLoss()");
        closedByPool = true;
        if (innerClosed) return new CrashReport(0, 0, 0, 0, false, false, "");
        boolean sb0 = pendingIn(0, SuperBlock.COPY_BLOCKS), sb1 = pendingIn(SuperBlock.COPY_BLOCKS, 2 * SuperBlock.COPY_BLOCKS);
        int pending = unsynced.size(), kept = 0, reverted = 0, tornPages = 0;
        // vary the odds per crash: sometimes almost everything arrived, sometimes almost nothing
        double pNew = rnd == null ? 1 : rnd.nextDouble();
        double pTorn = torn && rnd != null ? 0.1 + 0.4 * rnd.nextDouble() : 0;
        StringBuilder sbDetail = new StringBuilder();
        // Pool.crash() interrupts its threads; an interrupt inside FileChannel I/O closes the
        // channel, so apply the power-loss choice through a fresh handle on the same file
        BlockStore target = inner;
        if (inner instanceof FileBlockStore) {
            try { inner.close(); } catch (IOException ignored) { }
            target = new FileBlockStore(java.nio.file.Path.of(inner.describe()), false);
        } else if (inner instanceof SegmentedBlockStore seg) {
            try { inner.close(); } catch (IOException ignored) { }
            target = seg.reopen();
        }
        for (Map.Entry<Long, byte[][]> e : unsynced.entrySet()) {
            long b = e.getKey();
            byte[] old = e.getValue()[0], neu = e.getValue()[1];
            byte[] out;
            String what;
            Fate fate = policy == null ? null : policy.apply(b);
            if (fate == Fate.TORN) {
                out = old.clone();
                for (int s = 0; s < BLOCK_SIZE / SECTOR; s += 2) System.arraycopy(neu, s * SECTOR, out, s * SECTOR, SECTOR);
                tornPages++;
                what = "torn NoNoNoNo";
            } else if (fate == Fate.NEW) {
                out = neu;
                kept++;
                what = "new";
            } else if (fate == Fate.OLD) {
                out = old;
                reverted++;
                what = "old";
            } else if (torn && rnd.nextDouble() < pTorn) {
                out = old.clone();
                StringBuilder mask = new StringBuilder();
                for (int s = 0; s < BLOCK_SIZE / SECTOR; s++) {
                    boolean n = rnd.nextBoolean();
                    if (n) System.arraycopy(neu, s * SECTOR, out, s * SECTOR, SECTOR);
                    mask.append(n ? 'N' : 'o');
                }
                tornPages++;
                what = "torn " + mask;
            } else if (rnd.nextDouble() < pNew) {
                out = neu;
                kept++;
                what = "new";
            } else {
                out = old;
                reverted++;
                what = "old";
            }
            if (b < 2L * SuperBlock.COPY_BLOCKS) sbDetail.append("sb page ").append(b).append(' ').append(what).append("; ");
            target.write(b, ByteBuffer.wrap(out));
        }
        unsynced.clear();
        target.sync();
        innerClosed = true;
        target.close();
        if (target != inner) inner.close();
        return new CrashReport(pending, kept, reverted, tornPages, sb0, sb1, sbDetail.toString());
    }
}
