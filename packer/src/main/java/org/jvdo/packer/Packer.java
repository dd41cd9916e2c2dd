package org.jvdo.packer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * Gathers compressed fragments from many concurrent write requests into a small set of open
 * bins and hands each bin, once it is worth writing, to a {@link BinWriter} that stores it as one
 * {@link PackedBlock}.
 *
 * <p>It exists because compression only saves space when several compressed logical blocks share
 * one physical block (as dm-vdo's packer does). Requests arrive one at a time, so their fragments
 * must wait in bins until a bin is full enough, or until the caller decides they have waited long
 * enough ({@link #flushOlderThan}), or a request must leave early ({@link #flushBinOf}).
 *
 * <p>Policy:
 * <ul>
 *   <li>At most {@code binCount} bins are open at once.</li>
 *   <li>A fragment goes to the <em>best-fit</em> bin: the open bin with the least free space that
 *       still holds it (ties go to the bin opened first). If no open bin holds it and fewer than
 *       {@code binCount} bins are open, a fresh bin is opened. If all bins are open and none holds
 *       it, the fullest bin (least free space) is handed to the writer and the fragment starts a
 *       fresh bin.</li>
 *   <li>A bin that reaches {@value PackedBlock#MAX_FRAGMENTS} fragments, or whose free space falls
 *       below {@code minFreeBytes}, is handed to the writer at once.</li>
 * </ul>
 *
 * <p>Thread safety: all methods may be called concurrently. Bins are chosen and removed under an
 * internal lock; the writer is always called after that lock is released, by the thread whose call
 * removed the bin, so a slow write never blocks adders. Every bin is handed over exactly once and
 * every fragment added is in exactly one bin handed over (once it leaves the packer). If the writer
 * throws, the remaining bins collected by the same call are still handed over, then the first
 * exception is rethrown (later ones suppressed); the bin it failed on counts as handed over.
 *
 * <p>A bin handed to the writer belongs to the writer: the packer never reuses its object or its
 * buffer, so an asynchronous writer may keep it. A single-fragment bin is handed over too; see
 * {@link BinWriter} for why it must be written uncompressed.
 *
 * <p>Owners are compared by identity; an owner may have at most one fragment waiting at a time.
 *
 * @param <T> the request type that owns each fragment
 */
public final class Packer<T> {

    /** Default number of open bins (dm-vdo's default packer size). */
    public static final int DEFAULT_BIN_COUNT = 16;
    /** Default free-space threshold below which a bin is written at once. */
    public static final int DEFAULT_MIN_FREE_BYTES = 32;

    private final int binCount;
    private final int minFreeBytes;
    private final BinWriter<T> writer;
    private final LongSupplier clock;

    private final ReentrantLock lock = new ReentrantLock();
    /** Open, non-empty bins in the order they were opened. Guarded by lock. */
    private final List<Bin<T>> open = new ArrayList<>();
    /** Waiting owner to its bin. Guarded by lock. */
    private final Map<T, Bin<T>> waiting = new HashMap<>(); // owners are compared by identity (they do not override equals)
    /** Guarded by lock. */
    private long fragmentsPacked;
    /** Guarded by lock. */
    private long binsWritten;

    /**
     * Creates a packer with the default free-space threshold ({@value #DEFAULT_MIN_FREE_BYTES}).
     *
     * @param binCount number of bins open at once, at least 1 (typically {@value #DEFAULT_BIN_COUNT})
     * @param writer   receives every filled bin
     */
    public Packer(int binCount, BinWriter<T> writer) {
        this(binCount, DEFAULT_MIN_FREE_BYTES, writer);
    }

    /**
     * Creates a packer.
     *
     * @param binCount     number of bins open at once, at least 1
     * @param minFreeBytes a bin whose free space drops below this is written at once,
     *                     0..{@link PackedBlock#MAX_PAYLOAD}
     * @param writer       receives every filled bin
     */
    public Packer(int binCount, int minFreeBytes, BinWriter<T> writer) {
        this(binCount, minFreeBytes, writer, System::nanoTime);
    }

    /** A packer whose bins are timestamped by {@code clock} ({@link System#nanoTime()} units). */
    public Packer(int binCount, int minFreeBytes, BinWriter<T> writer, LongSupplier clock) {
        if (binCount < 1) {
            throw new IllegalArgumentException("binCount " + binCount + " < 1");
        }
        if (minFreeBytes < 0 || minFreeBytes > PackedBlock.MAX_PAYLOAD) {
            throw new IllegalArgumentException(
                    "minFreeBytes " + minFreeBytes + " not in 0.." + PackedBlock.MAX_PAYLOAD);
        }
        this.binCount = binCount;
        this.minFreeBytes = minFreeBytes;
        this.writer = Objects.requireNonNull(writer, "writer");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Copies {@code owner}'s compressed fragment into a bin. The bytes from {@code compressed}'s
     * position to its limit are copied; its position is not changed, and the caller may reuse it
     * as soon as this returns. May hand one or two bins to the writer (in this thread) before
     * returning; if the writer throws, the exception propagates but the fragment has been accepted.
     *
     * @param owner      the request that owns the fragment; must not already be waiting
     * @param compressed the fragment, 1..{@link PackedBlock#MAX_PAYLOAD} bytes remaining
     * @param encoding   the fragment's encoding, 0..{@value PackedBlock#MAX_ENCODING}
     * @throws IllegalArgumentException if the size or encoding is out of range or the owner is
     *                                  already waiting
     */
    public void add(T owner, ByteBuffer compressed, int encoding) {
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(compressed, "compressed");
        int size = compressed.remaining();
        if (size < 1 || size > PackedBlock.MAX_PAYLOAD) {
            throw new IllegalArgumentException(
                    "fragment size " + size + " not in 1.." + PackedBlock.MAX_PAYLOAD);
        }
        if (encoding < 0 || encoding > PackedBlock.MAX_ENCODING) {
            throw new IllegalArgumentException(
                    "encoding " + encoding + " not in 0.." + PackedBlock.MAX_ENCODING);
        }
        List<Bin<T>> ready = new ArrayList<>(2);
        lock.lock();
        try {
            if (waiting.containsKey(owner)) {
                throw new IllegalArgumentException("owner " + owner + " already has a fragment waiting");
            }
            Bin<T> target = bestFit(size);
            if (target == null) {
                if (open.size() >= binCount) {
                    take(fullest(), ready);
                }
                target = new Bin<>();
                open.add(target);
            }
            target.append(owner, compressed, encoding, clock.getAsLong());
            waiting.put(owner, target);
            fragmentsPacked++;
            if (target.size() == PackedBlock.MAX_FRAGMENTS || target.freeBytes() < minFreeBytes) {
                take(target, ready);
            }
        } finally {
            lock.unlock();
        }
        handOver(ready);
    }

    /** Hands every non-empty bin to the writer. */
    public void flush() {
        List<Bin<T>> ready = new ArrayList<>();
        lock.lock();
        try {
            while (!open.isEmpty()) {
                take(open.get(0), ready);
            }
        } finally {
            lock.unlock();
        }
        handOver(ready);
    }

    /**
     * Hands to the writer every bin whose first fragment was added before {@code nanoTime}
     * (a {@link System#nanoTime()} reading; compared overflow-safely).
     *
     * @param nanoTime the cut-off time
     * @return the number of bins handed over
     */
    public int flushOlderThan(long nanoTime) {
        List<Bin<T>> ready = new ArrayList<>();
        lock.lock();
        try {
            for (Bin<T> bin : new ArrayList<>(open)) {
                if (bin.oldestNanos() - nanoTime < 0) {
                    take(bin, ready);
                }
            }
        } finally {
            lock.unlock();
        }
        handOver(ready);
        return ready.size();
    }

    /**
     * Hands over the bin holding {@code owner}'s fragment, for example because a new write to the
     * same logical block must not overtake the waiting one.
     *
     * @param owner a request (identity comparison)
     * @return true if the owner was waiting and its bin was handed over, false otherwise
     */
    public boolean flushBinOf(T owner) {
        List<Bin<T>> ready = new ArrayList<>(1);
        lock.lock();
        try {
            Bin<T> bin = waiting.get(owner);
            if (bin == null) {
                return false;
            }
            take(bin, ready);
        } finally {
            lock.unlock();
        }
        handOver(ready);
        return true;
    }

    /** @return fragments currently waiting in open bins */
    public int fragmentsWaiting() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** @return non-empty bins currently open */
    public int binsWaiting() {
        lock.lock();
        try {
            return open.size();
        } finally {
            lock.unlock();
        }
    }

    /** @return total fragments accepted by {@link #add} since creation */
    public long fragmentsPacked() {
        lock.lock();
        try {
            return fragmentsPacked;
        } finally {
            lock.unlock();
        }
    }

    /**
     * @return total bins taken out of the packer for the writer since creation (counted when
     *         taken, so a bin whose write is still running is included)
     */
    public long binsWritten() {
        lock.lock();
        try {
            return binsWritten;
        } finally {
            lock.unlock();
        }
    }

    /** Least free space that still fits; ties to the earliest opened. Caller holds lock. */
    private Bin<T> bestFit(int size) {
        Bin<T> best = null;
        for (Bin<T> bin : open) {
            if (bin.size() < PackedBlock.MAX_FRAGMENTS && PackedBlock.fits(bin.usedBytes(), size)
                    && (best == null || bin.freeBytes() < best.freeBytes())) {
                best = bin;
            }
        }
        return best;
    }

    /** Least free space; ties to the earliest opened. Caller holds lock; open is non-empty. */
    private Bin<T> fullest() {
        Bin<T> fullest = open.get(0);
        for (Bin<T> bin : open) {
            if (bin.freeBytes() < fullest.freeBytes()) {
                fullest = bin;
            }
        }
        return fullest;
    }

    /** Removes an open bin from the packer and queues it for the writer. Caller holds lock. */
    private void take(Bin<T> bin, List<Bin<T>> ready) {
        if (!open.remove(bin)) {
            throw new IllegalStateException("bin is not open: " + bin);
        }
        for (T owner : bin.owners()) {
            waiting.remove(owner);
        }
        binsWritten++;
        ready.add(bin);
    }

    /** Calls the writer for every bin, outside the lock, even if one call throws. */
    private void handOver(List<Bin<T>> ready) {
        if (lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("writer must not be called under the packer lock");
        }
        Throwable first = null;
        for (Bin<T> bin : ready) {
            try {
                writer.write(bin);
            } catch (RuntimeException | Error e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first instanceof RuntimeException e) {
            throw e;
        }
        if (first instanceof Error e) {
            throw e;
        }
    }
}
