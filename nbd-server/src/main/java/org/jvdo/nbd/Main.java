package org.jvdo.nbd;

import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.Volume;
import org.jvdo.nbd.admin.AdminCommands;
import org.jvdo.nbd.admin.AdminServer;
import org.jvdo.nbd.admin.AdminToken;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The {@code jvdo} command. {@code jvdo serve} opens (or formats, on first start) a pool in a
 * folder and serves its volumes as NBD exports; SIGTERM, SIGINT or SIGHUP shut it down cleanly.
 *
 * <p>Why over 400 lines: the hand-written serve and check parsers and their usage texts; they go when
 * the command line moves to picocli (issue 13).
 */
public final class Main {
    static final String USAGE = """
            usage: jvdo serve [options]
                   jvdo stats [--json] [--verbose] [VOLUME]   (see jvdo stats --help)
                   jvdo volume create|list|delete|resize ...  (see jvdo volume --help)
                   jvdo check DIR [--repair] [--json]          (offline check, see jvdo check --help)

            Serves a jvdo pool's volumes as NBD exports. The pool is formatted on first start.
            An admin REST API (statistics, volumes, /health, /metrics) is served beside NBD; it
            needs the bearer token made on first start and kept in DATA/admin.token (mode 0600).

            options:
              --data DIR            pool folder (default ./jvdo-data)
              --listen ADDR         address to listen on (default 127.0.0.1)
              --port N              NBD port (default 10809)
              --logical-size SIZE   size of each new volume, thin: may exceed the physical size (default 16G)
              --physical-size SIZE  most storage the pool file may use, at format time (default 16G)
              --slab-size SIZE      data per slab, at format time (default 128M); a slab's file space is
                                    allocated when it comes into use
              --journal-size SIZE   recovery journal size, at format time (default 32M)
              --volume NAME         a volume to create on first start; repeatable (default vdo0)
              --engine NAME         compression for new volumes: lz4 (default), none or qat (qat needs libqatzip.so.3 and a QAT device)
              --admin-listen ADDR   admin API address (default 127.0.0.1)
              --admin-port N        admin API port (default 10810; 0 picks a free one)
              --max-inflight-bytes SIZE  request payload memory over all NBD connections; a connection
                                    over it waits (default: a quarter of the heap, 32M..256M)
              --max-connections N   NBD connections at most; more are closed at once (default 1024)
              --admin-max-connections N  admin API connections at most (default 64)
              --handshake-timeout SECONDS  drop an NBD client that has not finished the handshake (default 30; 0 = never)
              --idle-timeout SECONDS  close an NBD connection idle this long (default 0 = never)
              --shutdown-timeout SECONDS  on SIGTERM, how long in-flight requests may finish before sockets close (default 5)
              --tls off|on|require  NBD over TLS (STARTTLS), as nbdkit: on offers it, require refuses
                                    plaintext clients (default off)
              --tls-certificates DIR  ca-cert.pem, server-cert.pem, server-key.pem (default, as nbdkit:
                                    /etc/pki/nbdkit for root, else ~/.pki/nbdkit)
              --tls-verify-peer     clients must present a certificate signed by ca-cert.pem
              --log-level LEVEL     error, warn, info (default), debug or trace; one line per record on stderr
              -h, --help            this help
              -V, --version         print the version and exit

            SIZE takes K, M, G, T suffixes (binary). Export URIs: nbd://ADDR:PORT/NAME (IPv6: nbd://[::1]:PORT/NAME)
            """;

    /** Thrown for a bad command line: one line to stderr, exit code 2. */
    static class UsageException extends Exception {
        UsageException(String m) { super(m); }
    }

    static final class ServeOptions {
        Path data = Path.of("jvdo-data");
        String listen = "127.0.0.1";
        int port = 10809;
        long logicalSize = 16L << 30;
        long physicalSize = 16L << 30;
        long slabSize = 0;
        long journalSize = 0;
        List<String> volumes = new ArrayList<>();
        String engine = "lz4";
        String adminListen = "127.0.0.1";
        int adminPort = 10810;
        NbdServer.Options nbd = new NbdServer.Options();
        int adminMaxConnections = 64;
        String tlsMode;
        Path tlsCertificates;
        boolean tlsVerifyPeer;
        java.util.logging.Level logLevel = java.util.logging.Level.INFO;
    }

    /** Set by {@link #main}: only a real process installs jvdo's log format (in-process tests keep theirs). */
    static volatile boolean configureLogging;

    /**
     * The host as a URI writes it: an IPv6 literal ({@code ::1}) in brackets ({@code [::1]}), so
     * {@code nbd://[::1]:10809/vdo0} parses in nbdinfo; names and IPv4 addresses as they are.
     */
    static String uriHost(String host) {
        return host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    public static void main(String[] args) {
        configureLogging = true;
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        if (args[0].equals("--version") || args[0].equals("-V")) {
            out.println("jvdo " + Version.get());
            return 0;
        }
        try {
            switch (args[0]) {
                case "serve" -> {
                    ServeOptions o = parseServe(args);
                    if (o == null) { out.print(USAGE); return 0; }
                    return serve(o, out, err);
                }
                case "check" -> { return check(args, out, err); }
                case "stats" -> { return AdminCommands.stats(args, out, err); }
                case "volume" -> { return AdminCommands.volume(args, out, err); }
                default -> throw new UsageException("unknown command '" + args[0] + "' (try: jvdo --help)");
            }
        } catch (UsageException e) {
            err.println("jvdo: " + e.getMessage());
            return e instanceof CheckUsage ? 8 : 2;
        }
    }

    static final String CHECK_USAGE = """
            usage: jvdo check DIR [--repair] [--json]

            Checks a pool offline (the server must be stopped): super block, journal, block maps,
            packed blocks and reference counts. --repair rebuilds reference counts and the free
            list from the block maps (never dropping a mapping) and leaves read-only mode.
            Exit codes as fsck: 0 clean, 1 repaired, 4 errors left, 8 usage or I/O error.
            """;

    static int check(String[] args, PrintStream out, PrintStream err) throws UsageException {
        Path dir = null;
        boolean repair = false, json = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--repair" -> repair = true;
                case "--json" -> json = true;
                case "-h", "--help" -> { out.print(CHECK_USAGE); return 0; }
                default -> {
                    if (args[i].startsWith("-")) throw new CheckUsage("unknown option '" + args[i] + "' (see jvdo check --help)");
                    if (dir != null) throw new CheckUsage("only one pool folder, not '" + args[i] + "'");
                    dir = Path.of(args[i]);
                }
            }
        }
        if (dir == null) throw new CheckUsage("which pool? jvdo check DIR [--repair] [--json]");
        Path pool = dir; boolean fix = repair; // progress on stderr: a bar on a terminal, else a line per 10%
        org.jvdo.core.PoolCheck.Result r = ProgressBar.around(err, "jvdo check", bar -> org.jvdo.core.PoolCheck.run(pool, fix, bar));
        if (json) {
            StringBuilder sb = new StringBuilder("{\"exit_code\":").append(r.exitCode()).append(",\"repaired\":").append(r.repaired()).append(",\"problems\":[");
            for (int i = 0; i < r.problems().size(); i++) {
                org.jvdo.core.PoolCheck.Problem p = r.problems().get(i);
                if (i > 0) sb.append(',');
                sb.append("{\"volume\":").append(p.volume() == null ? "null" : quote(p.volume()))
                        .append(",\"block\":").append(p.block()).append(",\"problem\":").append(quote(p.what())).append('}');
            }
            sb.append("],\"notes\":[");
            for (int i = 0; i < r.notes().size(); i++) sb.append(i > 0 ? "," : "").append(quote(r.notes().get(i)));
            out.println(sb.append("]}"));
        } else {
            for (String n : r.notes()) out.println("jvdo check: " + n);
            for (org.jvdo.core.PoolCheck.Problem p : r.problems()) out.println("jvdo check: " + p);
            out.println("jvdo check: " + switch (r.exitCode()) {
                case 0 -> "clean";
                case 1 -> "repaired";
                case 4 -> "errors left" + (repair ? "" : " (run with --repair)");
                default -> "could not check";
            });
        }
        return r.exitCode();
    }

    /** A usage error of check: exit code 8, as fsck. */
    static final class CheckUsage extends UsageException {
        CheckUsage(String m) { super(m); }
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> { if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c); }
            }
        }
        return b.append('"').toString();
    }

    static ServeOptions parseServe(String[] args) throws UsageException {
        ServeOptions o = new ServeOptions();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) { value = a.substring(eq + 1); a = a.substring(0, eq); }
            switch (a) {
                case "-h", "--help" -> { return null; }
                case "--tls-verify-peer" -> o.tlsVerifyPeer = true;
                case "--data", "--listen", "--port", "--logical-size", "--physical-size", "--slab-size", "--journal-size", "--volume", "--engine",
                        "--admin-listen", "--admin-port", "--max-inflight-bytes", "--max-connections",
                        "--admin-max-connections", "--handshake-timeout", "--idle-timeout", "--shutdown-timeout",
                        "--tls", "--tls-certificates", "--log-level" -> {
                    if (value == null) {
                        if (i + 1 >= args.length) throw new UsageException(a + " needs a value");
                        value = args[++i];
                    }
                    try {
                        switch (a) {
                            case "--data" -> o.data = Path.of(value);
                            case "--tls" -> o.tlsMode = value;
                            case "--tls-certificates" -> o.tlsCertificates = Path.of(value);
                            case "--log-level" -> o.logLevel = LogSetup.level(value);
                            case "--listen" -> o.listen = value;
                            case "--port" -> {
                                o.port = Integer.parseInt(value);
                                if (o.port < 0 || o.port > 65535) throw new UsageException("--port must be 0..65535, not " + value);
                            }
                            case "--admin-listen" -> o.adminListen = value;
                            case "--admin-port" -> {
                                o.adminPort = Integer.parseInt(value);
                                if (o.adminPort < 0 || o.adminPort > 65535) throw new UsageException("--admin-port must be 0..65535, not " + value);
                            }
                            case "--max-inflight-bytes" -> {
                                long b = Sizes.parse(value);
                                if (b < 1 << 20) throw new UsageException("--max-inflight-bytes must be at least 1M, not " + value);
                                o.nbd.maxInflightBytes = b;
                            }
                            case "--max-connections" -> o.nbd.maxConnections = positive(a, value);
                            case "--admin-max-connections" -> o.adminMaxConnections = positive(a, value);
                            case "--handshake-timeout" -> o.nbd.handshakeTimeoutMillis = millis(a, value);
                            case "--idle-timeout" -> o.nbd.idleTimeoutMillis = millis(a, value);
                            case "--shutdown-timeout" -> o.nbd.closeTimeoutMillis = millis(a, value);
                            case "--logical-size" -> o.logicalSize = roundUp(Sizes.parse(value));
                            case "--physical-size" -> o.physicalSize = roundUp(Sizes.parse(value));
                            case "--slab-size", "--journal-size" -> {
                                long b = roundUp(Sizes.parse(value));
                                if (b < 16 * 4096L || b / 4096 > Integer.MAX_VALUE) throw new UsageException(a + " must be 64K.." + "8T, not " + value);
                                if (a.equals("--slab-size")) o.slabSize = b; else o.journalSize = b;
                            }
                            case "--volume" -> {
                                if (!org.jvdo.core.Pool.isValidVolumeName(value)) throw new UsageException("bad volume name '" + value + "'");
                                o.volumes.add(value);
                            }
                            case "--engine" -> {
                                if (!value.equals("lz4") && !value.equals("none") && !value.equals("qat")) throw new UsageException("--engine must be lz4, none or qat, not " + value);
                                o.engine = value;
                            }
                            default -> throw new IllegalStateException(a);
                        }
                    } catch (NumberFormatException e) {
                        throw new UsageException(a + ": '" + value + "' is not a number");
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(a + ": " + e.getMessage());
                    }
                }
                default -> throw new UsageException("unknown option '" + args[i] + "' (see jvdo serve --help)");
            }
        }
        if (o.volumes.isEmpty()) o.volumes.add("vdo0");
        try {
            o.nbd.tls = TlsSettings.of(o.tlsMode, o.tlsCertificates, o.tlsVerifyPeer);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        if (o.nbd.tls.offered()) { // a missing certificate is a usage error before anything is formatted
            List<String> needed = new ArrayList<>(List.of(TlsSettings.SERVER_CERT, TlsSettings.SERVER_KEY));
            if (o.tlsVerifyPeer) needed.add(TlsSettings.CA_CERT);
            for (String f : needed) {
                Path file = o.nbd.tls.certificates().resolve(f);
                if (!java.nio.file.Files.isReadable(file)) throw new UsageException("--tls: cannot read " + file.toAbsolutePath());
            }
        }
        return o;
    }

    private static int positive(String option, String value) throws UsageException {
        int n = Integer.parseInt(value);
        if (n < 1) throw new UsageException(option + " must be at least 1, not " + value);
        return n;
    }

    /** Seconds (decimals allowed) as milliseconds. */
    private static long millis(String option, String value) throws UsageException {
        double s = Double.parseDouble(value);
        if (!(s >= 0) || s > 86_400 * 365) throw new UsageException(option + " must be a number of seconds >= 0, not " + value);
        return Math.round(s * 1000);
    }

    private static long roundUp(long bytes) { return (bytes + 4095) / 4096 * 4096; }

    static int serve(ServeOptions o, PrintStream out, PrintStream err) {
        if (configureLogging) LogSetup.configure(o.logLevel);
        // fail on a taken NBD port or a bad address (port 0 too) before anything is started, created or opened
        {
            try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
                probe.setReuseAddress(true);
                probe.bind(new java.net.InetSocketAddress(o.listen, o.port));
            } catch (java.io.IOException e) {
                err.println("jvdo: cannot listen for NBD on " + o.listen + ":" + o.port + ": "
                        + (e instanceof java.net.BindException ? "the port is already in use (another jvdo or NBD server running? choose one with --port)"
                                : String.valueOf(e.getMessage())));
                return 1;
            }
        }
        PoolConfig cfg = new PoolConfig();
        cfg.physicalBytes = o.physicalSize;
        if (o.slabSize > 0) cfg.slabDataBlocks = (int) (o.slabSize / 4096);
        if (o.journalSize > 0) cfg.journalBlocks = (int) (o.journalSize / 4096);
        cfg.defaultEngine = o.engine;
        int loops = Math.max(1, Runtime.getRuntime().availableProcessors());
        Vertx vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(loops));
        // the admin API comes up first, so /health says "recovering" while the pool opens
        AdminToken token = null;
        AdminServer admin;
        boolean dataExisted = java.nio.file.Files.exists(o.data);
        try {
            token = AdminToken.loadOrCreate(o.data);
            admin = new AdminServer(vertx, token, o.adminListen, o.adminPort).maxConnections(o.adminMaxConnections).start();
        } catch (Exception e) {
            // a token that could not be read or was refused says so itself; only a failed listen hints at the port
            err.println(token == null ? "jvdo: admin token: " + e.getMessage()
                    : "jvdo: cannot start the admin API on " + o.adminListen + ":" + o.adminPort + ": " + e.getMessage()
                    + " (another jvdo running? choose one with --admin-port)");
            // a failed start leaves nothing behind: the token (and the folder) made just now go again
            try {
                if (token != null && token.created()) java.nio.file.Files.deleteIfExists(AdminToken.file(o.data));
                if (!dataExisted) java.nio.file.Files.deleteIfExists(o.data);
            } catch (java.io.IOException | RuntimeException ignored) {
                // not empty or not ours: left as it is
            }
            vertx.close();
            return 1;
        }
        cfg.recoveryProgress = admin.recoveryListener(); // /health shows the journal replay's progress while the pool opens
        Pool pool;
        boolean fresh = !Pool.exists(o.data);
        try {
            pool = fresh ? Pool.create(o.data, cfg) : Pool.open(o.data, cfg);
            if (fresh) {
                for (String v : o.volumes) pool.createVolume(v, o.logicalSize);
            }
        } catch (VdoException e) {
            err.println("jvdo: " + e.getMessage());
            admin.close();
            vertx.close();
            return 1;
        } catch (Exception e) {
            err.println("jvdo: cannot open pool " + o.data + ": " + e);
            admin.close();
            vertx.close();
            return 1;
        }
        SimpleExportRegistry registry = new SimpleExportRegistry();
        for (Volume v : pool.volumes()) registry.add(v);
        NbdServer server;
        try {
            server = new NbdServer(registry, o.listen, o.port, loops, vertx, o.nbd).start();
        } catch (Exception e) {
            String why = String.valueOf(e.getMessage());
            boolean inUse = why.contains("Address already in use") || e.getCause() instanceof java.net.BindException;
            err.println("jvdo: cannot listen for NBD on " + o.listen + ":" + o.port + ": "
                    + (inUse ? "the port is already in use (another jvdo or NBD server running? choose one with --port)" : why));
            admin.close();
            closeQuietly(pool, err);
            vertx.close();
            return 1;
        }
        admin.attach(pool, registry, server, uriHost(o.listen));
        out.println("jvdo: pool " + o.data.toAbsolutePath() + (fresh ? " (formatted)" : "")
                + (pool.openReport().isEmpty() ? "" : " - " + pool.openReport()));
        for (Volume v : pool.volumes()) {
            out.println("jvdo: serving " + v.name() + " (" + Sizes.human(v.size()) + ", " + v.engineName() + ") at " + (o.nbd.tls.required() ? "nbds://" : "nbd://")
                    + uriHost(o.listen) + ":" + server.actualPort() + "/" + v.name());
        }
        out.println("jvdo: admin API at http://" + uriHost(o.adminListen) + ":" + admin.actualPort() + "/api/v1 (token in "
                + AdminToken.file(o.data) + ")");
        // the token itself is never printed: under systemd stdout goes to the journal; its file is named above
        if (pool.isReadOnly()) out.println("jvdo: pool is READ-ONLY: " + pool.readOnlyReason());
        out.flush();
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        out.println("jvdo: shutting down");
        int rc = 0;
        admin.close();
        try {
            server.close();
        } catch (Exception e) {
            err.println("jvdo: closing the NBD server: " + e.getMessage());
            rc = 1;
        }
        if (!closeQuietly(pool, err)) rc = 1;
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            // exiting anyway
        }
        out.println("jvdo: stopped");
        out.flush();
        return rc;
    }

    private static boolean closeQuietly(Pool pool, PrintStream err) {
        try {
            pool.close();
            return true;
        } catch (Exception e) {
            err.println("jvdo: closing the pool: " + e.getMessage());
            return false;
        }
    }
}
