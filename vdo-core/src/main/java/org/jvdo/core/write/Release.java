package org.jvdo.core.write;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;

import java.util.ArrayDeque;
import java.util.logging.Logger;

/**
 * Stage "release", and the failure of a vio: it leaves its LBN queue (the next write of that
 * LBN starts), ends its flush generation (a flush waiting for it may go) and returns to the
 * {@link VioPool} once the accepting thread is done with it too. A failure undoes what the vio
 * holds (block reference, reservation, hash lock) and tells its client, or, for a write already
 * acknowledged, the pool (read-only mode; a want of space only fails the next flush).
 */
final class Release {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");

    private final Flow flow;
    private final LogicalLocks locks;
    private final VioPool vios;
    private final FlushTracker flushTracker;
    private final SlabDepot depot;
    private final JournalAppender journal;
    private final Faults faults;

    Release(Flow flow, LogicalLocks locks, VioPool vios, FlushTracker flushTracker, SlabDepot depot, JournalAppender journal, Faults faults) {
        this.flow = flow;
        this.locks = locks;
        this.vios = vios;
        this.flushTracker = flushTracker;
        this.depot = depot;
        this.journal = journal;
        this.faults = faults;
    }

    /**
     * Leaves the LBN queue, lets the next write of the LBN go, returns the vio to the pool. When
     * {@code v} failed before its data was complete, the partial write queued right behind it
     * (which was to merge over that data) cannot be built and fails too, and so on down the line.
     */
    void release(DataVio v, Throwable failure) {
        final DataVio[] next = {null};
        final DataVio[] stranded = {null};
        locks.locks.compute(v.key, (k, l) -> {
            DataVio head = l.writes.pollFirst();
            if (head != v) throw new IllegalStateException("logical lock order broken at " + v);
            DataVio n = l.writes.peekFirst();
            if (n != null) {
                if (n.ready) next[0] = n;
                else if (!v.ready) stranded[0] = n;
            }
            l.wakeReaders();
            return l.idle() ? null : l;
        });
        ArrayDeque<Runnable> flushes = flushTracker.end(v.generation);
        String what = stranded[0] != null ? v.toString() : null; // only for the stranded reader's error (v is reused once released)
        if (v.dropHold()) v.home.release(v);
        for (Runnable r : flushes) r.run();
        // a flush still waiting may now wait only for fragments in the packer's bins: write them
        // (otherwise they sit out the packer timeout)
        if (flushes.isEmpty() && flushTracker.flushWaiting()) flow.packForFlushSoon();
        if (next[0] != null) { DataVio n = next[0]; Trampoline.run(() -> flow.launch(n)); }
        if (stranded[0] != null) {
            DataVio s = stranded[0];
            Errno errno = failure != null && VdoException.errnoOf(failure) == Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO;
            VdoException e = new VdoException(errno, "read-modify-write of " + s + " failed: the write it merges over ("
                    + what + ") failed" + (failure != null ? ": " + failure.getMessage() : ""), failure);
            Trampoline.run(() -> flow.fail(s, e));
        }
    }

    /** A vio that cannot complete: undo what it holds; the client hears of it, or the pool if it was already acknowledged. */
    void fail(DataVio v, Throwable t) {
        if (v.volume == null) {
            // already back in the pool (an engine failing its queue at shutdown after the vio completed)
            LOG.fine(() -> "failure of a vio no longer in use ignored: " + t);
            return;
        }
        if (v.holdsRef && Mapping.hasBlock(v.newMapping)) {
            try { depot.decrement(Mapping.pbn(v.newMapping), journal.lastAppendedSeq()); } catch (Throwable ignore) { }
            v.holdsRef = false;
        }
        v.releaseReservation(depot);
        flow.abandonHashLock(v);
        if (v.claimAck()) {
            v.request.fail(t);
        } else if (v.kind == DataVio.WRITE || v.kind == DataVio.TRIM || v.kind == DataVio.WRITE_ZERO) {
            Errno e = VdoException.errnoOf(t);
            // want of space is not damage: nothing of it was recorded, the next flush tells the client
            if (e == Errno.ENOSPC || e == Errno.EDQUOT) faults.lostWrite(v.toString(), t);
            else faults.enterReadOnly("acknowledged write of " + v + " lost: " + t.getMessage(), t);
        }
        flow.release(v, t);
    }
}
