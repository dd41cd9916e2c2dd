package org.jvdo.core.write;

import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.read.LogicalReads;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Stage "logical lock" (dm-vdo's per-LBN lock): one {@link LbnLock} per LBN with writes or reads
 * in flight, kept in a {@link ConcurrentHashMap} and changed only inside its per-key
 * {@code compute}, which is the lock that guards an {@link LbnLock} and the queue fields of the
 * vios in it. Reads meet writes here too ({@link LogicalReads}).
 */
public final class LogicalLocks implements LogicalReads {
    /** Lock keys are {@code volume id << 48 | lbn}: volume ids below 2^15 and LBNs below 2^48 cannot collide. */
    public static final int MAX_VOLUME_ID = (1 << 15) - 1;
    public static final long MAX_LBN = (1L << 48) - 1;

    final ConcurrentHashMap<Long, LbnLock> locks = new ConcurrentHashMap<>();
    /** Where a write that waited for an LBN's readers goes once the last one leaves. */
    private final Consumer<DataVio> readersGone;

    LogicalLocks(Consumer<DataVio> readersGone) { this.readersGone = readersGone; }

    static long key(LogicalVolume v, long lbn) { return ((long) v.id() << 48) | lbn; }

    /**
     * The lock of one LBN: the queue of writes to it in arrival order (the head is the one in
     * progress; the tail holds the newest data, which reads return), and the reads of stored data
     * in progress, which a write must not overtake when it changes the mapping.
     */
    static final class LbnLock {
        final ArrayDeque<DataVio> writes = new ArrayDeque<>(2);
        int readers;
        DataVio finishWaiter;
        /** Reads waiting for the newest write's data to be complete (a partial write reading its base). */
        private CompletableFuture<Void> readyWaiters;

        /** For a read that found the newest write incomplete: completes when any write here becomes ready or leaves. */
        CompletableFuture<Void> readerWaiting() {
            if (readyWaiters == null) readyWaiters = new CompletableFuture<>();
            return readyWaiters;
        }

        /** Wakes the waiting reads (they look again). */
        void wakeReaders() {
            if (readyWaiters != null) { readyWaiters.complete(null); readyWaiters = null; }
        }

        boolean idle() { return writes.isEmpty() && readers == 0 && finishWaiter == null; }
    }

    @Override
    public int enter(LogicalVolume vol, long lbn, byte[] out, int off, CompletableFuture<?>[] wait) {
        final int[] mode = {REGISTERED};
        locks.compute(key(vol, lbn), (k, l) -> {
            if (l != null && !l.writes.isEmpty()) {
                DataVio tail = l.writes.peekLast();
                if (tail.ready) { System.arraycopy(tail.data, 0, out, off, 4096); mode[0] = COPIED; }
                else { mode[0] = WAIT; wait[0] = l.readerWaiting(); }
                return l;
            }
            if (l == null) l = new LbnLock();
            l.readers++;
            return l;
        });
        return mode[0];
    }

    @Override
    public void leave(LogicalVolume vol, long lbn) {
        final DataVio[] waiter = {null};
        locks.compute(key(vol, lbn), (k, l) -> {
            l.readers--;
            if (l.readers == 0 && l.finishWaiter != null) { waiter[0] = l.finishWaiter; l.finishWaiter = null; }
            return l.idle() ? null : l;
        });
        if (waiter[0] != null) readersGone.accept(waiter[0]);
    }

    /** The mapping the newest queued write of the LBN will record (a write's is "some raw block"), or -1 when none is queued. */
    long pendingMapping(LogicalVolume vol, long lbn) {
        final long[] pending = {-1};
        locks.computeIfPresent(key(vol, lbn), (k, l) -> {
            DataVio tail = l.writes.peekLast();
            if (tail != null) {
                pending[0] = switch (tail.kind) {
                    case DataVio.TRIM -> Mapping.UNMAPPED_ENTRY;
                    case DataVio.WRITE_ZERO -> Mapping.ZERO_ENTRY;
                    default -> Mapping.raw(0);
                };
            }
            return l;
        });
        return pending[0];
    }

    boolean isLocked(LogicalVolume vol, long lbn) { return locks.containsKey(key(vol, lbn)); }

    /** True while any LBN of volume {@code id} has a write or read in flight. */
    boolean hasLocksOf(int id) {
        for (Long k : locks.keySet()) if ((k >>> 48) == id) return true;
        return false;
    }

    int size() { return locks.size(); }
}
