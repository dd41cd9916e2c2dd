package org.jvdo.nbd;

import org.jvdo.testsupport.Await;
import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvdo.core.api.BlockStore;
import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.Volume;
import org.jvdo.nbd.admin.AdminServer;
import org.jvdo.nbd.admin.AdminToken;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin REST API and the jvdo stats / jvdo volume commands against an in-process server. */
class AdminApiTest {
    @TempDir Path dir;
    Pool pool;
    SimpleExportRegistry registry;
    NbdServer nbd;
    Vertx vertx;
    AdminServer admin;
    AdminToken token;
    final HttpClient http = HttpClient.newHttpClient();
    volatile boolean failWrites;

    @BeforeEach
    void start() throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.storeWrapper = FailingStore.wrapper(() -> failWrites);
        pool = Pool.create(dir, cfg);
        pool.createVolume("vol0", 8L << 20);
        registry = new SimpleExportRegistry();
        for (Volume v : pool.volumes()) registry.add(v);
        nbd = new NbdServer(registry, "127.0.0.1", 0, 1).start();
        vertx = Vertx.vertx();
        token = AdminToken.loadOrCreate(dir);
        admin = new AdminServer(vertx, token, "127.0.0.1", 0).start().attach(pool, registry, nbd, "127.0.0.1");
    }

    @AfterEach
    void stop() throws Exception {
        admin.close();
        nbd.close();
        vertx.close().toCompletionStage().toCompletableFuture().get();
        if (failWrites) pool.crash(); else pool.close();
    }

    // ---------------------------------------------------------------- helpers

    record Reply(int status, String body) {
        JsonObject json() { return new JsonObject(body); }
    }

    Reply call(String method, String path, String body, String auth) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.actualPort() + path));
        if (auth != null) b.header("Authorization", auth);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    Reply call(String method, String path, String body) throws Exception {
        return call(method, path, body, "Bearer " + token.value());
    }

    Reply get(String path) throws Exception { return call("GET", path, null); }

    void assertError(Reply r, int status, String field) {
        assertEquals(status, r.status(), r.body());
        JsonObject o = r.json();
        assertNotNull(o.getString("error"), r.body());
        assertEquals(field, o.getString("field"), r.body());
    }

    List<String> nbdExports() throws IOException {
        try (RawClient c = RawClient.open(nbd.actualPort())) {
            c.option(NbdProtocol.OPT_LIST, new byte[0]);
            List<String> names = new ArrayList<>();
            for (RawClient.OptReply r : c.optReplies()) {
                if (r.type() == NbdProtocol.REP_SERVER) {
                    ByteBuffer b = ByteBuffer.wrap(r.data());
                    byte[] n = new byte[b.getInt()];
                    b.get(n);
                    names.add(new String(n, StandardCharsets.UTF_8));
                }
            }
            return names;
        }
    }

    static byte[] randomBlocks(int n, long seed) {
        byte[] b = new byte[n * 4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    static void flush(RawClient c) throws IOException {
        c.request(0, NbdProtocol.CMD_FLUSH, 99, 0, 0, null);
        assertEquals(0, c.simple().error());
    }

    // ---------------------------------------------------------------- security

    static final List<String[]> PROTECTED = List.of(
            new String[] {"GET", "/metrics"}, new String[] {"GET", "/api/v1/openapi.yaml"},
            new String[] {"GET", "/api/v1/stats"}, new String[] {"GET", "/api/v1/debug/in-flight"}, new String[] {"GET", "/api/v1/volumes"},
            new String[] {"POST", "/api/v1/volumes"}, new String[] {"GET", "/api/v1/volumes/vol0"},
            new String[] {"DELETE", "/api/v1/volumes/vol0"}, new String[] {"GET", "/api/v1/volumes/vol0/stats"},
            new String[] {"POST", "/api/v1/volumes/vol0/resize"}, new String[] {"PUT", "/api/v1/volumes/vol0/engine"});

    @Test
    void everyRouteButHealthNeedsTheToken() throws Exception {
        String wrong = "Bearer " + "0".repeat(64);
        for (String[] r : PROTECTED) {
            String body = r[0].equals("GET") || r[0].equals("DELETE") ? null : "{}";
            assertEquals(401, call(r[0], r[1], body, null).status(), "no token: " + r[1]);
            assertEquals(401, call(r[0], r[1], body, wrong).status(), "wrong token: " + r[1]);
            assertEquals(401, call(r[0], r[1], body, token.value()).status(), "no Bearer prefix: " + r[1]);
            assertEquals(401, call(r[0], r[1], body, "Bearer " + token.value() + "0").status(), "longer token: " + r[1]);
        }
        assertNotNull(pool.volume("vol0"), "nothing happened without the token");
        Reply h = call("GET", "/health", null, null);
        assertEquals(200, h.status());
        assertEquals("normal", h.json().getString("mode"));
        assertEquals(200, get("/api/v1/stats").status());
    }

    @Test
    void inFlightDumpListsNoVioWhenIdle() throws Exception {
        pool.quiesce();
        Reply r = get("/api/v1/debug/in-flight");
        assertEquals(200, r.status());
        assertEquals(0, r.json().getJsonArray("vios").size(), r.json().encode());
        assertTrue(r.json().getString("summary").startsWith("vios in use 0 of "), r.json().encode());
    }

    @Test
    void tokenFileIsPrivateAndStable() throws Exception {
        Path f = dir.resolve(AdminToken.FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertTrue(token.value().matches("[0-9a-f]{64}"));
        AdminToken again = AdminToken.loadOrCreate(dir);
        assertFalse(again.created());
        assertEquals(token.value(), again.value());
        Path other = dir.resolve("other");
        AdminToken fresh = AdminToken.loadOrCreate(other);
        assertTrue(fresh.created());
        assertNotEquals(token.value(), fresh.value());
    }

    @Test
    void healthReportsRecoveringAndReadOnly() throws Exception {
        try (AdminServer early = new AdminServer(vertx, token, "127.0.0.1", 0).start()) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + early.actualPort() + "/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, r.statusCode());
            assertEquals("recovering", new JsonObject(r.body()).getString("mode"));
            r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + early.actualPort() + "/api/v1/stats"))
                    .header("Authorization", "Bearer " + token.value()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, r.statusCode());
        }
        failWrites = true;
        try (RawClient c = RawClient.open(nbd.actualPort())) {
            c.go("vol0");
            c.write(1, 0, randomBlocks(1, 1));
            c.request(0, NbdProtocol.CMD_FLUSH, 2, 0, 0, null);
            assertNotEquals(0, c.simple().error());
        }
        Reply h = call("GET", "/health", null, null);
        assertEquals(503, h.status());
        assertEquals("read-only", h.json().getString("mode"));
        assertNotNull(h.json().getString("reason"));
        assertEquals("read-only", get("/api/v1/stats").json().getString("mode"));
    }

    // ---------------------------------------------------------------- volumes

    @Test
    void createWriteStatsDelete() throws Exception {
        Reply c = call("POST", "/api/v1/volumes", "{\"name\":\"v1\",\"logical_size\":\"8M\",\"engine\":\"none\"}");
        assertEquals(201, c.status(), c.body());
        assertEquals(8L << 20, c.json().getLong("logical_size"));
        assertEquals("none", c.json().getString("engine"));
        assertEquals("nbd://127.0.0.1:" + nbd.actualPort() + "/v1", c.json().getString("export"));
        assertEquals(List.of("vol0", "v1"), nbdExports());
        assertError(call("POST", "/api/v1/volumes", "{\"name\":\"v1\",\"logical_size\":4096}"), 409, "name");

        long before = get("/api/v1/stats").json().getLong("data_blocks_used");
        RawClient client = RawClient.open(nbd.actualPort());
        try {
            client.go("v1");
            assertEquals(8L << 20, client.exportSize);
            assertEquals(0, client.write(1, 0, randomBlocks(20, 7)));
            flush(client);
            JsonObject s = get("/api/v1/stats").json();
            assertEquals(before + 20, s.getLong("data_blocks_used"));
            assertEquals(20, s.getLong("logical_blocks_used"));
            assertEquals("normal", s.getString("mode"));
            JsonObject mm = s.getJsonObject("mm_stat");
            assertEquals(20L * 4096, mm.getLong("orig_data_size"));
            assertEquals(20L * 4096, mm.getLong("compr_data_size"), "20 incompressible blocks stored whole");
            assertEquals(20, mm.getLong("huge_pages"));
            assertTrue(mm.getLong("mem_used_total") > mm.getLong("compr_data_size"));
            assertTrue(s.containsKey("bios_in_write"));
            JsonObject vs = get("/api/v1/volumes/v1/stats").json();
            assertEquals(20, vs.getLong("logical_blocks_used"));
            assertEquals(1, get("/api/v1/volumes/v1").json().getInteger("connections"));

            assertError(call("DELETE", "/api/v1/volumes/v1", null), 409, "name");
            assertError(call("DELETE", "/api/v1/volumes/v1?force=maybe", null), 400, "force");
            assertNotNull(pool.volume("v1"));
            assertTrue(nbdExports().contains("v1"), "a refused delete leaves the export");
            Reply d = call("DELETE", "/api/v1/volumes/v1?force=true", null);
            assertEquals(200, d.status(), d.body());
            assertEquals(1, d.json().getInteger("connections_closed"));
            assertTrue(client.closedByServer());
        } finally {
            client.close();
        }
        assertEquals(before, get("/api/v1/stats").json().getLong("data_blocks_used"));
        assertEquals(List.of("vol0"), nbdExports());
        assertError(get("/api/v1/volumes/v1"), 404, "name");
        assertTrue(pool.verifyReferenceCounts().isEmpty());

        // without clients a plain delete works
        assertEquals(201, call("POST", "/api/v1/volumes", "{\"name\":\"v2\",\"logical_size\":65536}").status());
        try (RawClient c2 = RawClient.open(nbd.actualPort())) {
            c2.go("v2");
            c2.disconnect();
        }
        Await.until(() -> nbd.connectionsTo("v2") == 0, Await.SECONDS, () -> "v2 still has " + nbd.connectionsTo("v2") + " connection(s)");
        assertEquals(200, call("DELETE", "/api/v1/volumes/v2", null).status());
        JsonArray list = get("/api/v1/volumes").json().getJsonArray("volumes");
        assertEquals(1, list.size());
        assertEquals("vol0", list.getJsonObject(0).getString("name"));
    }

    @Test
    void resizeGrowsAndNewConnectionsSeeIt() throws Exception {
        assertEquals(201, call("POST", "/api/v1/volumes", "{\"name\":\"g\",\"logical_size\":\"2M\"}").status());
        try (RawClient c = RawClient.open(nbd.actualPort())) {
            c.go("g");
            assertEquals(2L << 20, c.exportSize);
            assertEquals(0, c.write(1, 4096, randomBlocks(1, 3)));
            flush(c);
        }
        Reply r = call("POST", "/api/v1/volumes/g/resize", "{\"logical_size\":\"16M\"}");
        assertEquals(200, r.status(), r.body());
        assertEquals(16L << 20, r.json().getLong("logical_size"));
        try (RawClient c = RawClient.open(nbd.actualPort())) {
            c.go("g");
            assertEquals(16L << 20, c.exportSize);
            assertEquals(0, c.write(2, (16L << 20) - 4096, randomBlocks(1, 4)));
            assertArrayEquals(randomBlocks(1, 3), c.read(3, 4096, 4096));
            assertArrayEquals(randomBlocks(1, 4), c.read(4, (16L << 20) - 4096, 4096));
        }
        assertError(call("POST", "/api/v1/volumes/g/resize", "{\"logical_size\":\"1M\"}"), 400, "logical_size");
        assertEquals(16L << 20, get("/api/v1/volumes/g").json().getLong("logical_size"));
    }

    @Test
    void engineCanBeChanged() throws Exception {
        Reply r = call("PUT", "/api/v1/volumes/vol0/engine", "{\"engine\":\"none\"}");
        assertEquals(200, r.status(), r.body());
        assertEquals("none", get("/api/v1/volumes/vol0").json().getString("engine"));
        assertEquals("none", pool.volume("vol0").engineName());
        assertEquals(200, call("PUT", "/api/v1/volumes/vol0/engine", "{\"engine\":\"lz4\"}").status());
        assertEquals("lz4", pool.volume("vol0").engineName());
    }

    /** Racing creates of one name get 201 once and 409 otherwise; racing deletes 200 once and 404 otherwise (never 400 or 500). */
    @Test
    void racingCreatesAndDeletesGetConflictAndNotFound() throws Exception {
        for (int round = 0; round < 3; round++) {
            String name = "race" + round;
            java.util.List<java.util.concurrent.Future<Reply>> fs = new java.util.ArrayList<>();
            java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newFixedThreadPool(6);
            try {
                for (int i = 0; i < 6; i++) fs.add(ex.submit(() -> call("POST", "/api/v1/volumes", "{\"name\":\"" + name + "\",\"logical_size\":\"1G\"}")));
                int created = 0;
                for (var f : fs) {
                    Reply r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                    if (r.status() == 201) created++;
                    else assertEquals(409, r.status(), "a racing create: " + r.body());
                }
                assertEquals(1, created, "exactly one create succeeds");
                fs.clear();
                for (int i = 0; i < 6; i++) fs.add(ex.submit(() -> call("DELETE", "/api/v1/volumes/" + name, null)));
                int deleted = 0;
                for (var f : fs) {
                    Reply r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                    if (r.status() == 200) deleted++;
                    else assertEquals(404, r.status(), "a racing delete: " + r.body());
                }
                assertEquals(1, deleted, "exactly one delete succeeds");
            } finally {
                ex.shutdownNow();
            }
        }
    }

    @Test
    void badBodiesAreRefusedWithTheField() throws Exception {
        String vols = "/api/v1/volumes";
        assertError(call("POST", vols, "null"), 400, "body");
        assertError(call("POST", "/api/v1/volumes/vol0/resize", "null"), 400, "body");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":\"5P\"}"), 400, "logical_size");
        assertError(call("POST", vols, "not json"), 400, "body");
        assertError(call("POST", vols, "[1,2]"), 400, "body");
        assertError(call("POST", vols, null), 400, "body");
        assertError(call("POST", vols, "{\"name\":\"bad name\",\"logical_size\":\"1G\"}"), 400, "name");
        assertError(call("POST", vols, "{\"name\":7,\"logical_size\":\"1G\"}"), 400, "name");
        assertError(call("POST", vols, "{\"name\":\"x\"}"), 400, "logical_size");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":\"lots\"}"), 400, "logical_size");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":-4096}"), 400, "logical_size");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":1.5}"), 400, "logical_size");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":\"9999P\"}"), 400, "logical_size");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":\"1G\",\"engine\":\"zstd\"}"), 400, "engine");
        assertError(call("POST", vols, "{\"name\":\"x\",\"logical_size\":\"1G\",\"colour\":\"red\"}"), 400, "colour");
        assertError(call("PUT", "/api/v1/volumes/vol0/engine", "{}"), 400, "engine");
        assertError(call("PUT", "/api/v1/volumes/vol0/engine", "{\"engine\":5}"), 400, "engine");
        assertError(call("POST", "/api/v1/volumes/vol0/resize", "{\"logical_size\":true}"), 400, "logical_size");
        assertError(call("POST", "/api/v1/volumes/vol0/resize", "{\"size\":\"1G\"}"), 400, "size");
        Reply big = call("POST", vols, "{\"name\":\"" + "a".repeat(70_000) + "\"}");
        assertEquals(413, big.status());
        assertEquals(1, pool.volumes().size(), "no bad request created anything");
        assertEquals(List.of("vol0"), nbdExports());
    }

    @Test
    void unknownVolumeIs404() throws Exception {
        assertError(get("/api/v1/volumes/nope"), 404, "name");
        assertError(get("/api/v1/volumes/nope/stats"), 404, "name");
        assertError(call("DELETE", "/api/v1/volumes/nope", null), 404, "name");
        assertError(call("POST", "/api/v1/volumes/nope/resize", "{\"logical_size\":\"1G\"}"), 404, "name");
        assertError(call("PUT", "/api/v1/volumes/nope/engine", "{\"engine\":\"lz4\"}"), 404, "name");
        assertEquals(404, get("/api/v1/nothing-here").status());
    }

    // ---------------------------------------------------------------- metrics

    static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\"(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\")*)?\\})? (\\S+)");

    /** Parses the text format strictly: every non-comment line is a sample; returns samples by name. */
    static Map<String, List<String[]>> parseProm(String text) {
        Map<String, List<String[]>> out = new HashMap<>();
        Map<String, String> types = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) continue;
            if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ");
                assertEquals(4, p.length, line);
                assertTrue(Set.of("counter", "gauge", "histogram", "summary", "untyped").contains(p[3]), line);
                assertNull(types.put(p[2], p[3]), "TYPE given twice for " + p[2]);
                continue;
            }
            if (line.startsWith("#")) continue;
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a sample line: " + line);
            String v = m.group(4);
            if (!v.equals("+Inf") && !v.equals("-Inf") && !v.equals("NaN")) Double.parseDouble(v);
            out.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(new String[] {m.group(3) == null ? "" : m.group(3), v});
        }
        for (Map.Entry<String, String> t : types.entrySet()) {
            if (t.getValue().equals("histogram")) {
                String n = t.getKey();
                assertTrue(out.containsKey(n + "_bucket") && out.containsKey(n + "_sum") && out.containsKey(n + "_count"),
                        "histogram " + n + " lacks _bucket/_sum/_count");
            } else if (t.getValue().equals("summary")) {
                assertTrue(out.containsKey(t.getKey()) || out.containsKey(t.getKey() + "_count"), "no sample for summary " + t.getKey());
            } else {
                assertTrue(out.containsKey(t.getKey()), "no sample for " + t.getKey());
            }
        }
        return out;
    }

    @Test
    void metricsParseAsPrometheusText() throws Exception {
        try (RawClient c = RawClient.open(nbd.actualPort())) {
            c.go("vol0");
            byte[] text = "the same words again and again ".repeat(200).substring(0, 4096).getBytes(StandardCharsets.US_ASCII);
            assertEquals(0, c.write(1, 0, text));
            assertEquals(0, c.write(2, 4096, randomBlocks(2, 9)));
            flush(c);
        }
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.actualPort() + "/metrics"))
                .header("Authorization", "Bearer " + token.value()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        Map<String, List<String[]>> m = parseProm(r.body());
        assertTrue(m.get("jvdo_requests_total").stream().anyMatch(s -> s[0].contains("type=\"write\"") && s[0].contains("volume=\"vol0\"")
                && Double.parseDouble(s[1]) == 2), m.get("jvdo_requests_total").toString());
        assertTrue(m.get("jvdo_client_bytes_total").stream().anyMatch(s -> s[0].contains("direction=\"write\"") && s[0].contains("volume=\"vol0\"")
                && Double.parseDouble(s[1]) == 3 * 4096));
        assertTrue(m.containsKey("jvdo_build_info"));
        assertTrue(m.containsKey("process_cpu_seconds_total"), "process metrics");
        assertTrue(m.containsKey("jvm_memory_used_bytes"), "JVM metrics");
        assertTrue(m.containsKey("jvdo_vio_pool_in_use"));
        assertTrue(m.containsKey("jvdo_packer_fragments_waiting"));
        assertTrue(m.containsKey("jvdo_saved_bytes"));
        Set<String> stages = new TreeSet<>();
        for (String[] s : m.get("jvdo_stage_latency_seconds_count")) stages.add(s[0]);
        assertEquals(new TreeSet<>(List.of("stage=\"ack\"", "stage=\"compress\"", "stage=\"hash\"", "stage=\"index\"",
                "stage=\"journal\"", "stage=\"pack\"", "stage=\"verify\"")), stages);
        // buckets are cumulative and end with +Inf = count
        List<String[]> ack = m.get("jvdo_stage_latency_seconds_bucket").stream().filter(s -> s[0].contains("stage=\"ack\"")).toList();
        double prev = 0;
        for (String[] s : ack) {
            double v = Double.parseDouble(s[1]);
            assertTrue(v >= prev, "cumulative");
            prev = v;
        }
        assertTrue(ack.get(ack.size() - 1)[0].contains("le=\"+Inf\""), ack.get(ack.size() - 1)[0]);
        double count = m.get("jvdo_stage_latency_seconds_count").stream().filter(s -> s[0].equals("stage=\"ack\"")).mapToDouble(s -> Double.parseDouble(s[1])).sum();
        assertEquals(3, count);
        assertEquals(prev, count);
    }

    @Test
    void prometheusParserRejectsGarbage() {
        assertThrows(AssertionError.class, () -> parseProm("jvdo_x{a=b} 1\n"));
        assertThrows(AssertionError.class, () -> parseProm("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"));
        assertThrows(AssertionError.class, () -> parseProm("jvdo_x 1 2 3\n"));
        assertThrows(NumberFormatException.class, () -> parseProm("jvdo_x one\n"));
    }

    // ---------------------------------------------------------------- OpenAPI: see AdminContractTest

    // ---------------------------------------------------------------- command line

    record Run(int rc, String out, String err) { }

    Run main(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int rc = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    String[] with(String... args) {
        List<String> l = new ArrayList<>(List.of(args));
        l.addAll(List.of("--data", dir.toString(), "--admin-port", String.valueOf(admin.actualPort())));
        return l.toArray(new String[0]);
    }

    @Test
    void statsCommandPrintsLikeVdostats() throws Exception {
        try (RawClient c = RawClient.open(nbd.actualPort())) {
            c.go("vol0");
            assertEquals(0, c.write(1, 0, randomBlocks(4, 5)));
            assertEquals(0, c.write(2, 4 * 4096, randomBlocks(4, 5))); // duplicates
            flush(c);
        }
        Run r = main(with("stats"));
        assertEquals(0, r.rc(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals(2 + pool.volumes().size(), lines.length, "a row for the pool and one per volume:\n" + r.out());
        assertTrue(r.out().lines().anyMatch(l -> java.util.Arrays.equals(l.trim().split("\\s+"),
                new String[] {"vol0", "8192", "32", "8160", "1%", "N/A"})), "vol0's row:\n" + r.out());
        assertTrue(lines[0].matches("Device\\s+1K-blocks\\s+Used\\s+Available\\s+Use%\\s+Space saving%"), lines[0]);
        String[] f = lines[1].trim().split("\\s+");
        assertEquals(dir.toString(), f[0]);
        JsonObject s = get("/api/v1/stats").json();
        long total = s.getLong("physical_blocks") * 4, used = (s.getLong("data_blocks_used") + s.getLong("overhead_blocks_used")) * 4;
        assertEquals(String.valueOf(total), f[1]);
        assertEquals(String.valueOf(used), f[2]);
        assertEquals(String.valueOf(total - used), f[3]);
        assertTrue(f[4].matches("\\d+%"));
        assertEquals("50%", f[5]);

        Path rel = Path.of("").toAbsolutePath().relativize(dir);
        String[] withRel = with("stats");
        for (int i = 0; i < withRel.length - 1; i++) if (withRel[i].equals("--data")) withRel[i + 1] = rel.toString();
        Run relative = main(withRel);
        assertEquals(0, relative.rc(), relative.err());
        assertEquals(dir.toAbsolutePath().normalize().toString(), relative.out().split("\n")[1].trim().split("\\s+")[0],
                "a relative --data is shown as the absolute folder");

        Run v = main(with("stats", "vol0"));
        assertEquals(0, v.rc(), v.err());
        String[] vf = v.out().split("\n")[1].trim().split("\\s+");
        assertArrayEquals(new String[] {"vol0", "8192", "32", "8160", "1%", "N/A"}, vf);

        Run verbose = main(with("stats", "--verbose"));
        assertEquals(0, verbose.rc());
        assertTrue(verbose.out().contains("data blocks used"), verbose.out());
        assertTrue(verbose.out().lines().anyMatch(l -> l.matches("\\s+logical blocks used\\s+: 8")), verbose.out());
        assertTrue(verbose.out().contains("orig data size"));

        Run json = main(with("stats", "--json"));
        assertEquals(0, json.rc());
        assertEquals(8, new JsonObject(json.out()).getLong("logical_blocks_used"));

        Run missing = main(with("stats", "nope"));
        assertEquals(1, missing.rc());
        assertTrue(missing.err().contains("no volume nope"), missing.err());
    }

    @Test
    void volumeCommandsWrapTheApi() throws Exception {
        Run c = main(with("volume", "create", "cli1", "4M", "--engine", "none"));
        assertEquals(0, c.rc(), c.err());
        assertTrue(c.out().contains("created cli1 (4 MiB, none)"), c.out());
        assertEquals(4L << 20, pool.volume("cli1").size());
        Run l = main(with("volume", "list"));
        assertEquals(0, l.rc());
        assertTrue(l.out().lines().anyMatch(x -> x.startsWith("cli1 ") && x.contains("4 MiB") && x.contains("none")), l.out());
        Run rs = main(with("volume", "resize", "cli1", "8M"));
        assertEquals(0, rs.rc(), rs.err());
        assertEquals(8L << 20, pool.volume("cli1").size());
        Run shrink = main(with("volume", "resize", "cli1", "1M"));
        assertEquals(1, shrink.rc());
        assertEquals(1, shrink.err().lines().count(), shrink.err());
        try (RawClient rc = RawClient.open(nbd.actualPort())) {
            rc.go("cli1");
            Run busy = main(with("volume", "delete", "cli1"));
            assertEquals(1, busy.rc());
            assertTrue(busy.err().contains("409"), busy.err());
            assertTrue(busy.err().contains("--force") && !busy.err().contains("?force=true"), busy.err());
            Run forced = main(with("volume", "delete", "cli1", "--force"));
            assertEquals(0, forced.rc(), forced.err());
        }
        assertNull(pool.volume("cli1"));
    }

    @Test
    void badCommandLinesExitTwoWithOneLine() {
        String[][] bad = {
                {"stats", "a", "b"}, {"stats", "--bogus"}, {"stats", "--admin-port", "x"}, {"stats", "--admin-port"},
                {"volume"}, {"volume", "explode"}, {"volume", "create", "x"}, {"volume", "create", "x", "huge"},
                {"volume", "delete"}, {"volume", "list", "extra"}, {"volume", "resize", "x"}, {"volume", "list", "--force"},
                {"stats", "--force"}, {"serve", "--admin-port", "70000"}};
        for (String[] a : bad) {
            Run r = main(a);
            assertEquals(2, r.rc(), String.join(" ", a) + ": " + r.err());
            assertEquals(1, r.err().lines().count(), String.join(" ", a) + ": " + r.err());
            assertTrue(r.err().startsWith("jvdo: "));
        }
        Run noServer = main("stats", "--data", dir.resolve("none").toString());
        assertEquals(1, noServer.rc());
        assertTrue(noServer.err().contains("admin token"), noServer.err());
        Run wrongPort = main("stats", "--data", dir.toString(), "--admin-port", "1");
        assertEquals(1, wrongPort.rc());
        assertTrue(wrongPort.err().contains("cannot reach"), wrongPort.err());
        assertTrue(main("serve", "--help").out().contains("--admin-port=N"));
        assertTrue(main("stats", "--help").out().contains("--verbose"));
    }

    /** A store whose writes and syncs fail while the flag is set. */
    static final class FailingStore implements BlockStore {
        final BlockStore inner;
        final java.util.function.BooleanSupplier fail;

        FailingStore(BlockStore inner, java.util.function.BooleanSupplier fail) { this.inner = inner; this.fail = fail; }

        static java.util.function.UnaryOperator<BlockStore> wrapper(java.util.function.BooleanSupplier fail) {
            return s -> new FailingStore(s, fail);
        }

        public void read(long b, ByteBuffer dst) throws IOException { inner.read(b, dst); }

        public void write(long b, ByteBuffer src) throws IOException {
            if (fail.getAsBoolean()) throw new IOException("injected write failure");
            inner.write(b, src);
        }

        public void sync() throws IOException {
            if (fail.getAsBoolean()) throw new IOException("injected sync failure");
            inner.sync();
        }

        public long sizeInBlocks() throws IOException { return inner.sizeInBlocks(); }

        public String describe() { return inner.describe(); }

        public void close() throws IOException { inner.close(); }
    }
}
