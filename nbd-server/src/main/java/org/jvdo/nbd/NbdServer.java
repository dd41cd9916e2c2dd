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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Serves the volumes of an {@link ExportRegistry} to NBD clients over TCP.
 *
 * <p>This is how a jvdo volume becomes a disk: qemu, libnbd tools, nbdfuse or the kernel's
 * nbd-client connect here. The server speaks fixed-newstyle NBD with structured replies,
 * {@code base:allocation} block status and many requests in flight per connection, answered
 * as the device completes them. It runs on Vert.x event loops (native epoll when available);
 * each connection's parsing and replies stay on one event loop, and device futures may complete
 * on any thread.
 *
 * <p>Lifecycle: construct, {@link #start()} (returns once listening), {@link #close()} (stops
 * accepting, lets in-flight requests finish, closes connections). A closed server can't be
 * restarted; make a new one on the same registry.
 */
public final class NbdServer implements AutoCloseable {
    /** Largest READ or WRITE payload accepted, also advertised as the maximum block size. */
    public static final int MAX_PAYLOAD = 32 << 20;
    /** Advertised minimum block size: any byte offset and length works. */
    public static final int MIN_BLOCK = 1;
    /** Advertised preferred block size: the device block, below which writes read-modify-write. */
    public static final int PREFERRED_BLOCK = 4096;
    /** Oversized WRITE payloads up to this size are read and discarded; larger ones close the connection. */
    public static final long MAX_DISCARD = 128L << 20;
    /** Longest option payload accepted during the handshake. */
    public static final int MAX_OPTION_LENGTH = 64 << 10;
    /** Longer option payloads up to this are discarded with NBD_REP_ERR_TOO_BIG; beyond, the connection closes. */
    public static final int MAX_OPTION_DISCARD = 1 << 20;
    /** A connection stops reading above this many requests in flight and resumes at half. */
    public static final int MAX_INFLIGHT_REQUESTS = 64;
    /** A connection stops reading above this many payload bytes in flight and resumes at half. */
    public static final long MAX_INFLIGHT_BYTES = 64L << 20;
    /** How long {@link #close()} waits for in-flight requests before giving up. */
    public static final long CLOSE_TIMEOUT_SECONDS = 60;

    private final ExportRegistry registry;
    private final String host;
    private final int requestedPort;
    private final int eventLoops;
    private final Vertx vertx;
    private final boolean ownsVertx;
    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
    private final List<String> deployments = new ArrayList<>();
    private volatile boolean closing;
    private volatile int actualPort = -1;

    /** A server with its own Vert.x instance using one event loop per core. */
    public NbdServer(ExportRegistry registry, String host, int port) {
        this(registry, host, port, Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    /** A server with its own Vert.x instance and {@code eventLoops} event loops. */
    public NbdServer(ExportRegistry registry, String host, int port, int eventLoops) {
        this(registry, host, port, eventLoops,
                Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(eventLoops)),
                true);
    }

    /** A server on a caller-owned Vert.x instance, which {@link #close()} leaves running. */
    public NbdServer(ExportRegistry registry, String host, int port, int eventLoops, Vertx vertx) {
        this(registry, host, port, eventLoops, vertx, false);
    }

    private NbdServer(ExportRegistry registry, String host, int port, int eventLoops, Vertx vertx, boolean owns) {
        if (eventLoops < 1) {
            throw new IllegalArgumentException("eventLoops must be >= 1");
        }
        this.registry = registry;
        this.host = host;
        this.requestedPort = port;
        this.eventLoops = eventLoops;
        this.vertx = vertx;
        this.ownsVertx = owns;
    }

    /** Binds and starts accepting; returns once listening. */
    public synchronized NbdServer start() {
        if (actualPort >= 0) {
            throw new IllegalStateException("already started");
        }
        // The first listener binds the requested (maybe ephemeral) port; the others share the
        // bound port so connections are spread over event loops.
        Listener first = new Listener(requestedPort);
        deployments.add(await(vertx.deployVerticle(first)));
        actualPort = first.server.actualPort();
        if (eventLoops > 1) {
            int port = actualPort;
            deployments.add(await(vertx.deployVerticle(() -> new Listener(port),
                    new DeploymentOptions().setInstances(eventLoops - 1))));
        }
        return this;
    }

    /** The TCP port clients connect to; valid after {@link #start()}. */
    public int actualPort() {
        if (actualPort < 0) {
            throw new IllegalStateException("not started");
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
        List<Future<Void>> done = new ArrayList<>();
        for (NbdConnection c : connections) {
            if (!name.equals(c.exportName())) continue;
            Promise<Void> p = Promise.promise();
            c.context().runOnContext(v -> {
                c.shutdown();
                c.finished().onComplete(p);
            });
            done.add(p.future());
        }
        try {
            Future.join(done).toCompletionStage().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // the caller goes on; requests to a deleted volume fail anyway
        }
        return done.size();
    }

    public ExportRegistry registry() {
        return registry;
    }

    boolean isClosing() {
        return closing;
    }

    /**
     * Stops accepting connections, stops reading requests, waits (up to
     * {@link #CLOSE_TIMEOUT_SECONDS}) for every in-flight request to finish and be answered,
     * closes all connections and, if it owns it, the Vert.x instance.
     */
    @Override
    public synchronized void close() {
        if (closing) {
            return;
        }
        closing = true;
        List<Future<Void>> done = new ArrayList<>();
        for (NbdConnection c : connections) {
            Promise<Void> p = Promise.promise();
            c.context().runOnContext(v -> {
                c.shutdown();
                c.finished().onComplete(p);
            });
            done.add(p.future());
        }
        try {
            Future.join(done).toCompletionStage().toCompletableFuture()
                    .get(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            // fall through: undeploying closes whatever is left
        }
        for (String id : deployments) {
            try {
                await(vertx.undeploy(id));
            } catch (RuntimeException e) {
                // already gone
            }
        }
        if (ownsVertx) {
            try {
                await(vertx.close());
            } catch (RuntimeException e) {
                // nothing more to do
            }
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
        Context ctx = Vertx.currentContext();
        NbdConnection c = new NbdConnection(this, socket, ctx);
        connections.add(c);
        c.finished().onComplete(v -> connections.remove(c));
        c.start();
    }

    /** One event loop's acceptor. */
    private final class Listener extends VerticleBase {
        private final int port;
        private NetServer server;

        Listener(int port) {
            this.port = port;
        }

        @Override
        public Future<?> start() {
            server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(port)
                    .setTcpNoDelay(true).setReuseAddress(true).setReusePort(eventLoops > 1));
            server.connectHandler(NbdServer.this::accept);
            return server.listen();
        }

        @Override
        public Future<?> stop() {
            return server.close();
        }
    }
}
