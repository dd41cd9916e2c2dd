package org.jvdo.nbd.admin;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.LatencyHistogram;

/**
 * {@code /metrics}: the pool's figures through the Prometheus Java client (1.x), in the text
 * exposition format 0.0.4, with the client's JVM and process metrics beside them.
 *
 * <p>Nothing here is on the I/O path: at each scrape a {@link MultiCollector} takes one
 * snapshot of {@link Pool#stats()}, each volume's {@link Volume#stats()} and the write-path
 * {@link LatencyHistogram}s (which stay the cheap lock-free counters they are) and turns them
 * into Prometheus snapshots. Counters end in {@code _total}, sizes are bytes, and volume,
 * engine and stage are labels. The names are listed in docs/architecture.md (admin API).
 */
final class Metrics {
    /** The version in {@code jvdo_build_info}: the jar manifest's, else the development version. */
    static final String VERSION = java.util.Objects.requireNonNullElse(Metrics.class.getPackage().getImplementationVersion(), "0.1.0-SNAPSHOT");
    static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    /**
     * The JVM's and the process's metrics, registered once per JVM: their collectors install
     * JMX notification listeners, which a registration per admin server would pile up.
     */
    private static final PrometheusRegistry JVM = jvmRegistry();

    private static PrometheusRegistry jvmRegistry() {
        PrometheusRegistry r = new PrometheusRegistry();
        JvmMetrics.builder().register(r);
        return r;
    }

    /** A registry with JVM/process metrics and the pool's, read from {@code pool} (null until the pool is open). */
    Metrics(Supplier<Pool> pool) {
        registry.register((MultiCollector) JVM::scrape);
        registry.register(new MultiCollector() {
            @Override
            public MetricSnapshots collect() {
                Pool p = pool.get();
                return p == null ? MetricSnapshots.of() : poolSnapshots(p);
            }
        });
    }

    private volatile ClusterView cluster;

    /** Adds the cluster's figures ({@code jvdo_cluster_*}) to every scrape. */
    void attachCluster(ClusterView view) {
        boolean first = cluster == null;
        cluster = view;
        if (first) registry.register(new MultiCollector() {
            @Override
            public MetricSnapshots collect() {
                ClusterView c = cluster;
                return c == null ? MetricSnapshots.of() : clusterSnapshots(c.figures());
            }
        });
    }

    /** {@code jvdo_cluster_} + each key: a counter when the key ends in {@code _total}, else a gauge. */
    static MetricSnapshots clusterSnapshots(Map<String, Number> figures) {
        List<MetricSnapshot> out = new ArrayList<>();
        for (Map.Entry<String, Number> f : figures.entrySet()) {
            String key = f.getKey();
            double value = f.getValue().doubleValue();
            if (key.endsWith("_total")) {
                String name = "jvdo_cluster_" + key.substring(0, key.length() - "_total".length());
                out.add(CounterSnapshot.builder().name(name).help("Cluster: " + key.replace('_', ' ') + ".")
                        .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(value).build()).build());
            } else {
                out.add(GaugeSnapshot.builder().name("jvdo_cluster_" + key).help("Cluster: " + key.replace('_', ' ') + ".")
                        .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).build()).build());
            }
        }
        return new MetricSnapshots(out);
    }

    /** One scrape in the text format. */
    String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(32 << 10);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- the pool's figures

    /** {type label value, per-volume counter key} of jvdo_requests_total. */
    private static final String[][] REQUESTS = {
            {"read", "bios_in_read"}, {"write", "bios_in_write"}, {"discard", "bios_in_discard"},
            {"write_zeroes", "bios_in_write_zeroes"}, {"flush", "bios_in_flush"}};
    /** {kind label value, per-volume counter key} of jvdo_blocks_written_total. */
    private static final String[][] WRITTEN = {
            {"compressed_fragment", "compressed_fragments_written"}, {"uncompressed", "uncompressed_blocks_written"},
            {"zero", "zero_blocks_written"}};
    /** {metric name without _total, pool statistic, help} of the pool's plain counters. */
    private static final String[][] POOL_COUNTERS = {
            {"jvdo_compressed_blocks_written", "compressed_blocks_written", "Data blocks written holding packed compressed fragments."},
            {"jvdo_journal_entries_committed", "journal_entries_committed", "Recovery-journal entries committed."},
            {"jvdo_journal_blocks_written", "journal_blocks_written", "Recovery-journal blocks written."},
            {"jvdo_journal_syncs", "journal_syncs", "Syncs of the recovery journal."},
            {"jvdo_journal_full_waits", "journal_full_waits", "Times a write waited for journal space."},
            {"jvdo_checkpoints", "checkpoints", "Block-map checkpoints written."},
            {"jvdo_checksum_errors", "checksum_errors", "Stored blocks read back with a bad checksum."},
            {"jvdo_no_space_errors", "no_space_errors", "Writes refused with ENOSPC."},
            {"jvdo_no_space_lost_writes", "no_space_lost_writes", "Acknowledged writes lost to a full host filesystem."}};
    /** Engine statistic suffixes (EngineRegistry: engine_NAME_SUFFIX) and their metric, counter or gauge. */
    private static final String[][] ENGINE = {
            {"requests", "jvdo_engine_requests", "Compression requests served by the engine."},
            {"bytes_in", "jvdo_engine_input_bytes", "Bytes given to the engine to compress."},
            {"bytes_out", "jvdo_engine_output_bytes", "Bytes the engine produced."},
            {"fallbacks", "jvdo_engine_fallbacks", "Requests the engine passed to its software fallback."},
            {"errors", "jvdo_engine_errors", "Engine failures."},
            {"available", "jvdo_engine_available", "1 when the engine can run here, 0 when it falls back."}};

    static MetricSnapshots poolSnapshots(Pool pool) {
        Map<String, Long> s = pool.stats();
        java.util.Collection<Volume> volumes = pool.volumes();
        Map<Volume, Map<String, Long>> vs = new LinkedHashMap<>();
        for (Volume v : volumes) vs.put(v, v.stats());
        List<MetricSnapshot> out = new ArrayList<>();

        out.add(InfoSnapshot.builder().name("jvdo_build").help("jvdo's version.")
                .dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder().labels(Labels.of("version", VERSION)).build()).build());

        CounterSnapshot.Builder requests = CounterSnapshot.builder().name("jvdo_requests").help("NBD requests received, by volume and type.");
        CounterSnapshot.Builder bytes = CounterSnapshot.builder().name("jvdo_client_bytes").unit(Unit.BYTES)
                .help("Bytes read and written by clients, by volume and direction.");
        CounterSnapshot.Builder written = CounterSnapshot.builder().name("jvdo_blocks_written")
                .help("Logical blocks written, by volume and how they were stored (compressed fragment, uncompressed block, zero).");
        CounterSnapshot.Builder advice = CounterSnapshot.builder().name("jvdo_dedupe_advice")
                .help("Deduplication index answers, by volume and result (valid: deduplicated; stale: the block had changed;"
                        + " timeout: no answer in time, written without dedup; foreign: the block is in another cluster member's pool).");
        CounterSnapshot.Builder matches = CounterSnapshot.builder().name("jvdo_concurrent_data_matches")
                .help("Writes deduplicated against a write of the same data still in flight.");
        CounterSnapshot.Builder collisions = CounterSnapshot.builder().name("jvdo_concurrent_hash_collisions")
                .help("Writes whose hash matched different data in flight.");
        CounterSnapshot.Builder compressionErrors = CounterSnapshot.builder().name("jvdo_compression_errors")
                .help("Blocks stored uncompressed because compression failed.");
        GaugeSnapshot.Builder size = GaugeSnapshot.builder().name("jvdo_volume_logical_size_bytes").unit(Unit.BYTES).help("Logical size of the volume.");
        GaugeSnapshot.Builder used = GaugeSnapshot.builder().name("jvdo_volume_logical_used_bytes").unit(Unit.BYTES)
                .help("Logical bytes of the volume mapped (written and not trimmed), zero blocks included.");
        GaugeSnapshot.Builder zero = GaugeSnapshot.builder().name("jvdo_volume_zero_bytes").unit(Unit.BYTES)
                .help("Logical bytes of the volume mapped to zero blocks, which take no storage (zram's same_pages).");
        for (Map.Entry<Volume, Map<String, Long>> e : vs.entrySet()) {
            String name = e.getKey().name();
            Map<String, Long> v = e.getValue();
            for (String[] r : REQUESTS) requests.dataPoint(counter(v.getOrDefault(r[1], 0L), "volume", name, "type", r[0]));
            bytes.dataPoint(counter(v.getOrDefault("bytes_read", 0L), "volume", name, "direction", "read"));
            bytes.dataPoint(counter(v.getOrDefault("bytes_written", 0L), "volume", name, "direction", "write"));
            for (String[] w : WRITTEN) written.dataPoint(counter(v.getOrDefault(w[1], 0L), "volume", name, "kind", w[0]));
            advice.dataPoint(counter(v.getOrDefault("dedupe_advice_valid", 0L), "volume", name, "result", "valid"));
            advice.dataPoint(counter(v.getOrDefault("dedupe_advice_stale", 0L), "volume", name, "result", "stale"));
            advice.dataPoint(counter(v.getOrDefault("dedupe_advice_timeouts", 0L), "volume", name, "result", "timeout"));
            advice.dataPoint(counter(v.getOrDefault("dedupe_advice_foreign", 0L), "volume", name, "result", "foreign"));
            matches.dataPoint(counter(v.getOrDefault("concurrent_data_matches", 0L), "volume", name));
            collisions.dataPoint(counter(v.getOrDefault("concurrent_hash_collisions", 0L), "volume", name));
            compressionErrors.dataPoint(counter(v.getOrDefault("compression_errors", 0L), "volume", name));
            size.dataPoint(gauge(e.getKey().size(), "volume", name));
            used.dataPoint(gauge(v.getOrDefault("logical_blocks_used", 0L) * 4096.0, "volume", name));
            zero.dataPoint(gauge(v.getOrDefault("same_pages", 0L) * 4096.0, "volume", name));
        }
        for (var b : List.of(requests, bytes, written, advice, matches, collisions, compressionErrors)) out.add(b.build());
        for (var b : List.of(size, used, zero)) out.add(b.build());

        for (String[] c : POOL_COUNTERS) {
            out.add(CounterSnapshot.builder().name(c[0]).help(c[2]).dataPoint(counter(s.getOrDefault(c[1], 0L))).build());
        }

        long usedBlocks = s.getOrDefault("logical_blocks_used", 0L), data = s.getOrDefault("data_blocks_used", 0L);
        out.add(bytesGauge("jvdo_logical_size_bytes", "Logical size of all volumes.", s.getOrDefault("logical_blocks", 0L)));
        out.add(bytesGauge("jvdo_logical_used_bytes", "Logical bytes mapped in all volumes.", usedBlocks));
        out.add(bytesGauge("jvdo_physical_size_bytes", "Size of the pool's storage.", s.getOrDefault("physical_blocks", 0L)));
        out.add(bytesGauge("jvdo_data_used_bytes", "Storage used by data blocks (uncompressed blocks and packed fragments).", data));
        out.add(bytesGauge("jvdo_overhead_used_bytes", "Storage used by metadata (super block, journal, slab metadata, block map).",
                s.getOrDefault("overhead_blocks_used", 0L)));
        out.add(bytesGauge("jvdo_saved_bytes", "Logical bytes mapped minus the data blocks stored for them (dedupe, compression, zero blocks).",
                Math.max(0, usedBlocks - data)));
        out.add(bytesGauge("jvdo_pending_free_bytes", "Data blocks freed but not yet reusable (until the next journal commit).",
                s.getOrDefault("blocks_pending_free", 0L)));
        out.add(GaugeSnapshot.builder().name("jvdo_saving_ratio").unit(Unit.RATIO)
                .help("Share of logical blocks mapped that need no data block of their own (0..1).")
                .dataPoint(gauge(usedBlocks == 0 ? 0.0 : Math.max(0, usedBlocks - data) / (double) usedBlocks)).build());
        out.add(plainGauge("jvdo_index_entries", "Entries in the deduplication index.", s.getOrDefault("index_entries", 0L)));
        out.add(GaugeSnapshot.builder().name("jvdo_index_memory_bytes").unit(Unit.BYTES).help("Memory of the deduplication index.")
                .dataPoint(gauge(s.getOrDefault("index_memory_bytes", 0L))).build());
        out.add(plainGauge("jvdo_vio_pool_size", "Data vios (the most writes in flight).", s.getOrDefault("vio_pool_size", 0L)));
        out.add(plainGauge("jvdo_vio_pool_in_use", "Data vios in flight (write queue depth).", s.getOrDefault("vio_pool_in_use", 0L)));
        out.add(plainGauge("jvdo_vio_pool_waiting", "Block requests waiting for a free data vio.", pool.vioPoolWaiting()));
        out.add(plainGauge("jvdo_packer_fragments_waiting", "Compressed fragments waiting in the packer for a bin to fill.",
                s.getOrDefault("compressed_fragments_in_packer", 0L)));
        out.add(plainGauge("jvdo_read_only", "1 when the pool is in read-only mode.", pool.isReadOnly() ? 1 : 0));
        out.add(plainGauge("jvdo_no_space", "1 while writes are refused for lack of space.", s.getOrDefault("no_space", 0L)));

        // engines: EngineRegistry names them engine_NAME_SUFFIX
        for (String[] e : ENGINE) {
            boolean isGauge = e[0].equals("available");
            CounterSnapshot.Builder cb = CounterSnapshot.builder().name(e[1]).help(e[2]);
            GaugeSnapshot.Builder gb = GaugeSnapshot.builder().name(e[1]).help(e[2]);
            if (e[1].endsWith("_bytes")) cb.unit(Unit.BYTES);
            int points = 0;
            for (Map.Entry<String, Long> st : s.entrySet()) {
                String k = st.getKey();
                if (!k.startsWith("engine_") || !k.endsWith("_" + e[0]) || k.length() <= 8 + e[0].length()) continue;
                String engine = k.substring("engine_".length(), k.length() - e[0].length() - 1);
                if (isGauge) gb.dataPoint(gauge(st.getValue(), "engine", engine));
                else cb.dataPoint(counter(st.getValue(), "engine", engine));
                points++;
            }
            if (points > 0) out.add(isGauge ? gb.build() : cb.build());
        }

        HistogramSnapshot.Builder h = HistogramSnapshot.builder().name("jvdo_stage_latency_seconds").unit(Unit.SECONDS)
                .help("Write-path stage latencies.");
        for (Map.Entry<String, LatencyHistogram> e : pool.stageLatencies().entrySet()) h.dataPoint(histogram(e.getKey(), e.getValue().snapshot()));
        out.add(h.build());
        return new MetricSnapshots(out);
    }

    /** A LatencyHistogram snapshot (cumulative finite buckets) as a classic histogram data point. */
    static HistogramSnapshot.HistogramDataPointSnapshot histogram(String stage, LatencyHistogram.Snapshot s) {
        double[] bounds = new double[LatencyHistogram.BUCKETS + 1];
        long[] counts = new long[LatencyHistogram.BUCKETS + 1];
        long prev = 0;
        for (int i = 0; i < LatencyHistogram.BUCKETS; i++) {
            bounds[i] = LatencyHistogram.boundNanos(i) / 1e9;
            long c = s.cumulative()[i];
            counts[i] = Math.max(0, c - prev);
            prev = Math.max(prev, c);
        }
        bounds[LatencyHistogram.BUCKETS] = Double.POSITIVE_INFINITY;
        counts[LatencyHistogram.BUCKETS] = Math.max(0, s.count() - prev);
        return HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(Labels.of("stage", stage))
                .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, counts)).sum(s.sumNanos() / 1e9).build();
    }

    private static CounterSnapshot.CounterDataPointSnapshot counter(double v, String... labels) {
        return CounterSnapshot.CounterDataPointSnapshot.builder().value(v).labels(Labels.of(labels)).build();
    }

    private static GaugeSnapshot.GaugeDataPointSnapshot gauge(double v, String... labels) {
        return GaugeSnapshot.GaugeDataPointSnapshot.builder().value(v).labels(Labels.of(labels)).build();
    }

    private static GaugeSnapshot bytesGauge(String name, String help, long blocks) {
        return GaugeSnapshot.builder().name(name).unit(Unit.BYTES).help(help).dataPoint(gauge(blocks * 4096.0)).build();
    }

    private static GaugeSnapshot plainGauge(String name, String help, double v) {
        return GaugeSnapshot.builder().name(name).help(help).dataPoint(gauge(v)).build();
    }
}
