package org.jvdo.nbd;

import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.nbd.admin.AdminServer;
import org.jvdo.nbd.admin.AdminToken;

/**
 * A small pool with one volume {@code vol0}, served over NBD and the admin API on loopback
 * ports chosen by the system, for the admin contract tests. Close it in {@code @AfterEach}.
 */
final class AdminFixture implements AutoCloseable {
    final Pool pool;
    final SimpleExportRegistry registry = new SimpleExportRegistry();
    final NbdServer nbd;
    final Vertx vertx = Vertx.vertx();
    final AdminToken token;
    final AdminServer admin;
    final HttpClient http = HttpClient.newHttpClient();

    AdminFixture(Path dir) throws Exception {
        this(dir, PoolConfig.small(64L << 20));
    }

    /** As {@link #AdminFixture(Path)}, the pool made with {@code cfg} (hooks such as an operation observer). */
    AdminFixture(Path dir, PoolConfig cfg) throws Exception {
        pool = Pool.create(dir, cfg);
        pool.createVolume("vol0", 8L << 20);
        for (Volume v : pool.volumes()) registry.add(v);
        nbd = new NbdServer(registry, "127.0.0.1", 0, 1).start();
        token = AdminToken.loadOrCreate(dir);
        admin = new AdminServer(vertx, token, "127.0.0.1", 0).start().attach(pool, registry, nbd, "127.0.0.1");
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.actualPort() + path))
                .timeout(java.time.Duration.ofSeconds(30));
    }

    /** A request with the token; body null for none. */
    HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = request(path).header("Authorization", "Bearer " + token.value())
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() throws Exception {
        try {
            admin.close();
            nbd.close();
            vertx.close().toCompletionStage().toCompletableFuture().get();
        } finally {
            if (pool.isReadOnly()) pool.crash();   // a pool that went read-only may not be able to write its close
            else pool.close();
        }
    }
}
