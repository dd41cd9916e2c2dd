package org.jvdo.core.write;

import org.jvdo.core.api.ForeignBlocks;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.read.ForeignPools;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Pins and unpins of other pools' blocks (docs/cluster.md, "Dedup across members"), on one thread
 * per pool ({@code jvdo-pins}) that sends them in the order they were asked for.
 *
 * <p>A pin for LBN l of volume v uses the reference slot {@code 2l + parity} of (this pool, v) in
 * the other pool, with the parity other than the one l's current foreign mapping of that pool
 * uses, so the slot a durable mapping relies on is never rewritten. Before a batch is sent the
 * journal is committed ({@link JournalAppender#commitNow}): every earlier change of l is durable
 * first, and an unpin goes out only after the mapping change that stopped using its slot is
 * durable. The pinned block is then read from the other pool's file and compared byte for byte
 * before the vio maps it ({@code dedupe_foreign_shared}); a mismatch unpins it and writes the
 * block here. Unpins the other pool's owner cannot take now wait, in order, in memory, and go
 * before any later pin to that pool (a pin then fails while they still fail). They are not kept
 * across a restart of this pool: such a slot keeps its block (a leak, never a block freed while
 * mapped).
 */
final class ForeignPins {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");
    private static final long RETRY_NANOS = 1_000_000_000L;

    private final Flow flow;
    private final JournalAppender journal;
    private volatile ForeignBlocks spi;
    private volatile ForeignPools table;
    private Supplier<UUID> uuid;
    private LongSupplier epoch;
    private Supplier<java.util.Collection<LogicalVolume>> volumes;
    private Thread thread;
    private volatile boolean stopping;
    private final ArrayDeque<Op> queue = new ArrayDeque<>();
    /** Unpins not yet taken by the other pool's owner, per pool, oldest first (guarded by {@code queue}). */
    private final Map<UUID, List<Op>> retry = new HashMap<>();
    final LongAdder pinned = new LongAdder(), refused = new LongAdder(), unpinned = new LongAdder(), reconciled = new LongAdder();

    /** One pin (with its vio), unpin, or reconciliation ({@code volume} -1) of one other pool. */
    private static final class Op {
        final boolean pin;
        final DataVio v;
        final UUID pool;
        final int volume;
        final long volumeBlocks, slot, mapping;
        final int parity;
        private boolean answered;

        Op(boolean pin, DataVio v, UUID pool, int volume, long volumeBlocks, long slot, int parity, long mapping) {
            this.pin = pin;
            this.v = v;
            this.pool = pool;
            this.volume = volume;
            this.volumeBlocks = volumeBlocks;
            this.slot = slot;
            this.parity = parity;
            this.mapping = mapping;
        }

        boolean reconcile() { return !pin && volume < 0; }

        /** The first answer only: a vio continues once. */
        synchronized boolean claimAnswer() {
            if (answered) return false;
            answered = true;
            return true;
        }
    }

    ForeignPins(Flow flow, JournalAppender journal) {
        this.flow = flow;
        this.journal = journal;
    }

    /** Starts the thread: pins become possible. */
    synchronized void enable(ForeignBlocks spi, ForeignPools table, Supplier<UUID> uuid, LongSupplier epoch,
                             Supplier<java.util.Collection<LogicalVolume>> volumes) {
        if (this.spi != null) return;
        this.table = table;
        this.uuid = uuid;
        this.epoch = epoch;
        this.volumes = volumes;
        this.spi = spi;
        // first of all, each pool this one names learns which of its reference slots are still used
        for (int k = 1; k <= table.size(); k++) enqueue(new Op(false, null, table.uuid(k), -1, 0, -1, 0, k));
        thread = new Thread(this::run, "jvdo-pins");
        thread.setDaemon(true);
        thread.start();
    }

    boolean active() { return spi != null && !stopping; }

    /** Unpins still waiting for their pool's owner. */
    long waitingUnpins() {
        synchronized (queue) {
            long n = 0;
            for (List<Op> l : retry.values()) n += l.size();
            return n;
        }
    }

    /**
     * Asks for a pin of {@code advice} (a block of pool {@code pool}) for {@code v}; the answer
     * continues {@code v} through {@link Flow#adviceArrived} (a foreign mapping, or -1). False
     * when no pin can be asked for (not a cluster pool, an internal volume, the map unreadable).
     */
    boolean pinLater(DataVio v, UUID pool, long advice) {
        if (!active() || v.volume.isInternal() || !Mapping.hasBlock(advice)) return false;
        long current;
        try {
            current = v.volume.blockMap().get(v.lbn);
        } catch (Exception e) {
            return false;
        }
        int parity = 0;
        if (Mapping.isForeign(current) && pool.equals(table.uuid(Mapping.foreignPool(current)))) parity = 1 - Mapping.foreignParity(current);
        enqueue(new Op(true, v, pool, v.volume.id(), v.volume.logicalBlocks(), 2 * v.lbn + parity, parity, advice));
        return true;
    }

    /** {@code old}, a foreign mapping of {@code vol}'s {@code lbn}, was replaced: unpin its slot once that is durable. */
    void unpinLater(LogicalVolume vol, long lbn, long old) {
        ForeignPools t = table;
        UUID pool = t == null ? null : t.uuid(Mapping.foreignPool(old));
        if (pool == null || spi == null) return;
        enqueue(new Op(false, null, pool, vol.id(), vol.logicalBlocks(), 2 * lbn + Mapping.foreignParity(old), Mapping.foreignParity(old),
                Mapping.local(old)));
    }

    private void enqueue(Op op) {
        synchronized (queue) {
            queue.add(op);
            queue.notifyAll();
        }
    }

    /**
     * Stops the thread: no new pins; with {@code drain} what is queued is sent first (a close),
     * without it nothing more is sent (a crash) and queued pins answer -1.
     */
    void stop(boolean drain) {
        Thread t;
        synchronized (this) {
            stopping = true;
            t = thread;
        }
        if (t == null) return;
        List<Op> dropped;
        synchronized (queue) {
            dropped = drain ? List.of() : new ArrayList<>(queue);
            if (!drain) queue.clear();
            queue.notifyAll();
        }
        for (Op op : dropped) if (op.pin) answer(op, -1);
        try {
            t.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        List<Op> batch = new ArrayList<>();
        while (true) {
            List<UUID> waiting = null;
            synchronized (queue) {
                long idleSince = System.nanoTime();
                while (queue.isEmpty() && !stopping) {
                    // what waits for an unreachable owner is tried again every second while nothing else comes
                    if (!retry.isEmpty() && System.nanoTime() - idleSince >= RETRY_NANOS) {
                        waiting = new ArrayList<>(retry.keySet());
                        break;
                    }
                    try { queue.wait(retry.isEmpty() ? 0 : RETRY_NANOS / 1_000_000); } catch (InterruptedException e) { return; }
                }
                if (waiting == null && queue.isEmpty()) return;
                batch.addAll(queue);
                queue.clear();
            }
            if (waiting != null) {
                try {
                    journal.commitNow();
                    for (UUID pool : waiting) retried(pool);
                } catch (Throwable t) {
                    LOG.fine(() -> "retry of waiting unpins failed: " + t);
                }
                continue;
            }
            try {
                process(batch);
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "foreign pins failed", t);
                for (Op op : batch) if (op.pin && op.v != null) answer(op, -1);
            }
            batch.clear();
        }
    }

    private void process(List<Op> batch) {
        try {
            journal.commitNow();
        } catch (Throwable t) {
            // nothing may be sent that relies on changes not durable: pins fail, unpins wait
            LOG.fine(() -> "journal commit before pins failed: " + t);
            for (Op op : batch) {
                if (op.pin) answer(op, -1);
                else keep(op);
            }
            return;
        }
        int i = 0;
        while (i < batch.size()) {
            Op first = batch.get(i);
            int j = groupEnd(batch, i);
            List<Op> group = batch.subList(i, j);
            if (first.pin) pins(first.pool, group);
            else if (first.reconcile()) for (Op op : group) reconcile(op, true);
            else unpins(first.pool, group, true);
            i = j;
        }
    }

    /** Waiting unpins and reconciliations of {@code pool} first, in order; true when none is left. */
    private boolean retried(UUID pool) {
        List<Op> waiting;
        synchronized (queue) {
            waiting = retry.remove(pool);
        }
        if (waiting == null) return true;
        int i = 0;
        while (i < waiting.size()) {
            Op first = waiting.get(i);
            // reconciliations one at a time (a failed one keeps itself and what follows)
            int j = first.reconcile() ? i + 1 : groupEnd(waiting, i);
            boolean ok = first.reconcile() ? reconcile(first, false) : unpins(pool, waiting.subList(i, j), false);
            if (!ok) {
                synchronized (queue) {
                    List<Op> rest = new ArrayList<>(waiting.subList(i, waiting.size()));
                    List<Op> later = retry.remove(pool);
                    if (later != null) rest.addAll(later);
                    retry.put(pool, rest);
                }
                return false;
            }
            i = j;
        }
        return true;
    }

    /**
     * The end (exclusive) of the run of operations from {@code ops.get(from)} on that are of its
     * kind (pin, unpin, or reconciliation: volume -1), pool and volume: one group.
     */
    private static int groupEnd(List<Op> ops, int from) {
        Op first = ops.get(from);
        int end = from + 1;
        while (end < ops.size() && ops.get(end).pin == first.pin && ops.get(end).pool.equals(first.pool)
                && ops.get(end).volume == first.volume) end++;
        return end;
    }

    /**
     * Reconciliation (docs/cluster.md): this pool's foreign mappings of pool {@code op.mapping} (its
     * index k), per volume, scanned and then made durable (a mapping replaced during the scan has its
     * replacement journaled before the commit), sent so that the other pool trims every slot no
     * mapping uses. Pins of that pool wait behind it (one queue).
     */
    private boolean reconcile(Op op, boolean keepFailed) {
        if (keepFailed && !retried(op.pool)) {
            keep(op);
            return false;
        }
        int k = (int) op.mapping;
        try {
            List<LogicalVolume> vols = new ArrayList<>();
            for (LogicalVolume lv : volumes.get()) if (!lv.isInternal() && !lv.isDeleted()) vols.add(lv);
            int[] ids = new int[vols.size()];
            long[][] slots = new long[vols.size()][], maps = new long[vols.size()][];
            for (int i = 0; i < vols.size(); i++) {
                ids[i] = vols.get(i).id();
                java.util.ArrayList<long[]> found = new java.util.ArrayList<>();
                vols.get(i).blockMap().forEachMapped((lbn, m) -> {
                    if (Mapping.isForeign(m) && Mapping.foreignPool(m) == k) found.add(new long[]{2 * lbn + Mapping.foreignParity(m), Mapping.local(m)});
                });
                slots[i] = new long[found.size()];
                maps[i] = new long[found.size()];
                for (int j = 0; j < found.size(); j++) {
                    slots[i][j] = found.get(j)[0];
                    maps[i][j] = found.get(j)[1];
                }
            }
            journal.commitNow();
            long trimmed = spi.reconcile(uuid.get(), epoch.getAsLong(), op.pool, ids, slots, maps);
            reconciled.increment();
            if (trimmed > 0) LOG.info("pool " + op.pool + " dropped " + trimmed + " reference slots no mapping of this pool uses");
            return true;
        } catch (Throwable t) {
            LOG.fine(() -> "reconciliation with pool " + op.pool + " failed (kept): " + t);
            if (keepFailed) keep(op);
            return false;
        }
    }

    private void pins(UUID pool, List<Op> group) {
        if (!retried(pool)) {
            for (Op op : group) answer(op, -1);
            return;
        }
        Path folder = spi.folder(pool);
        long[] slots = new long[group.size()];
        byte[][] data = new byte[group.size()][];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = group.get(i).slot;
            data[i] = group.get(i).v.data;
        }
        long[] got;
        int k;
        try {
            if (folder == null) throw new java.io.IOException("no member knows the folder of pool " + pool);
            k = table.indexOf(pool, folder);
            got = spi.pin(uuid.get(), epoch.getAsLong(), pool, group.get(0).volume, group.get(0).volumeBlocks, slots, data);
        } catch (Throwable t) {
            LOG.fine(() -> "pins at pool " + pool + " failed: " + t);
            for (Op op : group) answer(op, -1);
            return;
        }
        byte[] candidate = new byte[4096];
        for (int i = 0; i < slots.length; i++) {
            Op op = group.get(i);
            long m = got != null && i < got.length ? got[i] : -1;
            if (m < 0 || !Mapping.hasBlock(m)) { refused.increment(); answer(op, -1); continue; }
            boolean same = false;
            try {
                table.blocks(k).readUnverified(op.v.volume, m, candidate, "foreign dedupe verify");
                same = Arrays.equals(candidate, op.v.data);
            } catch (Throwable t) {
                LOG.fine(() -> "foreign block " + Mapping.describe(m) + " of pool " + pool + " unreadable: " + t);
            }
            if (same) {
                pinned.increment();
                answer(op, Mapping.foreign(m, k, op.parity));
            } else {
                refused.increment();
                enqueue(new Op(false, null, pool, op.volume, op.volumeBlocks, op.slot, op.parity, m));
                answer(op, -1);
            }
        }
    }

    /** Sends unpins; failed ones wait (when {@code keep}); true when sent. */
    private boolean unpins(UUID pool, List<Op> group, boolean keepFailed) {
        if (keepFailed && !retried(pool)) {
            for (Op op : group) keep(op);
            return false;
        }
        long[] slots = new long[group.size()], maps = new long[group.size()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = group.get(i).slot;
            maps[i] = group.get(i).mapping;
        }
        try {
            spi.unpin(uuid.get(), epoch.getAsLong(), pool, group.get(0).volume, slots, maps);
            unpinned.add(slots.length);
            return true;
        } catch (Throwable t) {
            LOG.fine(() -> "unpins at pool " + pool + " failed (kept): " + t);
            if (keepFailed) for (Op op : group) keep(op);
            return false;
        }
    }

    private void keep(Op op) {
        synchronized (queue) {
            retry.computeIfAbsent(op.pool, p -> new ArrayList<>()).add(op);
        }
    }

    private void answer(Op op, long mapping) {
        if (op.v != null && op.claimAnswer()) flow.adviceArrived(op.v, mapping);
    }
}
