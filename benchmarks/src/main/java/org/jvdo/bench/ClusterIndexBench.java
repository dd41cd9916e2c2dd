package org.jvdo.bench;

import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.jvdo.cluster.ClusterMember;
import org.jvdo.cluster.ClusterSettings;
import org.jvdo.cluster.HazelcastIndex;
import org.jvdo.core.api.LatencyHistogram;

/**
 * The clustered index's speed (issue 14): for 1, 2 and 3 members in this JVM (each its own
 * Hazelcast instance, talking over loopback TCP), one pool's {@link HazelcastIndex} on the first
 * member inserts N random fingerprints (at most W in flight), then looks all of them up (at most
 * W in flight): operations per second, the lookup latency's p50/p99 (the index's own histogram:
 * bucket upper bounds), hits, and the bytes per entry per replica from Hazelcast's map statistics.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar:benchmarks/target/lib/* org.jvdo.bench.ClusterIndexBench [N (200000)] [members (1,2,3)] [W (4096)]</pre>
 */
public final class ClusterIndexBench {
    private ClusterIndexBench() { }

    public static void main(String[] args) throws Exception {
        System.setProperty("hazelcast.wait.seconds.before.join", "0");
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        String[] counts = (args.length > 1 ? args[1] : "1,2,3").split(",");
        int window = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        System.out.printf("ClusterIndexBench: %d fingerprints, %d in flight, common pool parallelism %d, %d cores%n", n, window,
                java.util.concurrent.ForkJoinPool.getCommonPoolParallelism(), Runtime.getRuntime().availableProcessors());
        System.out.println("| members | inserts/s | lookups/s | lookup p50 | lookup p99 | found | B/entry owned | B/entry backup |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (String c : counts) run(Integer.parseInt(c.trim()), n, window);
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void run(int count, int n, int window) throws Exception {
        String name = "bench-" + Long.toHexString(System.nanoTime());
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < count; i++) addresses.add("127.0.0.1:" + freePort());
        List<ClusterMember> members = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                members.add(ClusterMember.start(ClusterSettings.of(name, addresses.get(i), addresses, count > 1 ? 1 : 0, 10_000)));
            }
            HazelcastIndex index = new HazelcastIndex(members.get(0), UUID.randomUUID());
            long[] hi = new long[n], lo = new long[n];
            SplittableRandom r = new SplittableRandom(count);
            for (int i = 0; i < n; i++) { hi[i] = r.nextLong(); lo[i] = r.nextLong(); }
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                while (index.pendingUpdates() >= window) Thread.onSpinWait();
                index.update(hi[i], lo[i], 1 + i);
            }
            if (!index.awaitUpdates(120_000)) throw new IllegalStateException("inserts did not finish");
            double insertsPerSecond = n / ((System.nanoTime() - t0) / 1e9);
            Semaphore inFlight = new Semaphore(window);
            LongAdder found = new LongAdder();
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                inFlight.acquire();
                long want = 1 + i;
                index.lookupAsync(hi[i], lo[i], 0, i, (mapping, foreign) -> {
                    if (mapping == want) found.increment();
                    inFlight.release();
                });
            }
            if (!inFlight.tryAcquire(window, 120, TimeUnit.SECONDS)) throw new IllegalStateException("lookups did not finish");
            double lookupsPerSecond = n / ((System.nanoTime() - t1) / 1e9);
            LatencyHistogram.Snapshot lat = index.lookupLatency();
            long owned = 0, backup = 0, entries = 0;
            for (ClusterMember m : members) {
                Map<String, Object> f = m.localFigures();
                owned += ((Number) f.get("index_memory_bytes")).longValue();
                backup += ((Number) f.get("index_backup_memory_bytes")).longValue();
                entries += ((Number) f.get("index_entries")).longValue();
            }
            System.out.printf("| %d | %,.0f | %,.0f | %d µs | %d µs | %d of %d | %.1f | %s |%n", count, insertsPerSecond, lookupsPerSecond,
                    lat.quantileNanos(0.50) / 1000, lat.quantileNanos(0.99) / 1000, found.sum(), n, entries == 0 ? 0.0 : (double) owned / entries,
                    count > 1 ? String.format("%.1f", (double) backup / entries) : "(no backup)");
            index.close();
        } finally {
            for (ClusterMember m : members) m.close();
        }
    }
}
