package org.jvdo.bench;

import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.Volume;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** A pool in a fresh temporary directory on disk (under java.io.tmpdir, or $JVDO_BENCH_DIR), deleted on close. */
final class PoolFixture implements AutoCloseable {
    final Path dir;
    final Pool pool;
    final Volume volume;

    PoolFixture(long logicalBytes, long physicalBytes) throws IOException {
        String base = System.getenv("JVDO_BENCH_DIR");
        dir = base == null ? Files.createTempDirectory("jvdo-bench-") : Files.createTempDirectory(Path.of(base), "jvdo-bench-");
        PoolConfig cfg = new PoolConfig();
        cfg.physicalBytes = physicalBytes;
        pool = Pool.create(dir.resolve("pool"), cfg);
        volume = pool.createVolume("vdo0", logicalBytes);
    }

    static void await(CompletableFuture<?> f) {
        try {
            f.get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("I/O failed or hung: " + e, e);
        }
    }

    static void awaitAll(CompletableFuture<?>[] fs) {
        for (int i = 0; i < fs.length; i++) {
            if (fs[i] != null) { await(fs[i]); fs[i] = null; }
        }
    }

    /** One line of the stats that tell what the pool did (printed in the fork's output). */
    String summary() {
        Map<String, Long> s = pool.stats();
        return "pool stats: logical_blocks_used=" + s.get("logical_blocks_used")
                + " data_blocks_used=" + s.get("data_blocks_used")
                + " compressed_fragments_written=" + s.get("compressed_fragments_written")
                + " compressed_blocks_written=" + s.get("compressed_blocks_written")
                + " dedupe_advice_valid=" + s.get("dedupe_advice_valid")
                + " dedupe_advice_stale=" + s.get("dedupe_advice_stale")
                + " concurrent_data_matches=" + s.get("concurrent_data_matches")
                + " saving_percent=" + s.get("saving_percent");
    }

    @Override
    public void close() throws IOException {
        try {
            pool.close();
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
