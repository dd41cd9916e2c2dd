package org.jvdo.core.durability;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.write.WritePipeline;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;

/**
 * FLUSH (dm-vdo's flush.c): a flush closes the write path's current generation; once every write
 * accepted before it has recorded its mapping, the flusher thread syncs the data and commits the
 * journal (one sync for every entry). One sync serves every flush that was ready when it
 * started. Acknowledged writes that were lost for want of space fail the flush that covers them
 * (and every flush the same sync served) with ENOSPC. Ticket bookkeeping runs on the flusher
 * thread only.
 */
public final class Flusher {
    private final String poolName;
    private final WritePipeline pipeline;
    private final Checkpointer checkpointer;
    private final ReadOnlyMode mode;
    private final ExecutorService flusherThread;
    private final BooleanSupplier closed;
    private final java.util.concurrent.atomic.AtomicLong flushReady = new java.util.concurrent.atomic.AtomicLong();
    private long flushSynced;
    /** Flush tickets whose flush reports lost writes (every flush one sync served fails alike). */
    private long lossFromTicket = Long.MAX_VALUE, lossToTicket = Long.MIN_VALUE;

    public Flusher(String poolName, WritePipeline pipeline, Checkpointer checkpointer, ReadOnlyMode mode, ExecutorService flusherThread,
                   BooleanSupplier closed) {
        this.poolName = poolName;
        this.pipeline = pipeline;
        this.checkpointer = checkpointer;
        this.mode = mode;
        this.flusherThread = flusherThread;
        this.closed = closed;
    }

    /** Makes every write acknowledged before this call durable. */
    public CompletableFuture<Void> flush() {
        if (mode.isReadOnly()) {
            return CompletableFuture.failedFuture(new VdoException(Errno.EIO, "pool " + poolName + " is read-only: " + mode.readOnlyReason()));
        }
        if (closed.getAsBoolean()) return CompletableFuture.failedFuture(new VdoException(Errno.ESHUTDOWN, "pool " + poolName + " is closed"));
        CompletableFuture<Void> f = new CompletableFuture<>();
        try {
            pipeline.flushTracker().flush(() -> {
                long ticket = flushReady.incrementAndGet();
                flusherThread.execute(() -> doFlush(f, ticket));
            });
            flusherThread.execute(pipeline::packForFlush);
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(new VdoException(Errno.ESHUTDOWN, "pool " + poolName + " is shut down"));
        }
        return f;
    }

    /** On the flusher thread: one data sync and one journal commit serve every flush that was ready when it started. */
    private void doFlush(CompletableFuture<Void> f, long ticket) {
        if (ticket <= flushSynced) {
            if (ticket >= lossFromTicket && ticket <= lossToTicket) f.completeExceptionally(lostWritesError(-1));
            else f.complete(null);
            return;
        }
        long target = flushReady.get();
        try {
            if (mode.isReadOnly()) throw new VdoException(Errno.EIO, "pool " + poolName + " is read-only: " + mode.readOnlyReason());
            checkpointer.commitNow();
            long prev = flushSynced;
            flushSynced = target;
            long lost = mode.takeLostWrites();
            if (lost > 0) {
                // every write acknowledged before this flush is durable, except these: the client hears of them here
                lossFromTicket = prev + 1;
                lossToTicket = target;
                f.completeExceptionally(lostWritesError(lost));
            } else {
                f.complete(null);
            }
            checkpointer.afterFlush();
        } catch (IOException e) {
            f.completeExceptionally(mode.storageError("flush", e));
        } catch (Throwable t) {
            f.completeExceptionally(t);
        }
    }

    private VdoException lostWritesError(long n) {
        return new VdoException(Errno.ENOSPC, "pool " + poolName + ": " + (n > 0 ? n + " acknowledged writes" : "acknowledged writes")
                + " since the previous flush could not be stored (host filesystem full); the blocks they wrote keep their older contents");
    }
}
