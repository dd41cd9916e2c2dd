package org.jvdo.cluster;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Members of one cluster in this JVM, on free loopback ports; closed (terminated) by the test. */
final class ClusterFixture implements AutoCloseable {
    static {
        System.setProperty("hazelcast.wait.seconds.before.join", "0");
    }

    final String name = "test-" + Long.toHexString(System.nanoTime());
    final List<String> addresses = new ArrayList<>();
    final List<ClusterMember> members = new ArrayList<>();
    final int backups;

    ClusterFixture(int count, int backups) throws IOException {
        this.backups = backups;
        for (int i = 0; i < count; i++) addresses.add("127.0.0.1:" + freePort());
        for (int i = 0; i < count; i++) members.add(start(i));
    }

    ClusterMember start(int i) {
        return ClusterMember.start(ClusterSettings.of(name, addresses.get(i), addresses, backups, 10_000));
    }

    ClusterMember get(int i) { return members.get(i); }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        for (ClusterMember m : members) {
            try {
                m.terminate();
            } catch (RuntimeException ignored) {
                // already gone
            }
        }
    }
}
