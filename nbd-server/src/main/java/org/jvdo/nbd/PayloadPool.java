package org.jvdo.nbd;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reusable arrays for WRITE payloads and READ data, so that a steady stream of requests does not
 * allocate (and zero) a fresh array per request: a profile of 4k random writes put 38% of the
 * server's allocated bytes and the event loop's top frame there, and 1M reads allocated a
 * 1 MiB array per read (then copied it once more into a Vert.x buffer).
 *
 * <p>Arrays come in power-of-two sizes from 4 KiB to 1 MiB (plus {@link #SLACK} bytes); a
 * payload gets the smallest that holds it (larger payloads get a fresh array of their own size). At most {@code maxPooledBytes}
 * are kept; beyond that a returned array is left to the collector.
 *
 * <p>The rule that keeps it safe: an array goes back only after the device's future for the
 * write has completed and the reply is written ({@link org.jvdo.core.api.BlockDevice#write}:
 * "the buffer may be reused once the future completes"), and never when the device threw
 * instead of returning a future (it might still hold the buffer). Every byte of a payload is
 * read from the socket before the device sees it, so a reused array's old contents are never
 * visible. A READ's array goes back once its reply is written (the socket's write completed or
 * failed, or the reply was dropped), never after the device threw; the device fills every byte
 * of it before its future completes normally, and a failed read sends none of it.
 */
final class PayloadPool {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 20;
    /**
     * Every pooled array is a power of two plus this many bytes, so a READ's reply header fits in
     * front of its data in the same array (a 1 MiB read is one 1 MiB-class array, written as is).
     */
    static final int SLACK = 64;

    @SuppressWarnings("unchecked")
    private final ConcurrentLinkedQueue<byte[]>[] free = new ConcurrentLinkedQueue[MAX_SHIFT - MIN_SHIFT + 1];
    private final AtomicLong pooled = new AtomicLong();
    private final long maxPooledBytes;

    PayloadPool(long maxPooledBytes) {
        this.maxPooledBytes = Math.max(0, maxPooledBytes);
        for (int i = 0; i < free.length; i++) free[i] = new ConcurrentLinkedQueue<>();
    }

    /** The size class (index into {@link #free}) that holds {@code length}, or -1 if none does. */
    static int sizeClass(int length) {
        if (length <= 0 || length > (1 << MAX_SHIFT) + SLACK) return -1;
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(Math.max(1, length - SLACK) - 1));
        return shift - MIN_SHIFT;
    }

    private static int arrayLength(int sizeClass) {
        return (1 << (sizeClass + MIN_SHIFT)) + SLACK;
    }

    /** An array of at least {@code length} bytes (contents undefined). */
    byte[] take(int length) {
        int c = sizeClass(length);
        if (c < 0) return new byte[length];
        byte[] a = free[c].poll();
        if (a == null) return new byte[arrayLength(c)];
        pooled.addAndGet(-a.length);
        return a;
    }

    /** Returns an array from {@link #take}; arrays of other sizes are ignored. */
    void give(byte[] a) {
        int c = sizeClass(a.length);
        if (c < 0 || a.length != arrayLength(c)) return;
        if (pooled.addAndGet(a.length) > maxPooledBytes) {
            pooled.addAndGet(-a.length);
            return;
        }
        free[c].offer(a);
    }

    /** Bytes held in the pool right now. */
    long pooledBytes() {
        return pooled.get();
    }
}
