package org.jvdo.nbd;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongFunction;
import org.jvdo.core.api.BlockDevice;

/**
 * Wraps a device so tests can hold reads and writes: {@link #readGate} and {@link #writeGate}
 * map a request's offset to a future it waits for, and completions then happen on a foreign
 * thread, as with the real engine.
 */
final class ControlledDevice implements BlockDevice, AutoCloseable {
    final BlockDevice inner;
    final AtomicInteger readsStarted = new AtomicInteger();
    volatile LongFunction<CompletableFuture<Void>> readGate = off -> CompletableFuture.completedFuture(null);
    final AtomicInteger writesStarted = new AtomicInteger();
    volatile LongFunction<CompletableFuture<Void>> writeGate = off -> CompletableFuture.completedFuture(null);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "controlled-device");
        t.setDaemon(true);
        return t;
    });

    ControlledDevice(BlockDevice inner) {
        this.inner = inner;
    }

    @Override public String name() { return inner.name(); }
    @Override public long size() { return inner.size(); }
    @Override public boolean readOnly() { return inner.readOnly(); }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        readsStarted.incrementAndGet();
        return readGate.apply(offset).thenComposeAsync(v -> inner.read(offset, dst), timer);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        writesStarted.incrementAndGet();
        return writeGate.apply(offset).thenComposeAsync(v -> inner.write(offset, src, fua), timer);
    }

    @Override public CompletableFuture<Void> flush() { return inner.flush(); }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return inner.trim(offset, length, fua);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean noHole, boolean fua) {
        return inner.writeZeroes(offset, length, noHole, fua);
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        return inner.blockStatus(offset, length);
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
