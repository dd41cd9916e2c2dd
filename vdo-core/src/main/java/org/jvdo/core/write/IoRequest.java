package org.jvdo.core.write;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** One client request split into vios: completes when every vio is acknowledged, or fails with the first error. */
final class IoRequest {
    final CompletableFuture<Void> future = new CompletableFuture<>();
    private final AtomicInteger pending;
    private volatile Throwable error;
    private final Runnable onAllAcked;

    /** {@code onAllAcked} (may be null) runs instead of completing the future, e.g. a FUA flush. */
    IoRequest(int vios, Runnable onAllAcked) {
        this.pending = new AtomicInteger(vios);
        this.onAllAcked = onAllAcked;
        if (vios == 0) done();
    }

    void ack() { if (pending.decrementAndGet() == 0) done(); }

    void fail(Throwable t) {
        if (error == null) error = t;
        if (pending.decrementAndGet() == 0) done();
    }

    private void done() {
        if (error != null) future.completeExceptionally(error);
        else if (onAllAcked != null) onAllAcked.run();
        else future.complete(null);
    }
}
