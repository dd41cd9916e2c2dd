package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the dashboard stands on, without a browser: its files are served without the token
 * with a Content-Security-Policy and name nothing outside the admin address, only exactly those
 * files skip the token (a path that begins like one and is routed elsewhere does not), and the
 * figures added for it to {@code GET /api/v1/stats} ({@code saved_blocks},
 * {@code stage_latency}) mean what they say for a known write pattern.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DashboardFiguresTest {
    static final String[] FILES = {"/ui", "/ui/dashboard.js", "/ui/dashboard.css", "/ui/uPlot.iife.min.js", "/ui/uPlot.min.css"};
    @TempDir Path dir;
    AdminFixture f;

    @BeforeEach
    void start() throws Exception { f = new AdminFixture(dir); }

    @AfterEach
    void stop() throws Exception { f.close(); }

    HttpResponse<String> anonymous(String path) throws Exception {
        return f.http.send(f.request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theFilesAreServedWithoutTheTokenUnderAContentSecurityPolicy() throws Exception {
        for (String path : FILES) {
            HttpResponse<String> r = anonymous(path);
            assertEquals(200, r.statusCode(), path);
            String csp = r.headers().firstValue("Content-Security-Policy").orElse("");
            assertTrue(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), path + ": " + csp);
            assertEquals("nosniff", r.headers().firstValue("X-Content-Type-Options").orElse(null), path);
            // nothing is fetched from elsewhere: no absolute URL in the page, its script or style
            if (!path.contains("uPlot")) {
                assertFalse(Pattern.compile("(https?:)?//[a-z0-9]", Pattern.CASE_INSENSITIVE).matcher(
                        r.body().replaceAll("(?m)^\\s*//.*$", "")).find(), path + " names another address");
            }
        }
        assertTrue(anonymous("/ui").headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
        assertTrue(anonymous("/ui/dashboard.js").headers().firstValue("Content-Type").orElse("").startsWith("text/javascript"));
        // uPlot is the webjar's file, byte for byte
        try (InputStream in = getClass().getClassLoader().getResourceAsStream(
                "META-INF/resources/webjars/uplot/1.6.30/dist/uPlot.iife.min.js")) {
            assertNotNull(in, "the uplot webjar is on the class path");
            assertEquals(new String(in.readAllBytes(), StandardCharsets.UTF_8), anonymous("/ui/uPlot.iife.min.js").body());
        }
        // the shell holds no figure: the API still wants the token
        assertEquals(401, anonymous("/api/v1/stats").statusCode());
        assertEquals(401, anonymous("/api/v1/volumes").statusCode());
        assertEquals(401, anonymous("/ui/nothing.js").statusCode(), "only the five files skip the token");
    }

    /** One HTTP/1.1 request with this exact request target, no token; the status. */
    int rawStatus(String target) throws Exception {
        try (Socket s = new Socket("127.0.0.1", f.admin.actualPort())) {
            s.setSoTimeout(15_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String head = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            Matcher m = Pattern.compile("HTTP/1\\.1 (\\d{3})").matcher(head);
            assertTrue(m.find(), target + " answered " + head);
            return Integer.parseInt(m.group(1));
        }
    }

    @Test
    void onlyTheDashboardsOwnPathsSkipTheToken() throws Exception {
        assertEquals(200, rawStatus("/ui"));
        for (String sneaky : new String[] {"/ui/../api/v1/stats", "/ui/./../api/v1/volumes", "/ui/%2e%2e/api/v1/stats",
                "/ui/dashboard.js/../../api/v1/stats", "/ui/../metrics"}) {
            int status = rawStatus(sneaky);
            assertEquals(401, status, sneaky + " is routed to the API: it must want the token");
        }
    }

    static byte[] text(int i) {
        return ("block " + i + ": the same words again and again, ").repeat(200).substring(0, 4096).getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void savedBlocksSplitTheSavingByCause() throws Exception {
        int zero = 3, random = 2, texts = 5;
        try (RawClient c = RawClient.open(f.nbd.actualPort())) {
            c.go("vol0");
            long lbn = 0;
            assertEquals(0, c.write(1, 0, new byte[zero * 4096]));
            lbn += zero;
            byte[] rnd = new byte[random * 4096];
            new Random(3).nextBytes(rnd);
            assertEquals(0, c.write(2, 4096 * lbn, rnd));
            lbn += random;
            byte[] all = new byte[texts * 4096];
            for (int i = 0; i < texts; i++) System.arraycopy(text(i), 0, all, i * 4096, 4096);
            assertEquals(0, c.write(3, 4096 * lbn, all));
            lbn += texts;
            MmStatTest.flush(c);
            // three duplicates: two of a compressed block, one of an uncompressed one
            assertEquals(0, c.write(4, 4096 * lbn++, text(0)));
            assertEquals(0, c.write(5, 4096 * lbn++, text(0)));
            assertEquals(0, c.write(6, 4096 * lbn++, java.util.Arrays.copyOfRange(rnd, 0, 4096)));
            MmStatTest.flush(c);
        }
        f.pool.quiesce();
        JsonObject s = new JsonObject(f.send("GET", "/api/v1/stats", null).body());
        JsonObject saved = s.getJsonObject("saved_blocks");
        String ctx = s.encode();
        assertEquals(zero, saved.getLong("zero"), ctx);
        assertEquals(3, saved.getLong("dedupe"), ctx);
        // the text blocks are fragments (a bin written with one fragment alone is stored raw: huge_pages
        // counts it); the packed blocks holding them are the data blocks beside the raw ones
        long rawTexts = s.getJsonObject("mm_stat").getLong("huge_pages") - (random + 1);
        long packed = s.getLong("data_blocks_used") - random - rawTexts;
        assertTrue(rawTexts >= 0 && packed >= 1 && packed < texts - rawTexts, ctx);
        assertEquals(texts - rawTexts - packed, saved.getLong("compression"), ctx);
        assertEquals(s.getLong("logical_blocks_used") - s.getLong("data_blocks_used"),
                saved.getLong("zero") + saved.getLong("dedupe") + saved.getLong("compression"), "the causes add up: " + ctx);

        // stage latencies: the histograms /metrics serves, as count and sum
        JsonObject stages = s.getJsonObject("stage_latency");
        assertEquals(f.pool.stageLatencies().keySet(), stages.fieldNames());
        long hashed = stages.getJsonObject("hash").getLong("count");
        assertTrue(hashed >= random + texts && stages.getJsonObject("hash").getLong("sum_nanos") > 0, ctx);
        String metrics = f.send("GET", "/metrics", null).body();
        Matcher m = Pattern.compile("(?m)^jvdo_stage_latency_seconds_count\\{stage=\"hash\"} (\\S+)$").matcher(metrics);
        assertTrue(m.find(), "hash stage in /metrics");
        assertEquals(hashed, (long) Double.parseDouble(m.group(1)));
    }
}
