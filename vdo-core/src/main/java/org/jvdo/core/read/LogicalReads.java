package org.jvdo.core.read;

import org.jvdo.core.logical.LogicalVolume;

import java.util.concurrent.CompletableFuture;

/**
 * How a read meets the writes in flight (implemented by the write path's logical locks): a read
 * of an LBN with queued writes returns the newest one's data; otherwise it registers as a reader,
 * so no write changes the LBN's mapping until it {@link #leave}s.
 */
public interface LogicalReads {
    /** {@link #enter}: {@code out} now holds the newest queued write's data. */
    int COPIED = 1;
    /** {@link #enter}: registered; read what the mapping designates, then {@link #leave}. */
    int REGISTERED = 0;
    /** {@link #enter}: the newest queued write is still incomplete; wait on {@code wait[0]} and enter again. */
    int WAIT = 2;

    int enter(LogicalVolume vol, long lbn, byte[] out, int off, CompletableFuture<?>[] wait);

    /** Ends a registered read; a write waiting for the LBN's readers goes on. */
    void leave(LogicalVolume vol, long lbn);
}
