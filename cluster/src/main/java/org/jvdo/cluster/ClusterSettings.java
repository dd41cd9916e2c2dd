package org.jvdo.cluster;

import java.util.List;
import java.util.Objects;

/**
 * How this process joins the cluster ({@code serve --cluster ...}).
 *
 * @param name               the cluster's name: members with another name never join
 * @param host               the address this member listens on and is known by (an IP address)
 * @param port               its port (no auto-increment: a taken port is an error)
 * @param members            the other members to join, {@code host:port} each (TCP-IP join; may include this one)
 * @param backups            backup copies of each index partition (0..6)
 * @param indexTimeoutMillis how long a write waits for the index's answer before it goes on without dedup
 * @param failureSeconds     a member not heard from for this long is removed and its pools are taken over
 *                           (Hazelcast's {@code hazelcast.max.no.heartbeat.seconds})
 * @param leaseMillis        a pool's write lease (docs/cluster.md): a takeover waits this long after its claim
 */
public record ClusterSettings(String name, String host, int port, List<String> members, int backups, long indexTimeoutMillis,
                              int failureSeconds, long leaseMillis) {
    public static final int DEFAULT_FAILURE_SECONDS = 10;
    public static final long DEFAULT_LEASE_MILLIS = 3000;

    public ClusterSettings(String name, String host, int port, List<String> members, int backups, long indexTimeoutMillis) {
        this(name, host, port, members, backups, indexTimeoutMillis, DEFAULT_FAILURE_SECONDS, DEFAULT_LEASE_MILLIS);
    }

    public ClusterSettings {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(host, "host");
        members = List.copyOf(members);
        if (port < 1 || port > 65535) throw new IllegalArgumentException("cluster port " + port + " is not 1..65535");
        if (backups < 0 || backups > 6) throw new IllegalArgumentException("cluster backups " + backups + " is not 0..6");
        if (indexTimeoutMillis < 1) throw new IllegalArgumentException("index timeout " + indexTimeoutMillis + " ms is not positive");
        if (failureSeconds < 2) throw new IllegalArgumentException("failure detection " + failureSeconds + " s is below 2 s");
        if (leaseMillis < 100 || leaseMillis >= failureSeconds * 1000L) {
            throw new IllegalArgumentException("lease " + leaseMillis + " ms is not between 100 ms and the failure detection time");
        }
    }

    /** From {@code ADDR:PORT} (IPv6 in brackets) and the defaults of serve: 1 backup, 200 ms. */
    public static ClusterSettings of(String name, String listen, List<String> members, Integer backups, Integer timeoutMillis) {
        return of(name, listen, members, backups, timeoutMillis, null);
    }

    /** As {@link #of(String, String, List, Integer, Integer)} with the failure detection time (default 10 s; the lease is 3 s, or a third of a shorter one). */
    public static ClusterSettings of(String name, String listen, List<String> members, Integer backups, Integer timeoutMillis,
                                     Integer failureSeconds) {
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("--cluster-listen " + listen + " is not ADDR:PORT");
        String host = listen.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        return new ClusterSettings(name, host, Integer.parseInt(listen.substring(colon + 1)), members,
                backups == null ? 1 : backups, timeoutMillis == null ? 200 : timeoutMillis,
                failureSeconds == null ? DEFAULT_FAILURE_SECONDS : failureSeconds,
                failureSeconds == null ? DEFAULT_LEASE_MILLIS : Math.min(DEFAULT_LEASE_MILLIS, failureSeconds * 1000L / 3));
    }

    /** {@code host:port} of this member. */
    public String address() { return (host.contains(":") ? "[" + host + "]" : host) + ":" + port; }
}
