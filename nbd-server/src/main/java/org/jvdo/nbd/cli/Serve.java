package org.jvdo.nbd.cli;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.compress.CompressionEngineProvider;
import org.jvdo.nbd.LogSetup;
import org.jvdo.nbd.Main;
import org.jvdo.nbd.NbdServer;
import org.jvdo.nbd.Signals;
import org.jvdo.nbd.SimpleExportRegistry;
import org.jvdo.nbd.Sizes;
import org.jvdo.nbd.TlsSettings;
import org.jvdo.nbd.UnixSocketFile;
import org.jvdo.nbd.admin.AdminServer;
import org.jvdo.nbd.admin.AdminToken;

/**
 * What {@code jvdo serve} does with its options. Everything that can be refused is refused
 * before anything is created (certificates, a live pid file or Unix socket, the qat engine's
 * library, a taken NBD port, format-time options against an existing pool, unknown volume
 * names), then: admin API, pool (formatted on first start), NBD server, banner, pid file; on
 * SIGTERM/SIGINT/SIGHUP the reverse.
 */
final class Serve {
    private final ServeCommand o;
    private final PrintStream out;
    private final PrintStream err;

    Serve(ServeCommand o, PrintStream out, PrintStream err) {
        this.o = o;
        this.out = out;
        this.err = err;
    }

    /** The NBD server's options from the command line. */
    private NbdServer.Options nbdOptions() {
        NbdServer.Options n = new NbdServer.Options();
        // the heap plan counts this budget, so it is fixed here rather than a share of whatever heap the JVM got
        // (at most 128 MiB; on a heap smaller than planned, a quarter of it, as an embedded NbdServer's default)
        n.maxInflightBytes = o.maxInflightBytes != null ? o.maxInflightBytes
                : Math.min(HeapPlan.DEFAULT_INFLIGHT_BYTES, NbdServer.Options.defaultInflightBytes());
        long heap = Runtime.getRuntime().maxMemory();
        if (o.maxInflightBytes != null && o.maxInflightBytes > heap / 2) {
            // payloads beyond the heap do not fail only where they are allocated (answered ENOMEM):
            // every other thread then meets OutOfMemoryError too, the event loops included, and the
            // server stops answering. The launcher sizes the heap for the budget; a JVM given less gets a cap.
            n.maxInflightBytes = heap / 4;
            java.util.logging.Logger.getLogger("org.jvdo.nbd.serve").warning("--max-inflight-bytes " + Sizes.human(o.maxInflightBytes)
                    + " is more than half of this JVM's heap (" + Sizes.human(heap) + "): using " + Sizes.human(n.maxInflightBytes)
                    + " (start through the jvdo launcher, which sizes the heap for the budget, or give a larger -Xmx)");
        }
        if (o.maxConnections != null) n.maxConnections = o.maxConnections;
        if (o.handshakeTimeoutMillis != null) n.handshakeTimeoutMillis = o.handshakeTimeoutMillis;
        if (o.idleTimeoutMillis != null) n.idleTimeoutMillis = o.idleTimeoutMillis;
        if (o.shutdownTimeoutMillis != null) n.closeTimeoutMillis = o.shutdownTimeoutMillis;
        n.readOnly = o.readOnly;
        n.readOnlyExports = Set.copyOf(o.readOnlyVolumes);
        n.tcp = o.tcp();
        n.unixSocket = o.unix;
        try {
            // --tls-certificates also serves --admin-tls: with NBD TLS off it is the admin API's alone
            boolean nbdTlsOff = o.tls == null || o.tls.equals("off");
            n.tls = TlsSettings.of(o.tls, nbdTlsOff && o.adminTls && !o.tlsVerifyPeer ? null : o.tlsCertificates, o.tlsVerifyPeer);
        } catch (IllegalArgumentException e) {
            throw new UsageError(e.getMessage());
        }
        return n;
    }

    /** The pool's settings from the command line (format-time ones matter only when formatting). */
    private PoolConfig poolConfig() {
        PoolConfig cfg = new PoolConfig();
        // an existing pool's size (for the index default and the heap plan; formatting reads it only when new)
        cfg.physicalBytes = o.physicalSize != null ? o.physicalSize : facts != null ? facts.physicalBytes() : 16L << 30;
        if (o.slabSize != null) cfg.slabDataBlocks = (int) (o.slabSize / 4096);
        if (o.journalSize != null) cfg.journalBlocks = (int) (o.journalSize / 4096);
        cfg.defaultEngine = o.engine;
        cfg.indexMode = o.indexMode;
        cfg.indexMaxSlots = o.indexMemory != null ? HeapPlan.indexEntriesFor(o.indexMemory, o.indexMode)
                : HeapPlan.defaultIndexEntries(facts != null ? facts.physicalBytes() : cfg.physicalBytes);
        if (o.blockMapCache != null) cfg.blockMapCachePages = (int) Math.max(64, Math.min(1 << 24, o.blockMapCache / 4096));
        return cfg;
    }

    /** The existing pool's super block, or null (no pool yet, or unreadable: Pool.open says what is wrong). */
    private FormatFlags.PoolFacts facts;

    private void readFacts() {
        if (!Pool.exists(o.data)) return;
        try {
            facts = FormatFlags.PoolFacts.read(o.data);
        } catch (IOException | RuntimeException e) {
            facts = null;
        }
    }

    /** The heap plan of this serve: the pool's volumes (or the new ones) plus one created later. */
    private HeapPlan heapPlan(PoolConfig cfg, NbdServer.Options nbd) {
        int volumes = (facts != null ? facts.volumeBytes().size() : o.newVolumes().size()) + 1;
        return new HeapPlan(cfg, volumes, o.maxInflightBytes != null ? o.maxInflightBytes : HeapPlan.DEFAULT_INFLIGHT_BYTES);
    }

    int run() {
        if (Main.configureLogging) LogSetup.configure(o.logLevel);
        NbdServer.Options nbd = nbdOptions();
        readFacts();
        if (o.printJavaOptions) { // the launcher's question: nothing is created, opened or listened on
            out.println(heapPlan(poolConfig(), nbd).javaOptions());
            return 0;
        }
        if (nbd.tls.offered()) { // a missing certificate is a usage error before anything is formatted
            List<String> needed = new ArrayList<>(List.of(TlsSettings.SERVER_CERT, TlsSettings.SERVER_KEY));
            if (o.tlsVerifyPeer) needed.add(TlsSettings.CA_CERT);
            for (String f : needed) {
                Path file = nbd.tls.certificates().resolve(f);
                if (!Files.isReadable(file)) throw new UsageError("--tls: cannot read " + file.toAbsolutePath());
            }
        }
        if (o.adminTls) { // the admin API's certificate too, before anything is created
            Path dir = o.tlsCertificates != null ? o.tlsCertificates : TlsSettings.defaultDirectory();
            for (String f : List.of(TlsSettings.SERVER_CERT, TlsSettings.SERVER_KEY)) {
                Path file = dir.resolve(f);
                if (!Files.isReadable(file)) throw new UsageError("--admin-tls: cannot read " + file.toAbsolutePath());
            }
        }
        checkClusterOptions();
        PoolConfig cfg = poolConfig();
        boolean fresh = !Pool.exists(o.data);
        checkVolumeNames(fresh);
        if (o.engine.equals("qat")) requireEngine("qat", cfg);
        PidFile pid = o.pidFile == null ? null : new PidFile(o.pidFile);
        if (pid != null) pid.check();
        if (o.unix != null) {
            try {
                UnixSocketFile.prepare(o.unix);
            } catch (IllegalStateException e) {
                throw new Failure(e.getMessage());
            }
        }
        // fail on a taken NBD port or a bad address (port 0 too) before anything is started, created or opened
        if (o.tcp()) {
            try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
                probe.setReuseAddress(true);
                probe.bind(new java.net.InetSocketAddress(o.nbdHost(), o.nbdPort()));
            } catch (IOException e) {
                throw new Failure("cannot listen for NBD on " + o.nbdHost() + ":" + o.nbdPort() + ": "
                        + (e instanceof java.net.BindException ? "the port is already in use (another jvdo or NBD server running? choose one with --port)"
                                : String.valueOf(e.getMessage())));
            }
        }
        // from here on SIGTERM/SIGINT/SIGHUP mean a clean stop: one during the start (a client
        // racing the banner, systemd stopping a slow open) stops the server as soon as it is up
        CountDownLatch stop = new CountDownLatch(1);
        Runnable restoreSignals = Signals.onTermination(stop::countDown);
        try {
            return start(stop, cfg, nbd, pid, fresh);
        } finally {
            restoreSignals.run(); // an in-process run (tests) leaves the JVM's handlers as it found them
        }
    }

    /** The start after every check passed, the wait for {@code stop}, and the clean close. */
    private int start(CountDownLatch stop, PoolConfig cfg, NbdServer.Options nbd, PidFile pid, boolean fresh) {
        int loops = Math.max(1, Runtime.getRuntime().availableProcessors());
        Vertx vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(loops));
        // the admin API comes up first, so /health says "recovering" while the pool opens
        AdminToken token = null;
        AdminServer admin;
        boolean dataExisted = Files.exists(o.data);
        try {
            token = AdminToken.loadOrCreate(o.data);
            admin = new AdminServer(vertx, token, o.adminListen, o.adminPort).maxConnections(o.adminMaxConnections);
            if (o.adminTls) admin.https(o.tlsCertificates != null ? o.tlsCertificates : TlsSettings.defaultDirectory());
            admin.start();
        } catch (Exception e) {
            // a token that could not be read or was refused says so itself; only a failed listen hints at the port
            err.println(token == null ? "jvdo: admin token: " + e.getMessage()
                    : "jvdo: cannot start the admin API on " + o.adminListen + ":" + o.adminPort + ": " + e.getMessage()
                    + " (another jvdo running? choose one with --admin-port)");
            // a failed start leaves nothing behind: the token (and the folder) made just now go again
            try {
                if (token != null && token.created()) Files.deleteIfExists(AdminToken.file(o.data));
                if (!dataExisted) Files.deleteIfExists(o.data);
            } catch (IOException | RuntimeException ignored) {
                // not empty or not ours: left as it is
            }
            vertx.close();
            return 1;
        }
        cfg.recoveryProgress = admin.recoveryListener(); // /health shows the journal replay's progress while the pool opens
        ClusterServe cluster = null;
        if (o.cluster != null) { // the member first: the pool's index lives in the cluster
            try {
                cluster = ClusterServe.start(org.jvdo.cluster.ClusterSettings.of(o.cluster, clusterListen(), o.clusterMembers,
                        o.clusterBackups, o.clusterIndexTimeoutMillis, o.clusterFailureSeconds));
                cluster.configure(cfg, o.data);
            } catch (RuntimeException e) {
                err.println("jvdo: cannot join cluster " + o.cluster + " on " + clusterListen() + ": " + e.getMessage());
                admin.close();
                vertx.close();
                return 1;
            }
        }
        Pool pool;
        try {
            pool = fresh ? Pool.create(o.data, cfg) : Pool.open(o.data, cfg);
            if (fresh) {
                long size = o.logicalSize != null ? o.logicalSize : 16L << 30;
                for (String v : o.newVolumes()) pool.createVolume(v, size);
            }
        } catch (VdoException e) {
            err.println("jvdo: " + e.getMessage());
            admin.close();
            if (cluster != null) cluster.close();
            vertx.close();
            return 1;
        } catch (Exception e) {
            err.println("jvdo: cannot open pool " + o.data + ": " + e);
            admin.close();
            if (cluster != null) cluster.close();
            vertx.close();
            return 1;
        }
        // logged once the pool is open: a refused start stays one line
        HeapPlan plan = heapPlan(cfg, nbd);
        long maxHeap = Runtime.getRuntime().maxMemory();
        java.util.logging.Logger.getLogger("org.jvdo.nbd.serve").info(plan.describe() + "; this JVM's heap "
                + Sizes.human(maxHeap) + (maxHeap < plan.heapBytes() * 9 / 10
                        ? ": below the plan, caches may not fit (start through the jvdo launcher, or give -Xmx)" : ""));
        SimpleExportRegistry registry = new SimpleExportRegistry();
        for (Volume v : pool.volumes()) registry.add(v);
        if (o.exportName != null) registry.setDefaultExport(o.exportName);
        NbdServer server;
        try {
            server = new NbdServer(registry, o.nbdHost(), o.nbdPort(), loops, vertx, nbd).start();
        } catch (Exception e) {
            String why = String.valueOf(e.getMessage());
            boolean inUse = why.contains("Address already in use") || e.getCause() instanceof java.net.BindException;
            err.println(o.unix != null && why.contains("Unix socket") ? "jvdo: " + why
                    : "jvdo: cannot listen for NBD on " + o.nbdHost() + ":" + o.nbdPort() + ": "
                    + (inUse ? "the port is already in use (another jvdo or NBD server running? choose one with --port)" : why));
            admin.close();
            closeQuietly(pool);
            if (cluster != null) cluster.close();
            vertx.close();
            return 1;
        }
        String host = Main.uriHost(o.nbdHost());
        admin.attach(pool, registry, server, host);
        if (cluster != null) {
            NbdServer srv = server;
            cluster.serving(pool, o.data.toAbsolutePath(), new ClusterServe.Serving(registry,
                    server.listensOnTcp() ? host + ":" + o.nbdPort() : String.valueOf(server.unixSocket()),
                    name -> srv.exportUri(host, name), out, cfg));
            admin.attachCluster(cluster);
            out.println("jvdo: cluster " + o.cluster + " member at " + clusterListen() + " (index in the cluster, "
                    + (o.clusterBackups == null ? 1 : o.clusterBackups) + " backup(s))");
        }
        out.println("jvdo: pool " + o.data.toAbsolutePath() + (fresh ? " (formatted)" : "")
                + (pool.openReport().isEmpty() ? "" : " - " + pool.openReport()));
        for (Volume v : pool.volumes()) {
            String what = "jvdo: serving " + v.name() + " (" + Sizes.human(v.size()) + ", " + v.engineName()
                    + (o.readOnly || o.readOnlyVolumes.contains(v.name()) ? ", read-only" : "") + ") at ";
            if (server.listensOnTcp()) out.println(what + server.tcpUri(host, v.name()));
            if (server.unixSocket() != null) out.println(what + server.unixUri(v.name()));
        }
        registry.defaultExportName().ifPresent(d -> out.println("jvdo: the empty export name gets " + d));
        out.println("jvdo: admin API at " + admin.scheme() + "://" + Main.uriHost(o.adminListen) + ":" + admin.actualPort() + "/api/v1 (token in "
                + AdminToken.file(o.data) + ")");
        out.println("jvdo: dashboard at " + admin.scheme() + "://" + Main.uriHost(o.adminListen) + ":" + admin.actualPort()
                + "/ui (paste the token, or open it with #token=TOKEN)");
        // the token itself is never printed: under systemd stdout goes to the journal; its file is named above
        if (pool.isReadOnly()) out.println("jvdo: pool is READ-ONLY: " + pool.readOnlyReason());
        int rc = 0;
        if (pid != null) {
            try {
                pid.write();
                out.println("jvdo: pid " + ProcessHandle.current().pid() + " in " + pid.path());
            } catch (IOException e) {
                err.println("jvdo: cannot write --pid-file " + pid.path() + ": " + e.getMessage() + "; shutting down");
                rc = 1;
            }
        }
        out.flush();
        if (rc == 0) {
            try {
                stop.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        out.println("jvdo: shutting down");
        admin.close();
        try {
            server.close();
        } catch (Exception e) {
            err.println("jvdo: closing the NBD server: " + e.getMessage());
            rc = 1;
        }
        if (!closeQuietly(pool)) rc = 1;
        if (cluster != null) cluster.close(); // after the pool: its index updates in flight are applied first
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            // exiting anyway
        }
        if (pid != null) pid.remove();
        out.println("jvdo: stopped");
        out.flush();
        return rc;
    }

    /**
     * Format-time options against an existing pool ({@link FormatFlags}), and the volume names
     * of --export-name and --read-only-volume: each must name a volume the pool has (or will
     * have, when formatting now), so a typo never leaves a volume writable that was meant not to be.
     */
    private void checkVolumeNames(boolean fresh) {
        boolean asked = o.physicalSize != null || o.slabSize != null || o.journalSize != null || o.logicalSize != null
                || !o.volumes.isEmpty() || o.exportName != null || !o.readOnlyVolumes.isEmpty();
        if (!asked) return; // nothing to check: a damaged pool is left to Pool.open, which says what is wrong
        Set<String> names;
        if (fresh) {
            names = new HashSet<>(o.newVolumes());
        } else {
            FormatFlags.PoolFacts facts;
            try {
                facts = FormatFlags.PoolFacts.read(o.data);
            } catch (IOException | RuntimeException e) {
                throw new Failure("cannot read pool " + o.data + ": " + e.getMessage());
            }
            FormatFlags.check(o, o.data, facts);
            names = facts.volumeBytes().keySet();
        }
        String has = " (" + (fresh ? "the new pool has " : "pool " + o.data + " has ") + String.join(", ", new java.util.TreeSet<>(names)) + ")";
        if (o.exportName != null && !names.contains(o.exportName)) {
            throw new UsageError("--export-name " + o.exportName + ": no such volume" + has);
        }
        for (String v : o.readOnlyVolumes) {
            if (!names.contains(v)) throw new UsageError("--read-only-volume " + v + ": no such volume" + has);
        }
    }

    /** The --cluster-* options need --cluster; their values are checked before anything starts. */
    private void checkClusterOptions() {
        if (o.cluster == null) {
            String given = o.clusterListen != null ? "--cluster-listen" : !o.clusterMembers.isEmpty() ? "--cluster-members"
                    : o.clusterBackups != null ? "--cluster-backups" : o.clusterIndexTimeoutMillis != null ? "--cluster-index-timeout"
                    : o.clusterFailureSeconds != null ? "--cluster-failure-timeout" : null;
            if (given != null) throw new UsageError(given + " needs --cluster NAME");
            return;
        }
        if (o.clusterFailureSeconds != null && o.clusterFailureSeconds < 2) {
            throw new UsageError("--cluster-failure-timeout is at least 2 seconds, not " + o.clusterFailureSeconds);
        }
        if (o.clusterBackups != null && (o.clusterBackups < 0 || o.clusterBackups > 6)) {
            throw new UsageError("--cluster-backups is 0..6 (Hazelcast's limit), not " + o.clusterBackups);
        }
    }

    String clusterListen() { return o.clusterListen != null ? o.clusterListen : "127.0.0.1:5701"; }

    /**
     * Refuses an engine that cannot run here (qat without libqatzip.so.3 or a device), before
     * anything is formatted, instead of a pool whose volumes quietly fall back to lz4.
     */
    private static void requireEngine(String name, PoolConfig cfg) {
        for (CompressionEngineProvider p : ServiceLoader.load(CompressionEngineProvider.class)) {
            if (!p.name().equals(name)) continue;
            CompressionEngineProvider.Availability a;
            try {
                a = p.availability(cfg);
            } catch (RuntimeException | LinkageError e) {
                a = CompressionEngineProvider.Availability.no(String.valueOf(e));
            }
            if (a.available()) return;
            // the loader's reason goes on with its search path over lines; its first line says it
            String why = String.valueOf(a.reason()).lines().findFirst().orElse("").strip();
            if (why.indexOf('(') > 0 && why.indexOf(')') < 0) why = why.replaceFirst(" \\(", ": ");
            throw new Failure("--engine " + name + " is not available here: " + why + "; use --engine lz4");
        }
        throw new Failure("--engine " + name + " is not available here: this build has no " + name + " engine; use --engine lz4");
    }

    private boolean closeQuietly(Pool pool) {
        try {
            pool.close();
            return true;
        } catch (Exception e) {
            err.println("jvdo: closing the pool: " + e.getMessage());
            return false;
        }
    }
}
