package org.jvdo.nbd.admin;

import static org.jvdo.nbd.admin.RequestBodies.*;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.ServerSSLOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jvdo.core.Pool;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.Volume;
import org.jvdo.core.api.Operation;
import org.jvdo.core.api.ProgressListener;
import org.jvdo.nbd.NbdServer;
import org.jvdo.nbd.TlsSettings;
import org.jvdo.nbd.SimpleExportRegistry;

/**
 * The admin REST API, served by the same process as NBD (default 127.0.0.1:10810): pool and
 * volume statistics, volume create / delete / resize / engine, {@code /health},
 * {@code /metrics} (Prometheus), its own OpenAPI document and a web dashboard ({@code /ui}, see
 * {@link Dashboard}). JSON in and out; every route but {@code /health} and the dashboard's
 * static files needs {@code Authorization: Bearer TOKEN} (see {@link AdminToken}).
 *
 * <p>It can start before the pool is open: until {@link #attach} it answers {@code /health}
 * with mode {@code recovering} (503), with the recovery's phase and progress that
 * {@link #recoveryListener} heard, and every API route with 503. Plain HTTP by default; HTTPS
 * with {@link #https}.
 *
 * <p>Why over 400 lines: the one route table (which the OpenAPI test compares with the document) and
 * each route's handler sit together so a route and its answer read side by side.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("org.jvdo.admin");
    /** Largest request body accepted. */
    public static final long BODY_LIMIT = 64 << 10;
    static final String API = "/api/v1";

    /** What the API manages, once the pool is open. */
    private record Backend(Pool pool, org.jvdo.nbd.VolumeService volumes, NbdServer nbd, String exportHost) { }

    private final Vertx vertx;
    private final AdminToken token;
    private final String host;
    private final int requestedPort;
    private final List<RouteSpec> routes;
    private final Metrics metrics = new Metrics(this::pool);
    private final Dashboard dashboard = new Dashboard();
    private final Router router;
    private volatile Backend backend;
    private HttpServer server;
    private volatile int maxConnections = 64;
    /** HTTPS with the certificates of this directory (TlsSettings' layout), or null for plain HTTP. */
    private Path tlsCertificates;
    /** What the pool's open reported last ({@link #recoveryListener}); null before its first report. */
    private volatile RecoveryState recovery;
    /** Volumes whose delete runs now (they are gone from the pool's table before the delete ends). */
    private final Map<String, Volume> deleting = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger openConnections = new java.util.concurrent.atomic.AtomicInteger();

    public AdminServer(Vertx vertx, AdminToken token, String host, int port) {
        this.vertx = vertx;
        this.token = token;
        this.host = host;
        this.requestedPort = port;
        this.routes = routeTable();
        this.router = buildRouter();
    }

    /** Connects the API to the open pool, its export registry and the NBD server. */
    public AdminServer attach(Pool pool, SimpleExportRegistry registry, NbdServer nbd, String exportHost) {
        this.backend = new Backend(pool, new org.jvdo.nbd.VolumeService(pool, registry, nbd), nbd, exportHost);
        return this;
    }

    /** Open admin connections at most; more are closed as soon as they are accepted. Call before {@link #start()}. */
    public AdminServer maxConnections(int n) {
        if (n < 1) throw new IllegalArgumentException("maxConnections must be >= 1");
        this.maxConnections = n;
        return this;
    }

    /** A report of the open's recovery work: phase, done, total (0: unknown). */
    private record RecoveryState(String phase, long done, long total) { }

    /**
     * Serves HTTPS instead of HTTP, with {@code certificates} laid out as the NBD server's
     * ({@link TlsSettings}: {@value TlsSettings#SERVER_CERT}, {@value TlsSettings#SERVER_KEY}; clients
     * verify with {@value TlsSettings#CA_CERT}). Call before {@link #start()}, which reads the
     * files and fails naming the one that is missing or bad. Plain HTTP is the default.
     */
    public AdminServer https(Path certificates) {
        this.tlsCertificates = java.util.Objects.requireNonNull(certificates, "certificates");
        return this;
    }

    /** {@code https} or {@code http}, as {@link #start()} serves. */
    public String scheme() { return tlsCertificates == null ? "http" : "https"; }

    /**
     * The listener to set as {@code PoolConfig.recoveryProgress} for the pool this server will
     * be attached to: while the pool opens, {@code /health} shows the phase and its progress.
     */
    public ProgressListener recoveryListener() {
        return (phase, done, total) -> recovery = new RecoveryState(phase, done, total);
    }

    /** The open pool, or null before {@link #attach}. */
    private Pool pool() {
        Backend b = backend;
        return b == null ? null : b.pool();
    }

    /** Binds and returns once listening. */
    public AdminServer start() {
        HttpServerOptions options = new HttpServerOptions();
        if (tlsCertificates != null) {
            // the NBD server's loader: same files, same checks, same messages; a missing CA is no matter here
            ServerSSLOptions ssl = new TlsSettings(TlsSettings.Mode.ON, tlsCertificates, false).load(vertx);
            options.setSsl(true).setKeyCertOptions(ssl.getKeyCertOptions())
                    .setEnabledSecureTransportProtocols(ssl.getEnabledSecureTransportProtocols());
        }
        server = await(vertx.createHttpServer(options).connectionHandler(conn -> {
            if (openConnections.incrementAndGet() > maxConnections) {
                openConnections.decrementAndGet();
                LOG.warning("refusing an admin connection from " + conn.remoteAddress() + ": " + maxConnections
                        + " open (--admin-max-connections)");
                conn.close();
                return;
            }
            conn.closeHandler(v -> openConnections.decrementAndGet());
        }).requestHandler(router).listen(requestedPort, host));
        return this;
    }

    public int actualPort() { return server.actualPort(); }

    /** The version {@code /metrics} reports in {@code jvdo_build_info}. */
    public static String version() { return Metrics.VERSION; }

    /** The router, so tests can compare the routes served with the OpenAPI document. */
    public Router router() { return router; }

    @Override
    public void close() {
        if (server != null) {
            try {
                await(server.close());
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "closing the admin server", e);
            }
        }
    }

    private static <T> T await(Future<T> f) {
        try {
            return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (Exception e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException(c.getMessage(), c);
        }
    }

    // ---------------------------------------------------------------- routes

    /** One route the API serves: a method, a Vert.x path template ({@code :name}) and its handler. */
    public record RouteSpec(HttpMethod method, String path, Handler<RoutingContext> handler) {
        /** The path in OpenAPI's form ({@code {name}}). */
        public String openapiPath() { return path.replaceAll(":([A-Za-z_]+)", "{$1}"); }

        boolean matches(String requestPath) {
            return requestPath.matches(path.replace(".", "\\.").replaceAll(":[A-Za-z_]+", "[^/]+"));
        }
    }

    /**
     * Every route served, in one table: the router is built from it, 405's {@code Allow} header
     * is computed from it and the OpenAPI test compares it with the document. Each GET route
     * also answers HEAD (same status and headers, no body).
     */
    public List<RouteSpec> routes() { return routes; }

    private List<RouteSpec> routeTable() {
        List<RouteSpec> api = List.of(
                new RouteSpec(HttpMethod.GET, "/health", this::health),
                new RouteSpec(HttpMethod.GET, "/metrics", this::metrics),
                new RouteSpec(HttpMethod.GET, API + "/openapi.yaml", this::openapi),
                new RouteSpec(HttpMethod.GET, API + "/stats", this::poolStats),
                new RouteSpec(HttpMethod.GET, API + "/debug/in-flight", this::inFlight),
                new RouteSpec(HttpMethod.GET, API + "/operations", this::operations),
                new RouteSpec(HttpMethod.GET, API + "/cluster", this::cluster),
                new RouteSpec(HttpMethod.GET, API + "/volumes", this::listVolumes),
                new RouteSpec(HttpMethod.POST, API + "/volumes", this::createVolume),
                new RouteSpec(HttpMethod.GET, API + "/volumes/:name", this::getVolume),
                new RouteSpec(HttpMethod.DELETE, API + "/volumes/:name", this::deleteVolume),
                new RouteSpec(HttpMethod.GET, API + "/volumes/:name/stats", this::volumeStats),
                new RouteSpec(HttpMethod.POST, API + "/volumes/:name/resize", this::resizeVolume),
                new RouteSpec(HttpMethod.PUT, API + "/volumes/:name/engine", this::setEngine));
        List<RouteSpec> all = new java.util.ArrayList<>(api);
        all.addAll(dashboard.routes());   // the web dashboard's files (/ui), served without the token
        return List.copyOf(all);
    }

    /** The methods served on a request path (HEAD with every GET), for 405's {@code Allow}. */
    String allowedMethods(String requestPath) {
        Set<String> out = new java.util.LinkedHashSet<>();
        for (RouteSpec r : routes) {
            if (!r.matches(requestPath)) continue;
            out.add(r.method().name());
            if (r.method() == HttpMethod.GET) out.add("HEAD");
        }
        return String.join(", ", out);
    }

    private Router buildRouter() {
        Router r = Router.router(vertx);
        r.route().handler(this::authenticate);
        r.route().handler(BodyHandler.create(false).setBodyLimit(BODY_LIMIT));
        for (RouteSpec spec : routes) {
            io.vertx.ext.web.Route route = r.route(spec.method(), spec.path());
            if (spec.method() == HttpMethod.GET) route.method(HttpMethod.HEAD);
            route.handler(spec.handler());
        }
        r.errorHandler(413, ctx -> error(ctx, 413, "request body larger than " + BODY_LIMIT + " bytes", "body"));
        r.errorHandler(404, ctx -> error(ctx, 404, "no such route: " + ctx.request().method() + " " + ctx.request().path(), null));
        r.errorHandler(405, ctx -> {
            ctx.response().putHeader("Allow", allowedMethods(ctx.request().path()));
            error(ctx, 405, "method " + ctx.request().method() + " not allowed on " + ctx.request().path()
                    + " (allowed: " + allowedMethods(ctx.request().path()) + ")", null);
        });
        r.errorHandler(500, ctx -> {
            LOG.log(Level.WARNING, "admin API failure", ctx.failure());
            error(ctx, 500, "internal error: " + (ctx.failure() == null ? "unknown" : ctx.failure().getMessage()), null);
        });
        return r;
    }

    private void authenticate(RoutingContext ctx) {
        if ("/health".equals(ctx.request().path()) || dashboard.isPublic(ctx.normalizedPath())) {
            ctx.next();
            return;
        }
        if (!token.matchesHeader(ctx.request().getHeader("Authorization"))) {
            ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"jvdo\"");
            error(ctx, 401, "missing or wrong bearer token (see DATA/" + AdminToken.FILE + ")", null);
            return;
        }
        ctx.next();
    }

    private Backend backendOr503(RoutingContext ctx) {
        Backend b = backend;
        if (b == null) error(ctx, 503, "the pool is being opened (recovering); try again shortly", null);
        return b;
    }

    private void health(RoutingContext ctx) {
        Backend b = backend;
        JsonObject o = new JsonObject();
        if (b == null) {
            RecoveryState r = recovery;
            o.put("mode", "recovering").put("reason", "the pool is being opened");
            o.put("recovery", r == null ? new JsonObject().put("phase", "opening").put("done", 0).put("total", 0)
                    : new JsonObject().put("phase", r.phase()).put("done", r.done()).put("total", r.total()));
            json(ctx, 503, o);
            return;
        }
        Pool pool = b.pool();
        String mode = pool.mode();
        o.put("mode", mode).put("reason", pool.isReadOnly() ? pool.readOnlyReason() : pool.noSpaceReason());
        o.put("last_recovery", new JsonObject().put("clean", pool.wasClean()).put("entries_replayed", pool.replayedEntries())
                .put("blocks_rebuilt", pool.rebuiltBlocks()).put("duration_ms", pool.recoveryMillis()).put("report", pool.openReport()));
        json(ctx, "normal".equals(mode) ? 200 : 503, o);
    }

    private volatile ClusterView cluster;

    /** Serves {@code GET /api/v1/cluster} and the cluster's figures in {@code /metrics} from {@code view}. */
    public AdminServer attachCluster(ClusterView view) {
        this.cluster = view;
        metrics.attachCluster(view);
        return this;
    }

    /** The cluster this server is a member of (404 when it is not). */
    private void cluster(RoutingContext ctx) {
        ClusterView c = cluster;
        if (c == null) {
            error(ctx, 404, "this server is not a cluster member (start it with serve --cluster NAME)", null);
            return;
        }
        blocking(ctx, c::status, o -> json(ctx, 200, o));
    }

    /** The volume deletes and resizes running now, with their phase and progress. */
    private void operations(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        JsonArray a = new JsonArray();
        for (Operation op : b.pool().operations()) a.add(operationJson(op));
        json(ctx, 200, new JsonObject().put("operations", a));
    }

    static JsonObject operationJson(Operation op) {
        return new JsonObject().put("id", op.id()).put("type", op.kind()).put("volume", op.volume()).put("phase", op.phase())
                .put("done", op.done()).put("total", op.total()).put("started", op.started().toString())
                .put("elapsed_ms", op.elapsedMillis());
    }

    private void metrics(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        blocking(ctx, metrics::scrape, text -> send(ctx, 200, Metrics.CONTENT_TYPE, text));
    }

    private void openapi(RoutingContext ctx) {
        send(ctx, 200, "application/yaml; charset=utf-8", openapiDocument());
    }

    /** The OpenAPI 3 document describing every route. */
    public static String openapiDocument() {
        try (InputStream in = AdminServer.class.getResourceAsStream("openapi.yaml")) {
            if (in == null) throw new IllegalStateException("openapi.yaml missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void poolStats(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        blocking(ctx, () -> poolStatsJson(b.pool()).put("cluster_member", cluster != null), o -> json(ctx, 200, o));
    }

    /** The writes in flight with the stage each is in (for a dump when something is stuck). */
    private void inFlight(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        blocking(ctx, () -> {
            java.util.List<String> lines = b.pool().inFlight();
            return new JsonObject().put("vios", new io.vertx.core.json.JsonArray(lines.subList(0, lines.size() - 1)))
                    .put("summary", lines.get(lines.size() - 1));
        }, o -> json(ctx, 200, o));
    }

    static JsonObject poolStatsJson(Pool pool) {
        Map<String, Long> s = pool.stats();
        JsonObject o = new JsonObject();
        o.put("mode", pool.mode());
        if (pool.isReadOnly()) o.put("read_only_reason", pool.readOnlyReason());
        if (pool.noSpaceReason() != null) o.put("no_space_reason", pool.noSpaceReason());
        o.put("directory", pool.directory().toAbsolutePath().toString());
        o.put("block_size", 4096);
        for (Map.Entry<String, Long> e : s.entrySet()) o.put(e.getKey(), e.getValue());
        JsonObject mm = new JsonObject();
        Map<String, Long> saved = new java.util.LinkedHashMap<>();
        try {
            for (Map.Entry<String, Long> e : pool.mmStat(saved).entrySet()) mm.put(e.getKey(), e.getValue());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("mm_stat: " + e.getMessage(), e);
        }
        o.put("mm_stat", mm);
        o.put("saved_blocks", new JsonObject(new java.util.LinkedHashMap<>(saved)));
        JsonObject stages = new JsonObject();
        pool.stageLatencies().forEach((stage, h) -> {
            var snap = h.snapshot();
            stages.put(stage, new JsonObject().put("count", snap.count()).put("sum_nanos", snap.sumNanos()));
        });
        o.put("stage_latency", stages);
        return o;
    }

    private void listVolumes(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        JsonArray a = new JsonArray();
        for (Volume v : b.pool().volumes()) a.add(volumeJson(b, v));
        json(ctx, 200, new JsonObject().put("volumes", a));
    }

    private JsonObject volumeJson(Backend b, Volume v) {
        JsonObject o = new JsonObject()
                .put("name", v.name())
                .put("logical_size", v.size())
                .put("engine", v.engineName())
                .put("logical_blocks_used", v.stats().getOrDefault("logical_blocks_used", 0L))
                .put("export", b.nbd().exportUri(b.exportHost(), v.name()))
                .put("connections", b.nbd().connectionsTo(v.name()));
        for (Operation op : b.pool().operations()) {
            if (op.volume().equals(v.name())) o.put("operation", operationJson(op));
        }
        return o;
    }

    /** The volume named in the path, or a 404 already sent. */
    private Volume volumeOr404(RoutingContext ctx, Backend b) {
        String name = ctx.pathParam("name");
        Volume v = b.pool().volume(name);
        if (v == null || v.isDeleted()) {
            error(ctx, 404, "no volume " + name, "name");
            return null;
        }
        return v;
    }

    private void getVolume(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        Volume gone = deleting.get(ctx.pathParam("name"));
        if (gone != null) {         // its delete runs: shown, with the operation, until it ends
            json(ctx, 200, volumeJson(b, gone));
            return;
        }
        Volume v = volumeOr404(ctx, b);
        if (v != null) json(ctx, 200, volumeJson(b, v));
    }

    private void volumeStats(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        Volume v = volumeOr404(ctx, b);
        if (v == null) return;
        JsonObject o = new JsonObject().put("name", v.name()).put("mode", b.pool().mode())
                .put("logical_size", v.size()).put("engine", v.engineName());
        for (Map.Entry<String, Long> e : v.stats().entrySet()) o.put(e.getKey(), e.getValue());
        json(ctx, 200, o);
    }

    private void createVolume(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        JsonObject body = body(ctx, Set.of("name", "logical_size", "engine"));
        if (body == null) return;
        Object n = body.getValue("name");
        if (!(n instanceof String name) || !Pool.isValidVolumeName(name)) {
            error(ctx, 400, "name must be 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", "name");
            return;
        }
        Long size = size(ctx, body, true);
        if (size == null) return;
        String engine = engine(ctx, b.pool(), body, false);
        if (ctx.response().ended()) return;
        if (b.pool().volume(name) != null) {
            error(ctx, 409, "volume " + name + " already exists", "name");
            return;
        }
        blocking(ctx, () -> b.volumes().create(name, size, engine), v -> {
            ctx.response().putHeader("Location", API + "/volumes/" + v.name());
            json(ctx, 201, volumeJson(b, v));
        });
    }

    private void deleteVolume(RoutingContext ctx) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        Volume v = volumeOr404(ctx, b);
        if (v == null) return;
        String force = ctx.request().getParam("force");
        if (force != null && !force.equals("true") && !force.equals("false")) {
            error(ctx, 400, "force must be true or false", "force");
            return;
        }
        boolean forced = "true".equals(force);
        String name = v.name();
        blocking(ctx, () -> {
            deleting.put(name, v);
            try {
                return -b.volumes().delete(v, forced) - 1;
            } catch (org.jvdo.nbd.VolumeService.VolumeBusyException busy) {
                return busy.connections();
            } finally {
                deleting.remove(name, v);
            }
        }, r -> {
            if (r >= 0) {
                error(ctx, 409, "volume " + name + " has " + r + " NBD connection(s); disconnect them or delete with force (?force=true; jvdo volume delete --force)", "name");
            } else {
                json(ctx, 200, new JsonObject().put("deleted", name).put("connections_closed", -r - 1)
                        .put("data_blocks_used", b.pool().stats().get("data_blocks_used")));
            }
        });
    }

    private void resizeVolume(RoutingContext ctx) {
        changeVolume(ctx, "logical_size", (b, v, body) -> {
            Long size = size(ctx, body, true);
            if (size != null && size < v.size()) {
                error(ctx, 400, "volume " + v.name() + " is " + v.size() + " bytes; it can grow, not shrink, to " + size, "logical_size");
                return null;
            }
            return size;
        }, (b, v, size) -> b.volumes().resize(v, size));
    }

    private void setEngine(RoutingContext ctx) {
        changeVolume(ctx, "engine", (b, v, body) -> engine(ctx, b.pool(), body, true),
                (b, v, engine) -> b.volumes().setEngine(v, engine));
    }

    /** Reads a change from a request body; null when it is invalid (an error was sent). */
    private interface ChangeParser<T> {
        T parse(Backend b, Volume v, JsonObject body);
    }

    /** Makes a change to a volume (off the event loop). */
    private interface Change<T> {
        void apply(Backend b, Volume v, T value) throws Exception;
    }

    /**
     * A change to the volume named in the path, described by a body with the one field
     * {@code field}: answers 503, 404 or 400 as the request needs, else makes the change and
     * answers the volume.
     */
    private <T> void changeVolume(RoutingContext ctx, String field, ChangeParser<T> parser, Change<T> change) {
        Backend b = backendOr503(ctx);
        if (b == null) return;
        Volume v = volumeOr404(ctx, b);
        if (v == null) return;
        JsonObject body = body(ctx, Set.of(field));
        if (body == null) return;
        T value = parser.parse(b, v, body);
        if (value == null) return;
        blocking(ctx, () -> {
            change.apply(b, v, value);
            return v;
        }, x -> json(ctx, 200, volumeJson(b, x)));
    }

    // ---------------------------------------------------------------- plumbing

    /** Runs pool work off the event loop; maps pool errors to HTTP statuses. */
    private <T> void blocking(RoutingContext ctx, Callable<T> work, java.util.function.Consumer<T> reply) {
        vertx.executeBlocking(work, false).onComplete(ar -> {
            if (ctx.response().ended()) return;
            if (ar.succeeded()) {
                reply.accept(ar.result());
                return;
            }
            Throwable t = ar.cause();
            if (t instanceof VdoException ve) {
                int status = org.jvdo.nbd.ErrorCodes.http(ve.errno());
                error(ctx, status, ve.getMessage(), null);
            } else {
                LOG.log(Level.WARNING, "admin request failed", t);
                error(ctx, 500, String.valueOf(t.getMessage()), null);
            }
        });
    }
}
