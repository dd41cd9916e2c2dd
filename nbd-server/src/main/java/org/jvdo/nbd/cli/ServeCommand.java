package org.jvdo.nbd.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jvdo serve}: its options, as fields. Adding an option is one field here and one line
 * where {@link Serve} hands it on (the pool's {@code PoolConfig}, the NBD server's options or the
 * admin API). Options read only when formatting are {@code null} when not given, so
 * {@link FormatFlags} can tell "not given" from "given with the default value".
 */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
        synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", abbreviateSynopsis = true, sortOptions = false,
        description = {"Serves a jvdo pool's volumes as NBD exports.", "The pool is formatted on first start. An admin REST API (statistics, volumes, /health, /metrics) is served beside NBD; it needs the bearer token made on first start and kept in DATA/admin.token (mode 0600)."},
        footer = {"", "SIZE takes K, M, G, T suffixes (binary). Export URIs: nbd://ADDR:PORT/NAME (IPv6: nbd://[::1]:PORT/NAME),",
            "nbd+unix:///NAME?socket=PATH with --unix. Options marked (format time) are read when the pool is formatted;",
            "given against an existing pool with another value they are refused, naming the pool's value."})
final class ServeCommand implements Callable<Integer> {
    @ParentCommand
    Cli.Jvdo top;

    // where
    @Option(names = "--data", paramLabel = "DIR", description = "pool folder (default ./jvdo-data)")
    Path data = Path.of("jvdo-data");

    @Option(names = {"-i", "--listen"}, paramLabel = "ADDR", description = "address to listen on for NBD (default 127.0.0.1)")
    String listen;

    @Option(names = {"-p", "--port"}, paramLabel = "N", converter = Converters.Port.class,
            description = "NBD port (default 10809; 0 picks a free one)")
    Integer port;

    @Option(names = {"-U", "--unix"}, paramLabel = "PATH",
            description = "serve on this Unix-domain socket (created 0600, removed on exit); TCP too only if --port or --listen is given")
    Path unix;

    @Option(names = {"-e", "--export-name"}, paramLabel = "NAME", converter = Converters.VolumeName.class,
            description = "the volume a client asking for the empty export name gets (default: the first volume)")
    String exportName;

    @Option(names = {"-r", "--read-only"}, description = "serve every export read-only (writes, trims and zeroing refused with EPERM)")
    boolean readOnly;

    @Option(names = "--read-only-volume", paramLabel = "NAME", converter = Converters.VolumeName.class,
            description = "serve this volume read-only; repeatable")
    List<String> readOnlyVolumes = new ArrayList<>();

    @Option(names = {"-P", "--pid-file"}, paramLabel = "FILE",
            description = "write the server's process id here once it listens (0644, removed on exit)")
    Path pidFile;

    // format time
    @Option(names = "--logical-size", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "size of each volume made at format time, thin: may exceed the physical size (default 16G) (format time)")
    Long logicalSize;

    @Option(names = "--physical-size", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "most storage the pool file may use (default 16G) (format time)")
    Long physicalSize;

    @Option(names = "--slab-size", paramLabel = "SIZE", converter = Converters.RegionSize.class,
            description = "data per slab (default 128M); a slab's file space is allocated when it comes into use (format time)")
    Long slabSize;

    @Option(names = "--journal-size", paramLabel = "SIZE", converter = Converters.RegionSize.class,
            description = "recovery journal size (default 32M) (format time)")
    Long journalSize;

    @Option(names = "--volume", paramLabel = "NAME", converter = Converters.VolumeName.class,
            description = "a volume to make at format time; repeatable (default vdo0) (format time)")
    List<String> volumes = new ArrayList<>();

    @Option(names = "--engine", paramLabel = "NAME", converter = Converters.Engine.class,
            description = "compression for new volumes: lz4 (default), none or qat (needs libqatzip.so.3 and a QAT device)")
    String engine = "lz4";

    // admin API
    // memory (the launcher sizes the heap from these, see HeapPlan)
    @Option(names = "--index-mode", paramLabel = "dense|sparse", converter = Converters.IndexMode.class,
            description = "dedup index: dense (every block, at most 8 bytes each; default) or sparse (1 in 64 plus following"
                    + " the old block map: under 1 byte per block, for copies of images)")
    String indexMode = "dense";

    @Option(names = "--index-memory", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "most memory for the dedup index (default: room for twice the pool's data blocks, 64k..64M entries)")
    Long indexMemory;

    @Option(names = "--block-map-cache", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "block-map pages cached per volume (default 64M: 16384 pages, about 5.6M mappings)")
    Long blockMapCache;

    @Option(names = "--print-java-options", hidden = true,
            description = "print the JVM options (heap) this serve needs and exit: used by the jvdo launcher")
    boolean printJavaOptions;

    @Option(names = "--admin-listen", paramLabel = "ADDR", description = "admin API address (default 127.0.0.1)")
    String adminListen = "127.0.0.1";

    @Option(names = "--admin-port", paramLabel = "N", converter = Converters.Port.class,
            description = "admin API port (default 10810; 0 picks a free one)")
    int adminPort = 10810;

    // limits
    @Option(names = "--max-inflight-bytes", paramLabel = "SIZE", converter = Converters.Budget.class,
            description = "request payload memory over all NBD connections; a connection over it waits (default: a quarter of the heap, 32M..256M)")
    Long maxInflightBytes;

    @Option(names = "--max-connections", paramLabel = "N", converter = Converters.Positive.class,
            description = "NBD connections at most; more are closed at once (default 1024)")
    Integer maxConnections;

    @Option(names = "--admin-max-connections", paramLabel = "N", converter = Converters.Positive.class,
            description = "admin API connections at most (default 64)")
    int adminMaxConnections = 64;

    @Option(names = "--handshake-timeout", paramLabel = "SECONDS", converter = Converters.Seconds.class,
            description = "drop an NBD client that has not finished the handshake (default 30; 0 = never)")
    Long handshakeTimeoutMillis;

    @Option(names = "--idle-timeout", paramLabel = "SECONDS", converter = Converters.Seconds.class,
            description = "close an NBD connection idle this long (default 0 = never)")
    Long idleTimeoutMillis;

    @Option(names = "--shutdown-timeout", paramLabel = "SECONDS", converter = Converters.Seconds.class,
            description = "on SIGTERM, how long in-flight requests may finish before sockets close (default 5)")
    Long shutdownTimeoutMillis;

    // TLS
    @Option(names = "--tls", paramLabel = "off|on|require", converter = Converters.TlsMode.class,
            description = "NBD over TLS (STARTTLS), as nbdkit: on offers it, require refuses plaintext clients (default off)")
    String tls;

    @Option(names = "--tls-certificates", paramLabel = "DIR",
            description = "ca-cert.pem, server-cert.pem, server-key.pem (default, as nbdkit: /etc/pki/nbdkit for root, else ~/.pki/nbdkit)")
    Path tlsCertificates;

    @Option(names = "--tls-verify-peer", description = "clients must present a certificate signed by ca-cert.pem")
    boolean tlsVerifyPeer;

    @Option(names = "--admin-tls", description = "serve the admin API over HTTPS with server-cert.pem and server-key.pem of --tls-certificates")
    boolean adminTls;

    // cluster (docs/cluster.md)
    @Option(names = "--cluster", paramLabel = "NAME", converter = Converters.ClusterName.class,
            description = "join (or form) the cluster NAME: the dedup index is shared by its members (embedded Hazelcast member)")
    String cluster;

    @Option(names = "--cluster-listen", paramLabel = "ADDR:PORT", converter = Converters.HostPort.class,
            description = "where this member listens for the other members (default 127.0.0.1:5701)")
    String clusterListen;

    @Option(names = "--cluster-members", paramLabel = "ADDR:PORT", split = ",", converter = Converters.HostPort.class,
            description = "the members to join, comma-separated; the same list on every member is fine (TCP-IP join; multicast is off)")
    List<String> clusterMembers = new ArrayList<>();

    @Option(names = "--cluster-backups", paramLabel = "N", description = "backup copies of each index partition (default 1; 0..6)")
    Integer clusterBackups;

    @Option(names = "--cluster-index-timeout", paramLabel = "MILLIS", converter = Converters.Positive.class,
            description = "a write waits this long for the shared index's advice, then goes on without dedup (default 200)")
    Integer clusterIndexTimeoutMillis;

    @Option(names = "--cluster-failure-timeout", paramLabel = "SECONDS", converter = Converters.Positive.class,
            description = "a member not heard from for this long is declared dead and its pools are taken over by a survivor (default 10; at least 2)")
    Integer clusterFailureSeconds;

    // logging
    @Option(names = "--log-level", paramLabel = "LEVEL", converter = Converters.LogLevel.class,
            description = "error, warn, info (default), debug or trace; one line per record on stderr")
    java.util.logging.Level logLevel = java.util.logging.Level.INFO;

    /** The NBD address: --listen, else 127.0.0.1. */
    String nbdHost() {
        return listen == null ? "127.0.0.1" : listen;
    }

    /** The NBD port: --port, else 10809. */
    int nbdPort() {
        return port == null ? 10809 : port;
    }

    /** TCP is served unless --unix is given without --port or --listen (as nbdkit -U). */
    boolean tcp() {
        return unix == null || port != null || listen != null;
    }

    /** The volumes of a new pool: --volume, else vdo0. */
    List<String> newVolumes() {
        return volumes.isEmpty() ? List.of("vdo0") : volumes;
    }

    @Override
    public Integer call() {
        return new Serve(this, top.out, top.err).run();
    }
}
