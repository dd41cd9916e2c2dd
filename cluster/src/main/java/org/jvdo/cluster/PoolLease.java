package org.jvdo.cluster;

import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jvdo.core.api.FencedException;
import org.jvdo.core.api.WriteFence;

/**
 * The write fence of a pool this member owns (docs/cluster.md, "Lease and fencing"): a lease of
 * {@code leaseMillis} renewed by re-reading the owner epoch from the pool's own super block on
 * the shared storage. The disk, not Hazelcast, is the arbiter: a new owner writes its epoch
 * (synced) and then waits one lease before it writes anything else ({@link #claimed} with
 * {@code takeover}), so every lease this member got from a read that still saw its epoch has run
 * out by then. A renewal measures the lease from the moment it started (the monotonic clock goes
 * on while a process is stopped), so a member paused past its lease finds out at its first write
 * after it resumes: the check re-reads the epoch, sees another, and refuses from then on.
 *
 * <p>What is left to chance is the moment between a check and the write it guards (docs/cluster.md).
 */
public final class PoolLease implements WriteFence, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PoolLease.class.getName());

    /** Reads the pool's current owner epoch from its super block. */
    @FunctionalInterface
    public interface EpochReader {
        long read() throws IOException;
    }

    private final String what;
    private final EpochReader reader;
    private final long leaseNanos;
    private final boolean takeover;
    private final Consumer<String> onFenced;
    private final ScheduledExecutorService renewer;
    private volatile long epoch = -1; // -1: not claimed yet, the claim's own write goes through
    private volatile long validUntil;
    private volatile String fenced;
    private volatile long renewals;

    /**
     * @param what the pool, for messages
     * @param takeover the open takes the pool from a former owner: {@link #claimed} waits one lease
     * @param onFenced told once, with the reason, when another member took the pool over
     */
    public PoolLease(String what, EpochReader reader, long leaseMillis, boolean takeover, Consumer<String> onFenced) {
        if (leaseMillis < 10) throw new IllegalArgumentException("lease " + leaseMillis + " ms");
        this.what = what;
        this.reader = reader;
        this.leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMillis);
        this.takeover = takeover;
        this.onFenced = onFenced;
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "jvdo-lease");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void claimed(long claimedEpoch) throws IOException {
        long start = System.nanoTime();
        epoch = claimedEpoch;
        validUntil = start + leaseNanos;
        long period = Math.max(1, TimeUnit.NANOSECONDS.toMillis(leaseNanos) / 3);
        renewer.scheduleWithFixedDelay(this::renewQuietly, period, period, TimeUnit.MILLISECONDS);
        if (takeover) {
            // the former owner may hold a lease from a read just before our claim: let it run out
            long left;
            while ((left = start + leaseNanos + TimeUnit.MILLISECONDS.toNanos(10) - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while the former owner's lease of " + what + " ran out");
                }
            }
        }
    }

    @Override
    public void check() throws FencedException {
        String f = fenced;
        if (f != null) throw new FencedException(f);
        if (epoch < 0) return; // the claim itself
        if (System.nanoTime() - validUntil < 0) return;
        renew();
    }

    /** Re-reads the epoch now; extends the lease when it is still ours, fences for good when not. */
    public synchronized void renew() throws FencedException {
        String f = fenced;
        if (f != null) throw new FencedException(f);
        long sent = System.nanoTime();
        long now;
        try {
            now = reader.read();
        } catch (IOException | RuntimeException e) {
            // not fenced for good: the storage may come back; until then nothing is written
            throw new FencedException(what + ": the owner epoch cannot be read (" + e.getMessage() + "); the lease is not renewed");
        }
        if (now != epoch) {
            String why = what + " was taken over by another member: its owner epoch is " + now + ", this member's " + epoch
                    + "; nothing more is written to it";
            fenced = why;
            LOG.warning(why);
            renewer.shutdown();
            try {
                onFenced.accept(why);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "after fencing " + what, e);
            }
            throw new FencedException(why);
        }
        validUntil = sent + leaseNanos; // renewals are serialized, so each starts later than the last
        renewals++;
    }

    private void renewQuietly() {
        try {
            renew();
        } catch (FencedException e) {
            // told through onFenced, or retried at the next period
        }
    }

    /** Why this member may no longer write the pool; null while it may. */
    public String fencedReason() { return fenced; }

    public long epoch() { return epoch; }

    public long renewals() { return renewals; }

    @Override
    public void close() { renewer.shutdownNow(); }
}
