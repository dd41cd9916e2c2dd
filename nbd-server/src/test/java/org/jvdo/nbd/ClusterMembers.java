package org.jvdo.nbd;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How a cluster test starts its members: each a {@code jvdo serve --cluster} JVM serving one
 * volume of its own pool, on loopback, finding the others at once (no join wait) and declaring a
 * silent member dead after 5 s. What differs between tests: the cluster's name, the heap, the
 * volume's sizes.
 */
record ClusterMembers(String cluster, String heap, String logicalSize, String physicalSize) {
    /**
     * Starts member {@code slot} of {@code members} (the cluster addresses, this one's at
     * {@code slot}), serving {@code volume} from the pool at {@code data}, logs named
     * {@code logName} in {@code logDir}; adds it to {@code started} (for the test to stop)
     * before waiting until it serves the volume.
     */
    ServeProcess start(List<ServeProcess> started, Path logDir, String logName, Path data, String volume, String[] members,
            int slot, Duration timeout) throws Exception {
        List<String> jvm = List.of(heap, "-Dhazelcast.wait.seconds.before.join=0",
                "-Djava.util.concurrent.ForkJoinPool.common.parallelism=4");
        ServeProcess p = ServeProcess.serveJvm(jvm, logDir, logName, data, ServeProcess.freePort(),
                "--volume", volume, "--logical-size", logicalSize, "--physical-size", physicalSize,
                "--cluster", cluster, "--cluster-listen", members[slot], "--cluster-members", String.join(",", members),
                "--cluster-index-timeout", "5000", "--cluster-failure-timeout", "5");
        started.add(p);
        p.awaitServing(volume, timeout);
        return p;
    }
}
