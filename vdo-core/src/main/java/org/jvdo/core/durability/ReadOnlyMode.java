package org.jvdo.core.durability;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.core.write.Faults;
import org.jvdo.journal.StorageErrors;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The pool's operating mode (dm-vdo's read-only notifier, plus a no-space state):
 * <ul>
 * <li><b>read-only</b>: a storage failure (or a lost acknowledged write) stops all writes, is
 *     recorded in the super block and survives a reopen until {@code check --repair};</li>
 * <li><b>no-space</b>: the host filesystem is full for metadata the pool must write (journal
 *     blocks, block-map pages at a checkpoint, the super block): new writes get ENOSPC, every
 *     checkpoint retries, the first that succeeds clears it ({@link #leaveNoSpace}); not recorded,
 *     nothing is damaged;</li>
 * <li><b>early acknowledgement off</b> for the rest of this open once the file's space turned out
 *     not to be reserved: writes are then acknowledged only once stored.</li>
 * </ul>
 */
public final class ReadOnlyMode implements Faults {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");

    private final String poolName;
    private final BlockStore store;
    private final SuperBlock sb;
    private final Object lock = new Object();
    private volatile String readOnlyReason;
    private volatile String noSpaceReason;
    private volatile boolean earlyAckOff;
    private volatile boolean closing;
    private volatile boolean crashed;
    /** Storage operations that met a full host filesystem (each counted once, retries not counted). */
    private final LongAdder noSpaceErrors = new LongAdder();
    /** Acknowledged writes that could not be stored for want of space, not yet reported by a flush. */
    private final AtomicLong lostWrites = new AtomicLong();
    private final LongAdder lostWritesTotal = new LongAdder();

    public ReadOnlyMode(String poolName, BlockStore store, SuperBlock sb) {
        this.poolName = poolName;
        this.store = store;
        this.sb = sb;
    }

    /** At open: the read-only reason recorded in the super block (or "opened for checking"). */
    public void startReadOnly(String reason) { readOnlyReason = reason; }

    /** The clean shutdown has begun: new writes are refused. */
    public void shutdown() { closing = true; }

    /** The pool crashed (tests): nothing more is recorded. */
    public void crashed() { crashed = true; closing = true; }

    public boolean isCrashed() { return crashed; }

    @Override
    public void checkWritable() {
        checkWritableIgnoringSpace();
        String full = noSpaceReason;
        if (full != null) throw new VdoException(Errno.ENOSPC, "pool " + poolName + ": host filesystem full, writes refused until space is freed: " + full);
    }

    @Override
    public void checkWritableIgnoringSpace() {
        checkNotReadOnly();
        if (closing) throw new VdoException(Errno.ESHUTDOWN, "pool " + poolName + " is shutting down");
    }

    /** EROFS when read-only. */
    public void checkNotReadOnly() {
        String r = readOnlyReason;
        if (r != null) throw new VdoException(Errno.EROFS, "pool " + poolName + " is read-only: " + r);
    }

    /**
     * A storage failure: the pool stops taking writes (dm-vdo's read-only mode) and says why.
     * A full host filesystem is not damage: it is the no-space state instead ({@link #noSpace}),
     * ENOSPC to the caller, and clears itself once a checkpoint gets through.
     */
    @Override
    public VdoException storageError(String op, IOException e) {
        String msg = op + " failed on " + store.describe() + ": " + e.getMessage();
        if (StorageErrors.isNoSpace(e)) return noSpace(msg, e);
        enterReadOnly(msg, e);
        return new VdoException(Errno.EIO, msg, e);
    }

    /** Enters (or stays in) the no-space state; the ENOSPC error for the caller. */
    public VdoException noSpace(String msg, Throwable cause) {
        noSpaceErrors.increment();
        boolean first = false;
        synchronized (lock) {
            if (noSpaceReason == null && readOnlyReason == null) { noSpaceReason = msg; first = true; }
        }
        if (first) {
            LOG.warning("pool " + poolName + ": host filesystem full (" + msg + "): new writes get ENOSPC until space is freed;"
                    + " the pending metadata is retried every 100 ms, no repair or restart is needed");
        }
        return new VdoException(Errno.ENOSPC, "host filesystem full: " + msg, cause);
    }

    /** Counts a storage operation that met a full filesystem without entering the no-space state. */
    public void countNoSpace() { noSpaceErrors.increment(); }

    /**
     * A data write (raw or packed block) met a full filesystem although its slab's space should
     * have been reserved (the filesystem cannot reserve, or it is copy-on-write): no state to
     * retry, the write fails with ENOSPC; early acknowledgement is turned off so later writes
     * that cannot be stored fail to their own client.
     */
    @Override
    public VdoException dataNoSpace(String msg, IOException cause) {
        noSpaceErrors.increment();
        turnEarlyAckOff("a data write found the host filesystem full (" + msg + ")");
        return new VdoException(Errno.ENOSPC, "host filesystem full: " + msg, cause);
    }

    /** From now on (until the pool is reopened) writes are acknowledged only once stored. */
    public void turnEarlyAckOff(String why) {
        if (earlyAckOff) return;
        earlyAckOff = true;
        LOG.warning("pool " + poolName + ": " + why + "; writes are acknowledged only once stored from now on (until the pool is reopened)");
    }

    @Override
    public void lostWrite(String what, Throwable cause) {
        lostWrites.incrementAndGet();
        lostWritesTotal.increment();
        earlyAckOff = true;
        LOG.log(Level.WARNING, "pool " + poolName + ": acknowledged write " + what + " could not be stored (host filesystem full);"
                + " the next flush reports it", cause);
    }

    /** Lost writes not yet reported, now taken for a flush to report. */
    public long takeLostWrites() { return lostWrites.getAndSet(0); }

    @Override
    public boolean earlyAckAllowed() { return !earlyAckOff && noSpaceReason == null; }

    /** Space is back (a checkpoint got through): writes are accepted again. */
    public void leaveNoSpace() {
        String was;
        synchronized (lock) {
            was = noSpaceReason;
            noSpaceReason = null;
        }
        if (was != null) LOG.warning("pool " + poolName + ": space is back, writes are accepted again (was: " + was + ")");
    }

    @Override
    public void enterReadOnly(String reason, Throwable cause) {
        if (crashed) return;
        synchronized (lock) {
            if (readOnlyReason != null) return;
            readOnlyReason = reason;
        }
        LOG.log(Level.SEVERE, "pool " + poolName + " entering read-only mode: " + reason, cause);
        try {
            synchronized (sb) {
                sb.readOnly = true;
                sb.readOnlyReason = reason;
                sb.write(store);
            }
        } catch (Throwable t) {
            LOG.log(Level.SEVERE, "could not record read-only mode in the super block", t);
        }
    }

    public boolean isReadOnly() { return readOnlyReason != null; }

    public String readOnlyReason() { return readOnlyReason; }

    public String noSpaceReason() { return noSpaceReason; }

    public String mode() { return readOnlyReason != null ? "read-only" : noSpaceReason != null ? "no-space" : "normal"; }

    public long noSpaceErrors() { return noSpaceErrors.sum(); }

    public long lostWritesTotal() { return lostWritesTotal.sum(); }
}
