package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.*;

import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.media.ComposedSchema;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import java.math.BigDecimal;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.jvdo.nbd.admin.AdminServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API's contract: the OpenAPI document parses with swagger-parser without a single
 * message, documents exactly the routes served, and its request-body schemas accept the bodies
 * the API accepts and refuse the ones it refuses; and the HTTP details (Bearer in any case,
 * HEAD, 405 with Allow, 201 with Location).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AdminContractTest {
    @TempDir Path dir;
    AdminFixture f;

    @BeforeEach
    void start() throws Exception { f = new AdminFixture(dir); }

    @AfterEach
    void stop() throws Exception { f.close(); }

    static SwaggerParseResult parse(String yaml) {
        ParseOptions o = new ParseOptions();
        o.setResolve(true);
        return new OpenAPIV3Parser().readContents(yaml, null, o);
    }

    static OpenAPI document() {
        SwaggerParseResult r = parse(AdminServer.openapiDocument());
        assertEquals(List.of(), r.getMessages() == null ? List.of() : r.getMessages(), "swagger-parser messages");
        assertNotNull(r.getOpenAPI());
        return r.getOpenAPI();
    }

    // ---------------------------------------------------------------- the document

    @Test
    void documentParsesWithoutMessagesAndIsServed() throws Exception {
        OpenAPI api = document();
        HttpResponse<String> served = f.send("GET", "/api/v1/openapi.yaml", null);
        assertEquals(200, served.statusCode());
        assertEquals(AdminServer.openapiDocument(), served.body());
        assertEquals("/", api.getServers().get(0).getUrl(), "no port in the document: relative server URL");
        Set<String> ids = new TreeSet<>();
        for (Map.Entry<String, PathItem> p : api.getPaths().entrySet()) {
            for (Map.Entry<PathItem.HttpMethod, Operation> op : p.getValue().readOperationsMap().entrySet()) {
                String what = op.getKey() + " " + p.getKey();
                String id = op.getValue().getOperationId();
                assertNotNull(id, "operationId of " + what);
                assertTrue(ids.add(id), "operationId " + id + " twice");
                assertNotNull(op.getValue().getResponses().get("405"), "405 of " + what);
                // the dashboard's static files (/ui...) are served before the pool is open, as /health and this document
                // and the cluster's status does not need the pool
                if (!p.getKey().equals("/health") && !p.getKey().endsWith("/openapi.yaml") && !p.getKey().startsWith("/ui")
                        && !p.getKey().equals("/api/v1/cluster")) {
                    assertNotNull(op.getValue().getResponses().get("503"), "503 of " + what);
                }
                if (op.getValue().getRequestBody() != null) {
                    assertNotNull(op.getValue().getResponses().get("413"), "413 of " + what);
                    assertNotNull(op.getValue().getResponses().get("507"), "507 of " + what);
                }
            }
        }
        assertEquals(19, ids.size());
    }

    @Test
    void theParserReportsTheOldInvalidDocument() {
        // the flow mapping without quotes made a key "or in use": the check can fail
        String broken = AdminServer.openapiDocument().replace("{description: \"exists already, or in use\",",
                "{description: exists already, or in use,");
        assertNotEquals(AdminServer.openapiDocument(), broken);
        assertFalse(parse(broken).getMessages().isEmpty(), "swagger-parser accepts the broken document");
    }

    /** "METHOD /path{param}" for every operation in the document. */
    static Set<String> documentedRoutes(OpenAPI api) {
        Set<String> out = new TreeSet<>();
        for (Map.Entry<String, PathItem> p : api.getPaths().entrySet()) {
            for (PathItem.HttpMethod m : p.getValue().readOperationsMap().keySet()) out.add(m.name() + " " + p.getKey());
        }
        return out;
    }

    @Test
    void documentHoldsExactlyTheRoutesServed() {
        Set<String> table = new TreeSet<>();
        for (AdminServer.RouteSpec r : f.admin.routes()) table.add(r.method().name() + " " + r.openapiPath());
        // the router serves the table, and HEAD beside each GET
        Set<String> router = new TreeSet<>();
        for (Route r : f.admin.router().getRoutes()) {
            if (r.getPath() == null || r.methods() == null) continue;
            for (HttpMethod m : r.methods()) router.add(m.name() + " " + r.getPath().replaceAll(":([A-Za-z_]+)", "{$1}"));
        }
        Set<String> expected = new TreeSet<>(table);
        for (String t : table) if (t.startsWith("GET ")) expected.add("HEAD " + t.substring(4));
        assertEquals(expected, router);

        Set<String> documented = documentedRoutes(document());
        Set<String> missing = new TreeSet<>(table);
        missing.removeAll(documented);
        Set<String> extra = new TreeSet<>(documented);
        extra.removeAll(table);
        assertEquals(Set.of(), missing, "served but not documented");
        assertEquals(Set.of(), extra, "documented but not served");
        assertEquals(19, table.size());
    }

    // ---------------------------------------------------------------- request bodies against the schemas

    /** The request-body schema of an operation. */
    static Schema<?> bodySchema(OpenAPI api, String method, String path) {
        PathItem item = api.getPaths().get(path);
        assertNotNull(item, path);
        Operation op = item.readOperationsMap().get(PathItem.HttpMethod.valueOf(method));
        assertNotNull(op, method + " " + path);
        return op.getRequestBody().getContent().get("application/json").getSchema();
    }

    static final Set<String> SUPPORTED = Set.of("type", "required", "properties", "additionalProperties", "pattern",
            "minimum", "maximum", "oneOf", "$ref", "description", "example", "enum", "nullable");

    /** The problems of {@code value} against {@code schema} (empty: valid). Covers the keywords in {@link #SUPPORTED}. */
    static List<String> validate(OpenAPI api, Schema<?> schema, Object value, String at) {
        List<String> out = new ArrayList<>();
        if (schema.get$ref() != null) {
            String name = schema.get$ref().substring(schema.get$ref().lastIndexOf('/') + 1);
            Schema<?> target = api.getComponents().getSchemas().get(name);
            assertNotNull(target, schema.get$ref());
            return validate(api, target, value, at);
        }
        assertNull(schema.getAllOf(), "allOf is not supported by this validator");
        assertNull(schema.getAnyOf(), "anyOf is not supported by this validator");
        assertNull(schema.getNot(), "not is not supported by this validator");
        if (schema instanceof ComposedSchema c && c.getOneOf() != null) {
            int ok = 0;
            for (Schema<?> s : c.getOneOf()) if (validate(api, s, value, at).isEmpty()) ok++;
            if (ok != 1) out.add(at + ": matches " + ok + " of oneOf, not 1");
            return out;
        }
        if (value == null) {
            if (!Boolean.TRUE.equals(schema.getNullable())) out.add(at + ": null");
            return out;
        }
        String type = schema.getType();
        if (type != null) {
            boolean ok = switch (type) {
                case "object" -> value instanceof JsonObject;
                case "array" -> value instanceof JsonArray;
                case "string" -> value instanceof String;
                case "boolean" -> value instanceof Boolean;
                case "integer" -> value instanceof Integer || value instanceof Long || value instanceof java.math.BigInteger;
                case "number" -> value instanceof Number;
                default -> fail("type " + type + " is not supported by this validator");
            };
            if (!ok) {
                out.add(at + ": not of type " + type + " (" + value.getClass().getSimpleName() + ")");
                return out;
            }
        }
        if (schema.getEnum() != null && !schema.getEnum().contains(value)) out.add(at + ": not one of " + schema.getEnum());
        if (value instanceof String s && schema.getPattern() != null && !Pattern.compile(schema.getPattern()).matcher(s).find()) {
            out.add(at + ": does not match " + schema.getPattern());
        }
        if (value instanceof Number n) {
            BigDecimal v = new BigDecimal(n.toString());
            if (schema.getMinimum() != null && v.compareTo(schema.getMinimum()) < 0) out.add(at + ": below " + schema.getMinimum());
            if (schema.getMaximum() != null && v.compareTo(schema.getMaximum()) > 0) out.add(at + ": above " + schema.getMaximum());
        }
        if (value instanceof JsonObject o) {
            if (schema.getRequired() != null) {
                for (String r : schema.getRequired()) if (!o.containsKey(r)) out.add(at + "." + r + ": required");
            }
            Map<String, Schema> props = schema.getProperties() == null ? Map.of() : schema.getProperties();
            for (String k : o.fieldNames()) {
                Schema<?> p = props.get(k);
                if (p != null) {
                    out.addAll(validate(api, p, o.getValue(k), at + "." + k));
                } else if (Boolean.FALSE.equals(schema.getAdditionalProperties())) {
                    out.add(at + "." + k + ": not allowed (additionalProperties: false)");
                } else if (schema.getAdditionalProperties() instanceof Schema<?> extra) {
                    out.addAll(validate(api, extra, o.getValue(k), at + "." + k));
                }
            }
        }
        return out;
    }

    record Case(String method, String path, String template, String body, boolean accepted) { }

    /** Bodies the API tests use: accepted ones (in this order, they succeed) and refused ones. */
    static final List<Case> CASES = List.of(
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"v1\",\"logical_size\":\"8M\",\"engine\":\"none\"}", true),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"v2\",\"logical_size\":65536}", true),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"g\",\"logical_size\":\"2M\"}", true),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"race0\",\"logical_size\":\"1G\"}", true),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"k\",\"logical_size\":\"64KiB\"}", true),
            new Case("POST", "/api/v1/volumes/g/resize", "/api/v1/volumes/{name}/resize", "{\"logical_size\":\"16M\"}", true),
            new Case("POST", "/api/v1/volumes/v2/resize", "/api/v1/volumes/{name}/resize", "{\"logical_size\":1048576}", true),
            new Case("PUT", "/api/v1/volumes/vol0/engine", "/api/v1/volumes/{name}/engine", "{\"engine\":\"none\"}", true),
            new Case("PUT", "/api/v1/volumes/vol0/engine", "/api/v1/volumes/{name}/engine", "{\"engine\":\"lz4\"}", true),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "null", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "[1,2]", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"bad name\",\"logical_size\":\"1G\"}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":7,\"logical_size\":\"1G\"}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"x\"}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"x\",\"logical_size\":\"lots\"}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"x\",\"logical_size\":-4096}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"x\",\"logical_size\":1.5}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"x\",\"logical_size\":\"1G\",\"colour\":\"red\"}", false),
            new Case("POST", "/api/v1/volumes", "/api/v1/volumes", "{\"name\":\"x\",\"logical_size\":9007199254740992}", false),
            new Case("PUT", "/api/v1/volumes/vol0/engine", "/api/v1/volumes/{name}/engine", "{}", false),
            new Case("PUT", "/api/v1/volumes/vol0/engine", "/api/v1/volumes/{name}/engine", "{\"engine\":5}", false),
            new Case("POST", "/api/v1/volumes/vol0/resize", "/api/v1/volumes/{name}/resize", "{\"logical_size\":true}", false),
            new Case("POST", "/api/v1/volumes/vol0/resize", "/api/v1/volumes/{name}/resize", "{\"size\":\"1G\"}", false),
            new Case("POST", "/api/v1/volumes/vol0/resize", "/api/v1/volumes/{name}/resize", "null", false));

    @Test
    void theSchemasAcceptWhatTheApiAcceptsAndRefuseWhatItRefuses() throws Exception {
        OpenAPI api = document();
        for (Case c : CASES) {
            HttpResponse<String> r = f.send(c.method(), c.path(), c.body());
            List<String> problems = validate(api, bodySchema(api, c.method(), c.template()), Json.decodeValue(c.body()), "body");
            String what = c.method() + " " + c.path() + " " + c.body() + " -> " + r.statusCode() + " " + r.body().strip() + "; schema: " + problems;
            if (c.accepted()) {
                assertTrue(r.statusCode() == 200 || r.statusCode() == 201, what);
                assertEquals(List.of(), problems, what);
            } else {
                assertEquals(400, r.statusCode(), what);
                assertFalse(problems.isEmpty(), "the API refuses but the schema accepts: " + what);
            }
        }
    }

    @Test
    void theValidatorCanFail() {
        OpenAPI api = document();
        Schema<?> create = bodySchema(api, "POST", "/api/v1/volumes");
        assertEquals(List.of(), validate(api, create, new JsonObject("{\"name\":\"a\",\"logical_size\":4096}"), "body"));
        assertEquals(1, validate(api, create, new JsonObject("{\"name\":\"a\"}"), "body").size());
        assertEquals(1, validate(api, create, new JsonObject("{\"name\":\"-a\",\"logical_size\":4096}"), "body").size());
        assertEquals(1, validate(api, create, new JsonObject("{\"name\":\"a\",\"logical_size\":0}"), "body").size());
        assertEquals(1, validate(api, create, new JsonObject("{\"name\":\"a\",\"logical_size\":4096,\"x\":1}"), "body").size());
    }

    /** The JSON answers of the GET routes (and of a create and an error) validate against their documented responses. */
    @Test
    void answersMatchTheirDocumentedSchemas() throws Exception {
        OpenAPI api = document();
        HttpResponse<String> created = f.send("POST", "/api/v1/volumes", "{\"name\":\"v9\",\"logical_size\":\"1M\"}");
        assertResponse(api, "POST", "/api/v1/volumes", created);
        for (AdminServer.RouteSpec r : f.admin.routes()) {
            if (r.method() != HttpMethod.GET) continue;
            HttpResponse<String> got = f.send("GET", r.path().replace(":name", "vol0"), null);
            if (got.headers().firstValue("Content-Type").orElse("").startsWith("application/json")) {
                assertResponse(api, "GET", r.openapiPath(), got);
            }
        }
        assertResponse(api, "GET", "/api/v1/volumes/{name}", f.send("GET", "/api/v1/volumes/nope", null));
        assertResponse(api, "POST", "/api/v1/volumes", f.send("POST", "/api/v1/volumes", "{}"));
    }

    static void assertResponse(OpenAPI api, String method, String path, HttpResponse<String> r) {
        Operation op = api.getPaths().get(path).readOperationsMap().get(PathItem.HttpMethod.valueOf(method));
        io.swagger.v3.oas.models.responses.ApiResponse doc = op.getResponses().get(String.valueOf(r.statusCode()));
        assertNotNull(doc, method + " " + path + " answered " + r.statusCode() + ", which is not documented");
        if (doc.get$ref() != null) doc = api.getComponents().getResponses().get(doc.get$ref().substring(doc.get$ref().lastIndexOf('/') + 1));
        Schema<?> schema = doc.getContent().get("application/json").getSchema();
        List<String> problems = validate(api, schema, Json.decodeValue(r.body()), "answer");
        assertEquals(List.of(), problems, method + " " + path + " -> " + r.statusCode() + " " + r.body());
    }

    // ---------------------------------------------------------------- HTTP details

    int status(String auth) throws Exception {
        HttpRequest.Builder b = f.request("/api/v1/stats");
        if (auth != null) b.header("Authorization", auth);
        return f.http.send(b.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    @Test
    void theBearerSchemeIsCaseInsensitive() throws Exception {
        String t = f.token.value();
        assertEquals(200, status("Bearer " + t));
        assertEquals(200, status("bearer " + t));
        assertEquals(200, status("BEARER " + t));
        assertEquals(200, status("bEaReR   " + t));
        assertEquals(401, status("Bearer " + t.toUpperCase(java.util.Locale.ROOT) + "x"), "the token itself is exact");
        assertEquals(401, status("Bearer" + t));
        assertEquals(401, status("Basic " + t));
        assertEquals(401, status("Bearer"));
        assertEquals(401, status(null));
    }

    @Test
    void headAnswersEveryGetRouteWithoutABody() throws Exception {
        for (AdminServer.RouteSpec r : f.admin.routes()) {
            if (r.method() != HttpMethod.GET) continue;
            String path = r.path().replace(":name", "vol0");
            HttpResponse<String> get = f.send("GET", path, null);
            HttpResponse<String> head = f.send("HEAD", path, null);
            assertEquals(get.statusCode(), head.statusCode(), "HEAD " + path);
            // outside a cluster the cluster's route answers 404 (a member's is ClusterTest's)
            assertEquals(path.endsWith("/cluster") ? 404 : 200, head.statusCode(), "HEAD " + path);
            assertEquals("", head.body(), "HEAD " + path + " has no body");
            assertEquals(get.headers().firstValue("Content-Type"), head.headers().firstValue("Content-Type"), "HEAD " + path);
            if (path.endsWith("/openapi.yaml") || path.endsWith("/volumes")) {
                assertEquals(get.headers().firstValue("Content-Length"), head.headers().firstValue("Content-Length"), "HEAD " + path);
            }
        }
        assertEquals(404, f.send("HEAD", "/api/v1/volumes/nope", null).statusCode());
    }

    @Test
    void aWrongMethodIs405WithAllow() throws Exception {
        Map<String, String> cases = Map.of(
                "DELETE /api/v1/stats", "GET, HEAD",
                "PATCH /api/v1/volumes/vol0", "GET, HEAD, DELETE",
                "PUT /api/v1/volumes", "GET, HEAD, POST",
                "GET /api/v1/volumes/vol0/engine", "PUT",
                "POST /health", "GET, HEAD",
                "DELETE /metrics", "GET, HEAD");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String[] mp = c.getKey().split(" ");
            HttpResponse<String> r = f.send(mp[0], mp[1], mp[0].equals("GET") ? null : "{}");
            assertEquals(405, r.statusCode(), c.getKey() + ": " + r.body());
            assertEquals(c.getValue(), r.headers().firstValue("Allow").orElse(null), c.getKey());
            assertNotNull(new JsonObject(r.body()).getString("error"));
        }
        assertEquals(404, f.send("DELETE", "/api/v1/nothing", null).statusCode(), "an unknown path stays 404");
    }

    @Test
    void createAnswers201WithLocation() throws Exception {
        HttpResponse<String> r = f.send("POST", "/api/v1/volumes", "{\"name\":\"made\",\"logical_size\":\"1M\"}");
        assertEquals(201, r.statusCode(), r.body());
        String location = r.headers().firstValue("Location").orElse(null);
        assertEquals("/api/v1/volumes/made", location);
        HttpResponse<String> there = f.send("GET", location, null);
        assertEquals(200, there.statusCode());
        assertEquals("made", new JsonObject(there.body()).getString("name"));
    }
}
