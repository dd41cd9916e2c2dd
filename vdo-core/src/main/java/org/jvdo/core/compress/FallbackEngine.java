package org.jvdo.core.compress;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Stands in for a configured engine that is unavailable at open (e.g. a {@code qat} volume on a
 * machine without QAT): every request goes to the delegate ({@code lz4}) and is counted as a
 * fallback. Its name is the delegate's (the engine actually used); closing it leaves the
 * delegate, which the pool owns, open.
 */
public final class FallbackEngine implements CompressionEngine {
    private final String configured;
    private final String reason;
    private final CompressionEngine delegate;
    private final LongAdder fallbacks = new LongAdder();

    public FallbackEngine(String configured, String reason, CompressionEngine delegate) {
        this.configured = configured;
        this.reason = reason;
        this.delegate = delegate;
    }

    @Override
    public String name() { return delegate.name(); }

    /** The engine the volume is configured for. */
    public String configured() { return configured; }

    /** Why the configured engine is unavailable. */
    public String reason() { return reason; }

    public long fallbacks() { return fallbacks.sum(); }

    @Override
    public void submit(CompressionTask task) {
        fallbacks.increment();
        delegate.submit(task);
    }

    @Override
    public int queued() { return delegate.queued(); }

    @Override
    public Map<String, Long> stats() { return Map.of("available", 0L, "fallbacks", fallbacks.sum()); }

    @Override
    public void close() { }
}
