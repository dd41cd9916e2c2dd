package org.jvdo.nbd;

import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.ServerSSLOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Serves the volumes of an {@link ExportRegistry} to NBD clients over TCP and/or a Unix-domain socket.
 *
 * <p>This is how a jvdo volume becomes a disk: qemu, libnbd tools, nbdfuse or the kernel's
 * nbd-client connect here. The server speaks fixed-newstyle NBD with structured replies,
 * {@code base:allocation} block status and many requests in flight per connection, answered
 * as the device completes them; with {@link Options#tls} a client may upgrade the connection to TLS
 * with NBD_OPT_STARTTLS (or must, in require mode). It runs on Vert.x event loops (native epoll when available);
 * each connection's parsing and replies stay on one event loop, and device futures may complete
 * on any thread.
 *
 * <p>Lifecycle: construct, {@link #start()} (returns once listening), {@link #close()} (stops
 * accepting, lets in-flight requests finish, closes connections). A closed server can't be
 * restarted; make a new one on the same registry.
 *
 * <p>Why over 400 lines: listening (TCP and the Unix socket), the connection registry, the payload budget, TLS loading and the
 * ordered shutdown (drain, then close) share the server's state; the protocol phases are their own classes.
 */
public final class NbdServer implements AutoCloseable {
    /** Advertised maximum block size (NBD_INFO_BLOCK_SIZE); clients that negotiated it stay below. */
    public static final int MAX_PAYLOAD = 32 << 20;
    /**
     * Largest READ or WRITE accepted by default (clients that negotiated with
     * NBD_OPT_EXPORT_NAME get no block size and may send more than {@link #MAX_PAYLOAD}); also
     * bounded by the in-flight memory budget.
     */
    public static final int MAX_REQUEST = 64 << 20;
    /** Advertised minimum block size: any byte offset and length works. */
    public static final int MIN_BLOCK = 1;
    /** Advertised preferred block size: the device block, below which writes read-modify-write. */
    public static final int PREFERRED_BLOCK = 4096;
    /** Oversized WRITE payloads up to this size are read and discarded; larger ones close the connection. */
    public static final long MAX_DISCARD = 256L << 20;
    /** Longest option payload accepted during the handshake. */
    public static final int MAX_OPTION_LENGTH = 64 << 10;
    /** Longer option payloads up to this are discarded with NBD_REP_ERR_TOO_BIG; beyond, the connection closes. */
    public static final int MAX_OPTION_DISCARD = 1 << 20;
    /** A connection stops reading above this many requests in flight and resumes at half. */
    public static final int MAX_INFLIGHT_REQUESTS = 64;
    /** A connection stops reading above this many payload bytes in flight and resumes at half. */
    public static final long MAX_INFLIGHT_BYTES = 64L << 20;
    /** How long {@link #start()} and undeploying wait for Vert.x. */
    public static final long CLOSE_TIMEOUT_SECONDS = 60;

    /** Server-wide limits; every field has a sane default. */
    public static final class Options {
        /** Payload bytes (WRITE data received, READ data produced) in flight over all connections. */
        public long maxInflightBytes = defaultInflightBytes();
        /** Largest single READ or WRITE; the effective limit is also at most {@link #maxInflightBytes}. */
        public int maxRequestBytes = MAX_REQUEST;
        /** A client that has not finished the handshake after this long is dropped; 0 = never. */
        public long handshakeTimeoutMillis = 30_000;
        /** A connection with nothing in flight and no input for this long is closed; 0 = never. */
        public long idleTimeoutMillis = 0;
        /** Open NBD connections at most; more are closed as soon as they are accepted. */
        public int maxConnections = 1024;
        /** How long {@link #close()} lets in-flight requests finish before closing the sockets anyway. */
        public long closeTimeoutMillis = 5_000;
        /** Whether and how NBD_OPT_STARTTLS upgrades a connection to TLS; off by default. */
        public TlsSettings tls = TlsSettings.OFF;
        /** Every export is read-only (NBD_FLAG_READ_ONLY; WRITE, TRIM, WRITE_ZEROES answered EPERM). */
        public boolean readOnly;
        /** These exports are read-only, the others as {@link #readOnly} says. */
        public Set<String> readOnlyExports = Set.of();
        /** Listen on TCP ({@code host}, {@code port}); false with a {@link #unixSocket} serves that socket only. */
        public boolean tcp = true;
        /** Also listen on this Unix-domain socket (created 0600, removed at close); null: none. */
        public java.nio.file.Path unixSocket;

        /** A quarter of the maximum heap, at least 32 MiB and at most 256 MiB. */
        public static long defaultInflightBytes() {
            long quarter = Runtime.getRuntime().maxMemory() / 4;
            return Math.max(32L << 20, Math.min(256L << 20, quarter));
        }

        void validate() {
            if (maxInflightBytes < 4096) throw new IllegalArgumentException("maxInflightBytes must be >= 4096");
            if (maxRequestBytes < 4096) throw new IllegalArgumentException("maxRequestBytes must be >= 4096");
            if (handshakeTimeoutMillis < 0 || idleTimeoutMillis < 0 || closeTimeoutMillis < 0) {
                throw new IllegalArgumentException("timeouts must be >= 0");
            }
            if (maxConnections < 1) throw new IllegalArgumentException("maxConnections must be >= 1");
            if (tls == null) throw new IllegalArgumentException("tls must not be null (TlsSettings.OFF)");
            if (readOnlyExports == null) throw new IllegalArgumentException("readOnlyExports must not be null (Set.of())");
            if (!tcp && unixSocket == null) throw new IllegalArgumentException("neither TCP nor a Unix socket to listen on");
        }
    }

    private final ExportRegistry registry;
    private final String host;
    private final int requestedPort;
    private final int eventLoops;
    private final Vertx vertx;
    private final boolean ownsVertx;
    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong refused = new java.util.concurrent.atomic.AtomicLong();
    private final Options options;
    private final MemoryBudget budget;
    private final PayloadPool payloads;
    private final int maxRequest;
    private final List<String> deployments = new ArrayList<>();
    private volatile boolean closing;
    private volatile int actualPort = -1;
    private volatile boolean started;
    /** The Unix socket this server created (and removes at close); null when none. */
    private volatile java.nio.file.Path createdSocket;
    /** What STARTTLS upgrades a socket with (certificates loaded by {@link #start()}); null when TLS is off. */
    private volatile ServerSSLOptions tlsOptions;

    /** A server with its own Vert.x instance using one event loop per core. */
    public NbdServer(ExportRegistry registry, String host, int port) {
        this(registry, host, port, Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    /** A server with its own Vert.x instance and {@code eventLoops} event loops. */
    public NbdServer(ExportRegistry registry, String host, int port, int eventLoops) {
        this(registry, host, port, eventLoops, new Options());
    }

    /** A server with its own Vert.x instance, {@code eventLoops} event loops and these limits. */
    public NbdServer(ExportRegistry registry, String host, int port, int eventLoops, Options options) {
        this(registry, host, port, eventLoops,
                Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(eventLoops)),
                true, options);
    }

    /** A server on a caller-owned Vert.x instance, which {@link #close()} leaves running. */
    public NbdServer(ExportRegistry registry, String host, int port, int eventLoops, Vertx vertx) {
        this(registry, host, port, eventLoops, vertx, false, new Options());
    }

    /** A server on a caller-owned Vert.x instance with these limits. */
    public NbdServer(ExportRegistry registry, String host, int port, int eventLoops, Vertx vertx, Options options) {
        this(registry, host, port, eventLoops, vertx, false, options);
    }

    private NbdServer(ExportRegistry registry, String host, int port, int eventLoops, Vertx vertx, boolean owns,
            Options options) {
        if (eventLoops < 1) {
            throw new IllegalArgumentException("eventLoops must be >= 1");
        }
        options.validate();
        this.options = options;
        this.budget = new MemoryBudget(options.maxInflightBytes);
        this.payloads = new PayloadPool(Math.min(64L << 20, options.maxInflightBytes / 4));
        this.maxRequest = (int) Math.min(options.maxRequestBytes, options.maxInflightBytes);
        this.registry = registry;
        this.host = host;
        this.requestedPort = port;
        this.eventLoops = eventLoops;
        this.vertx = vertx;
        this.ownsVertx = owns;
    }

    /** Binds and starts accepting; returns once listening. */
    public synchronized NbdServer start() {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        tlsOptions = options.tls.load(vertx); // a bad certificate fails here, before anything listens
        if (options.unixSocket != null) UnixSocketFile.prepare(options.unixSocket); // a live one is refused before anything listens
        try {
            if (options.tcp) startTcp();
            if (options.unixSocket != null) startUnix(options.unixSocket);
        } catch (RuntimeException e) {
            undeployAll();
            throw e;
        }
        return this;
    }

    private void startTcp() {
        // The first listener binds the requested (maybe ephemeral) port; the others listen on the
        // bound port in the same Vert.x instance, which shares the one socket and spreads
        // connections over the event loops. No SO_REUSEPORT: a port another process listens on
        // must fail to bind, not silently split clients between two servers.
        // An ephemeral port is asked for as a negative port: Vert.x binds a random port once and
        // shares it among the listeners that use the same negative number.
        int bindPort = requestedPort != 0 ? requestedPort
                : -1 - java.util.concurrent.ThreadLocalRandom.current().nextInt(1 << 20);
        Listener first = new Listener(bindPort);
        deployments.add(await(vertx.deployVerticle(first)));
        actualPort = first.server.actualPort();
        if (eventLoops > 1) {
            int port = bindPort;
            deployments.add(await(vertx.deployVerticle(() -> new Listener(port),
                    new DeploymentOptions().setInstances(eventLoops - 1))));
        }
    }

    /**
     * One listener on a Unix-domain socket. It is bound in a fresh 0700 folder beside the
     * socket's path, made 0600 and only then renamed into place, so no other user can ever
     * connect to it.
     */
    private void startUnix(java.nio.file.Path path) {
        java.nio.file.Path abs = path.toAbsolutePath();
        java.nio.file.Path dir = null;
        try {
            dir = java.nio.file.Files.createTempDirectory(abs.getParent(), ".jvdo-socket-",
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            java.nio.file.Path tmp = dir.resolve("nbd.sock");
            // sun_path holds 107 bytes: a path that fits only without the detour is bound where it is
            // (and made 0600 a moment later; the folder it is in is the caller's to protect)
            boolean detour = tmp.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length < 108;
            java.nio.file.Path bind = detour ? tmp : abs;
            deployments.add(await(vertx.deployVerticle(new Listener(bind))));
            if (!detour) createdSocket = abs;
            java.nio.file.Files.setPosixFilePermissions(bind, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            if (detour) java.nio.file.Files.move(tmp, abs, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            createdSocket = abs;
        } catch (java.io.IOException | RuntimeException e) {
            Throwable why = e instanceof IllegalStateException && e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("cannot listen on Unix socket " + abs + ": " + why.getMessage(), e);
        } finally {
            if (dir != null) {
                try {
                    java.nio.file.Files.deleteIfExists(dir.resolve("nbd.sock"));
                    java.nio.file.Files.deleteIfExists(dir);
                } catch (java.io.IOException e) {
                    // a leftover empty folder is harmless
                }
            }
        }
    }

    private void undeployAll() {
        for (String id : deployments) {
            try {
                await(vertx.undeploy(id));
            } catch (RuntimeException e) {
                // already gone
            }
        }
        deployments.clear();
        java.nio.file.Path sock = createdSocket;
        if (sock != null) {
            createdSocket = null;
            try {
                java.nio.file.Files.deleteIfExists(sock);
            } catch (java.io.IOException e) {
                // left behind: the next start finds it stale and replaces it
            }
        }
    }

    /** Whether this server listens on TCP. */
    public boolean listensOnTcp() {
        return options.tcp;
    }

    /** The Unix socket served, or null. */
    public java.nio.file.Path unixSocket() {
        return options.unixSocket == null ? null : options.unixSocket.toAbsolutePath();
    }

    /**
     * The URI a client uses for export {@code name}: {@code nbd://HOST:PORT/NAME} on TCP, else
     * {@code nbd+unix:///NAME?socket=PATH}; {@code nbds} instead of {@code nbd} when TLS is required.
     */
    public String exportUri(String host, String name) {
        return options.tcp ? tcpUri(host, name) : unixUri(name);
    }

    /** {@code nbd://HOST:PORT/NAME} (nbds under {@code --tls=require}). */
    public String tcpUri(String host, String name) {
        return (options.tls.required() ? "nbds" : "nbd") + "://" + host + ":" + actualPort() + "/" + name;
    }

    /** {@code nbd+unix:///NAME?socket=PATH} (nbds+unix under {@code --tls=require}); null without a Unix socket. */
    public String unixUri(String name) {
        if (options.unixSocket == null) return null;
        return (options.tls.required() ? "nbds" : "nbd") + "+unix:///" + name + "?socket=" + UnixSocketFile.uriEscape(unixSocket().toString());
    }

    /**
     * The device a client gets for {@code name} ({@code ""}: the default export), read-only
     * when {@link Options#readOnly} or {@link Options#readOnlyExports} says so.
     */
    java.util.Optional<org.jvdo.core.api.BlockDevice> resolve(String name) {
        return registry.resolve(name).map(d -> d.readOnly() || !(options.readOnly || options.readOnlyExports.contains(d.name()))
                ? d : new ReadOnlyDevice(d));
    }

    /** The TCP port clients connect to; valid after {@link #start()} when listening on TCP. */
    public int actualPort() {
        if (actualPort < 0) {
            throw new IllegalStateException(started ? "not listening on TCP" : "not started");
        }
        return actualPort;
    }

    /** Whether Vert.x is using the native (epoll) transport. */
    public boolean isNativeTransport() {
        return vertx.isNativeTransportEnabled();
    }

    /** Number of open client connections. */
    public int connectionCount() {
        return connections.size();
    }

    /** Number of open connections that picked export {@code name} (connections still in the handshake count for none). */
    public int connectionsTo(String name) {
        int n = 0;
        for (NbdConnection c : connections) if (name.equals(c.exportName())) n++;
        return n;
    }

    /**
     * Closes every connection using export {@code name}: they stop reading, their in-flight
     * requests finish, then the sockets close. Returns once all are closed (or after
     * {@code timeoutSeconds}); returns how many there were.
     */
    public int closeConnectionsTo(String name, long timeoutSeconds) {
        Predicate<NbdConnection> to = c -> name.equals(c.exportName());
        List<Future<Void>> done = shutdownAll(to);
        try {
            Future.join(done).toCompletionStage().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // the caller goes on; requests to a deleted volume fail anyway
            forceCloseAll(to);
        }
        return done.size();
    }

    public ExportRegistry registry() {
        return registry;
    }

    /** Payload bytes reserved in the server-wide budget right now. */
    public long inflightBytes() {
        return budget.used();
    }

    /** The server-wide payload budget, in bytes. */
    public long inflightBudget() {
        return budget.capacity();
    }

    /** Connections closed at once because {@link Options#maxConnections} were open. */
    public long refusedConnections() {
        return refused.get();
    }

    /** Reusable WRITE payload arrays (see {@link PayloadPool} for when one may go back). */
    PayloadPool payloads() {
        return payloads;
    }

    MemoryBudget budget() {
        return budget;
    }

    Options options() {
        return options;
    }

    /** The TLS settings (mode, certificates, client verification). */
    public TlsSettings tls() {
        return options.tls;
    }

    /** The options STARTTLS upgrades a socket with; null when TLS is off. */
    ServerSSLOptions tlsOptions() {
        return tlsOptions;
    }

    /** Largest READ or WRITE served. */
    int maxRequest() {
        return maxRequest;
    }

    boolean isClosing() {
        return closing;
    }

    /**
     * Stops accepting connections, stops reading requests, waits (up to
     * {@link Options#closeTimeoutMillis}) for every in-flight request to finish and be answered,
     * closes all connections (whatever is still in flight then) and, if it owns it, the Vert.x
     * instance.
     */
    @Override
    public synchronized void close() {
        if (closing) {
            return;
        }
        closing = true;
        List<Future<Void>> done = shutdownAll(c -> true);
        try {
            Future.join(done).toCompletionStage().toCompletableFuture()
                    .get(options.closeTimeoutMillis, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // close what is left; requests still in the device complete into closed sockets
            forceCloseAll(c -> true);
        }
        undeployAll();
        if (ownsVertx) {
            try {
                await(vertx.close());
            } catch (RuntimeException e) {
                // nothing more to do
            }
        }
    }

    /**
     * Tells each connection {@code which} selects to stop reading, finish what is in flight and
     * close (on its own context); the futures complete as they finish.
     */
    private List<Future<Void>> shutdownAll(Predicate<NbdConnection> which) {
        return onEach(which, (c, p) -> {
            c.shutdown();
            c.finished().onComplete(p);
        });
    }

    /**
     * Runs {@code action} on the context of each connection {@code which} selects; each future
     * completes when its action completes the promise it is given.
     */
    private <T> List<Future<T>> onEach(Predicate<NbdConnection> which, BiConsumer<NbdConnection, Promise<T>> action) {
        List<Future<T>> done = new ArrayList<>();
        for (NbdConnection c : connections) {
            if (!which.test(c)) continue;
            Promise<T> p = Promise.promise();
            c.context().runOnContext(v -> action.accept(c, p));
            done.add(p.future());
        }
        return done;
    }

    /**
     * What {@code probe} says about each open connection, asked on the connection's own
     * context (so it reads that connection's state safely from any thread); for tests that
     * wait for a connection to reach a state.
     */
    <T> List<T> probe(Function<NbdConnection, T> probe) {
        return await(Future.all(onEach(c -> true, (NbdConnection c, Promise<T> p) -> p.complete(probe.apply(c))))).list();
    }

    /** Closes the sockets of the connections {@code which} selects now, whatever is in flight. */
    private void forceCloseAll(Predicate<NbdConnection> which) {
        for (NbdConnection c : connections) {
            if (which.test(c)) c.context().runOnContext(v -> c.forceClose());
        }
    }

    private static <T> T await(Future<T> f) {
        try {
            return f.toCompletionStage().toCompletableFuture().get(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException(e);
        }
    }

    private void accept(NetSocket socket) {
        if (closing) {
            socket.close();
            return;
        }
        if (open.incrementAndGet() > options.maxConnections) {
            open.decrementAndGet();
            refused.incrementAndGet();
            java.util.logging.Logger.getLogger(NbdServer.class.getName()).warning(
                    "refusing an NBD connection from " + socket.remoteAddress() + ": " + options.maxConnections
                            + " connections open (--max-connections)");
            socket.close();
            return;
        }
        Context ctx = Vertx.currentContext();
        NbdConnection c = new NbdConnection(this, socket, ctx);
        connections.add(c);
        c.finished().onComplete(v -> {
            connections.remove(c);
            open.decrementAndGet();
        });
        c.start();
    }

    /** One event loop's acceptor. */
    private final class Listener extends VerticleBase {
        private final int port;
        private final java.nio.file.Path socket;
        private NetServer server;

        Listener(int port) {
            this.port = port;
            this.socket = null;
        }

        /** A listener on a Unix-domain socket at {@code socket}. */
        Listener(java.nio.file.Path socket) {
            this.port = 0;
            this.socket = socket;
        }

        @Override
        public Future<?> start() {
            if (socket != null) {
                server = vertx.createNetServer(new NetServerOptions());
                server.connectHandler(NbdServer.this::accept);
                return server.listen(io.vertx.core.net.SocketAddress.domainSocketAddress(socket.toString()));
            }
            server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(port)
                    .setTcpNoDelay(true).setReuseAddress(true).setReusePort(false));
            server.connectHandler(NbdServer.this::accept);
            return server.listen();
        }

        @Override
        public Future<?> stop() {
            return server.close();
        }
    }
}
