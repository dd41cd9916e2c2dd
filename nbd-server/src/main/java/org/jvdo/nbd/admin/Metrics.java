package org.jvdo.nbd.admin;

import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;

/** The pool's figures in the Prometheus text exposition format 0.0.4. */
final class Metrics {
    private Metrics() { }

    private static final String[][] OPS = {
            {"read", "bios_in_read"}, {"write", "bios_in_write"}, {"discard", "bios_in_discard"},
            {"write_zeroes", "bios_in_write_zeroes"}, {"flush", "bios_in_flush"}};

    static String render(Pool pool) {
        Map<String, Long> s = pool.stats();
        Set<String> done = new HashSet<>();
        StringBuilder b = new StringBuilder(8192);

        header(b, "jvdo_operations_total", "counter", "Requests received, by type.");
        for (String[] op : OPS) {
            b.append("jvdo_operations_total{type=\"").append(op[0]).append("\"} ").append(s.getOrDefault(op[1], 0L)).append('\n');
            done.add(op[1]);
        }
        header(b, "jvdo_bytes_total", "counter", "Bytes read and written by clients.");
        b.append("jvdo_bytes_total{type=\"read\"} ").append(s.getOrDefault("bytes_read", 0L)).append('\n');
        b.append("jvdo_bytes_total{type=\"write\"} ").append(s.getOrDefault("bytes_written", 0L)).append('\n');
        done.add("bytes_read");
        done.add("bytes_written");

        long used = s.getOrDefault("logical_blocks_used", 0L), data = s.getOrDefault("data_blocks_used", 0L);
        header(b, "jvdo_saved_bytes", "gauge", "Logical bytes in use minus bytes stored for them (dedupe, compression, zero blocks).");
        b.append("jvdo_saved_bytes ").append(Math.max(0, used - data) * 4096).append('\n');
        gauge(b, "jvdo_saving_ratio", "Share of logical blocks in use that need no data block of their own (0..1).",
                used == 0 ? 0.0 : Math.max(0, used - data) / (double) used);
        gauge(b, "jvdo_vio_pool_in_use", "Data vios in flight (write queue depth).", s.getOrDefault("vio_pool_in_use", 0L));
        gauge(b, "jvdo_vio_pool_waiting", "Block requests waiting for a free data vio.", pool.vioPoolWaiting());
        gauge(b, "jvdo_packer_fragments_waiting", "Compressed fragments waiting in the packer.",
                s.getOrDefault("compressed_fragments_in_packer", 0L));
        gauge(b, "jvdo_read_only", "1 when the pool is in read-only mode.", pool.isReadOnly() ? 1 : 0);
        done.add("vio_pool_in_use");
        done.add("compressed_fragments_in_packer");
        done.add("read_only");
        done.add("saving_percent");

        header(b, "jvdo_volume_logical_blocks_used", "gauge", "Logical blocks mapped, per volume.");
        for (Volume v : pool.volumes()) {
            b.append("jvdo_volume_logical_blocks_used{volume=\"").append(escape(v.name())).append("\"} ")
                    .append(v.stats().getOrDefault("logical_blocks_used", 0L)).append('\n');
        }
        header(b, "jvdo_volume_logical_blocks", "gauge", "Logical size in blocks, per volume.");
        for (Volume v : pool.volumes()) {
            b.append("jvdo_volume_logical_blocks{volume=\"").append(escape(v.name())).append("\"} ")
                    .append(v.logicalBlocks()).append('\n');
        }

        header(b, "jvdo_stage_latency_seconds", "histogram", "Write-path stage latencies.");
        for (Map.Entry<String, LatencyHistogram> e : pool.stageLatencies().entrySet()) {
            LatencyHistogram.Snapshot h = e.getValue().snapshot();
            String stage = escape(e.getKey());
            for (int i = 0; i < LatencyHistogram.BUCKETS; i++) {
                b.append("jvdo_stage_latency_seconds_bucket{stage=\"").append(stage).append("\",le=\"")
                        .append(seconds(LatencyHistogram.boundNanos(i))).append("\"} ").append(h.cumulative()[i]).append('\n');
            }
            b.append("jvdo_stage_latency_seconds_bucket{stage=\"").append(stage).append("\",le=\"+Inf\"} ").append(h.count()).append('\n');
            b.append("jvdo_stage_latency_seconds_sum{stage=\"").append(stage).append("\"} ").append(seconds(h.sumNanos())).append('\n');
            b.append("jvdo_stage_latency_seconds_count{stage=\"").append(stage).append("\"} ").append(h.count()).append('\n');
        }

        // every other pool statistic (vdostats names, engine counters) as a gauge of its own name
        for (Map.Entry<String, Long> e : s.entrySet()) {
            if (done.contains(e.getKey())) continue;
            String name = "jvdo_" + sanitize(e.getKey());
            header(b, name, "gauge", "Pool statistic " + e.getKey() + ".");
            b.append(name).append(' ').append(e.getValue()).append('\n');
        }
        return b.toString();
    }

    private static void header(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, double value) {
        header(b, name, "gauge", help);
        b.append(name).append(' ').append(value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value)).append('\n');
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.9f", nanos / 1e9).replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    static String sanitize(String key) {
        String n = key.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        return n.isEmpty() || Character.isDigit(n.charAt(0)) ? "_" + n : n;
    }

    static String escape(String label) {
        return label.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
