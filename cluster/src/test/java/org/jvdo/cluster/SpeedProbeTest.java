package org.jvdo.cluster;

import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A benchmark, not a test (no timing is asserted; off unless -Djvdo.bench=1): index inserts and
 * lookups per second through 1 and 2 in-JVM members, 4096 in flight. docs/benchmarks.md has its figures.
 */
class SpeedProbeTest {
    @Test
    @EnabledIfSystemProperty(named = "jvdo.bench", matches = "1")
    void probe() throws Exception {
        for (int members : new int[] {1, 2}) {
            try (ClusterFixture c = new ClusterFixture(members, members - 1)) {
                HazelcastIndex a = new HazelcastIndex(c.get(0), UUID.randomUUID());
                long[][] fp = HazelcastIndexTest.fingerprints(100_000, 9);
                long t = System.nanoTime();
                HazelcastIndexTest.insert(a, fp, 0, fp.length);
                double s = (System.nanoTime() - t) / 1e9;
                System.out.printf("PROBE members=%d inserts/s=%.0f%n", members, fp.length / s);
                t = System.nanoTime();
                HazelcastIndexTest.found(a, fp, null);
                s = (System.nanoTime() - t) / 1e9;
                System.out.printf("PROBE members=%d lookups/s=%.0f%n", members, fp.length / s);
            }
        }
    }
}
