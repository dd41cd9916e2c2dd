package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;

import org.jvdo.core.compress.CompressionEngine;
import org.jvdo.core.compress.CompressionEngineProvider;
import org.jvdo.core.compress.CompressionTask;
import org.jvdo.core.compress.FragmentCodec;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.Deflater;

/**
 * A stand-in "qat" provider for vdo-core's own tests of the provider policy: raw deflate
 * (encoding 2) inline, available unless {@link #unavailableReason} is set.
 */
public final class TestQatProvider implements CompressionEngineProvider {
    static volatile String unavailableReason;
    static final AtomicLong created = new AtomicLong();

    @Override
    public String name() { return "qat"; }

    @Override
    public Availability availability(PoolConfig config) {
        String r = unavailableReason;
        return r == null ? Availability.yes() : Availability.no(r);
    }

    @Override
    public CompressionEngine create(PoolConfig config) {
        created.incrementAndGet();
        return new CompressionEngine() {
            final AtomicLong requests = new AtomicLong();

            public String name() { return "qat"; }

            public void submit(CompressionTask t) {
                requests.incrementAndGet();
                Deflater d = new Deflater(1, true);
                d.setInput(t.source());
                d.finish();
                int n = d.deflate(t.target());
                boolean done = d.finished();
                d.end();
                t.compressed(done && n < 4096 ? n : 0, FragmentCodec.DEFLATE);
            }

            public int queued() { return 0; }

            public Map<String, Long> stats() { return Map.of("requests", requests.get()); }

            public void close() { }
        };
    }
}
