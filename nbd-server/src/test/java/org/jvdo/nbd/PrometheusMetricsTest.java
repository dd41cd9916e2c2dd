package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} as Prometheus reads it: scraped from a running server with data written,
 * checked by {@code promtool check metrics} (exit 0, no lint problem), and its values equal to
 * the JSON statistics API's. promtool missing fails the test under CI=true.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PrometheusMetricsTest {
    @TempDir Path dir;
    AdminFixture f;

    @BeforeEach
    void start() throws Exception { f = new AdminFixture(dir); }

    @AfterEach
    void stop() throws Exception { f.close(); }

    void writeSomeData() throws Exception {
        try (RawClient c = RawClient.open(f.nbd.actualPort())) {
            c.go("vol0");
            byte[] text = "the same words again and again ".repeat(200).substring(0, 4096).getBytes(StandardCharsets.US_ASCII);
            byte[] random = new byte[3 * 4096];
            new Random(5).nextBytes(random);
            assertEquals(0, c.write(1, 0, text));
            assertEquals(0, c.write(2, 4096, random));
            assertEquals(0, c.write(3, 4 * 4096, new byte[2 * 4096]));
            assertEquals(0, c.write(4, 8 * 4096, text));
            c.request(0, NbdProtocol.CMD_FLUSH, 99, 0, 0, null);
            assertEquals(0, c.simple().error());
            assertEquals(4096, c.read(5, 4096, 4096).length);
        }
    }

    String scrape() throws Exception {
        HttpResponse<String> r = f.send("GET", "/metrics", null);
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        return r.body();
    }

    /** promtool's verdict on a text: exit status and its output. */
    static Tools.Result promtool(Path dir, String text) throws Exception {
        Tools.require("promtool");
        Path file = dir.resolve("metrics.txt");
        Files.writeString(file, text);
        Process p = Tools.builder(List.of("sh", "-c", "exec promtool check metrics < '" + file + "'")).redirectErrorStream(true).start();
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool hangs");
            return new Tools.Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void promtoolAcceptsTheScrapeWithoutLintProblems() throws Exception {
        writeSomeData();
        String text = scrape();
        Tools.Result r = promtool(dir, text);
        assertEquals(0, r.exit(), "promtool check metrics:\n" + r.output());
        assertEquals("", r.output().strip(), "promtool lint problems");
        // the check can fail: the old hand-written names break its lint rules
        Tools.Result bad = promtool(dir, "# HELP jvdo_bytes_written Bytes.\n# TYPE jvdo_bytes_written counter\njvdo_bytes_written 5\n");
        assertNotEquals("", bad.output().strip(), "promtool says nothing on a counter without _total");
    }

    @Test
    void valuesEqualTheJsonApi() throws Exception {
        writeSomeData();
        f.pool.quiesce();
        JsonObject pool = new JsonObject(f.send("GET", "/api/v1/stats", null).body());
        JsonObject vol = new JsonObject(f.send("GET", "/api/v1/volumes/vol0/stats", null).body());
        Map<String, List<String[]>> m = AdminApiTest.parseProm(scrape());
        assertEquals(pool.getLong("data_blocks_used") * 4096, value(m, "jvdo_data_used_bytes", ""));
        assertEquals(pool.getLong("physical_blocks") * 4096, value(m, "jvdo_physical_size_bytes", ""));
        assertEquals(pool.getLong("logical_blocks_used") * 4096, value(m, "jvdo_logical_used_bytes", ""));
        assertEquals(pool.getLong("journal_entries_committed"), value(m, "jvdo_journal_entries_committed_total", ""));
        assertEquals(vol.getLong("bios_in_write"), value(m, "jvdo_requests_total", "type=\"write\",volume=\"vol0\""));
        assertEquals(4, vol.getLong("bios_in_write"));
        assertEquals(vol.getLong("bios_in_read"), value(m, "jvdo_requests_total", "type=\"read\",volume=\"vol0\""));
        assertEquals(vol.getLong("bytes_written"), value(m, "jvdo_client_bytes_total", "direction=\"write\",volume=\"vol0\""));
        assertEquals(vol.getLong("logical_blocks_used") * 4096, value(m, "jvdo_volume_logical_used_bytes", "volume=\"vol0\""));
        assertEquals(vol.getLong("same_pages") * 4096, value(m, "jvdo_volume_zero_bytes", "volume=\"vol0\""));
        assertEquals(f.pool.volume("vol0").size(), value(m, "jvdo_volume_logical_size_bytes", "volume=\"vol0\""));
        assertEquals(pool.getLong("engine_lz4_requests"), value(m, "jvdo_engine_requests_total", "engine=\"lz4\""));
        assertEquals(1, value(m, "jvdo_build_info", "version=\"" + org.jvdo.nbd.admin.AdminServer.version() + "\""));
        assertEquals(1, m.get("jvdo_build_info").size());
    }

    /** The value of the one sample of {@code name} with exactly these labels. */
    static long value(Map<String, List<String[]>> m, String name, String labels) {
        List<String[]> samples = m.get(name);
        assertNotNull(samples, "no metric " + name);
        List<String[]> match = samples.stream().filter(s -> s[0].equals(labels)).toList();
        assertEquals(1, match.size(), name + "{" + labels + "} among " + samples.stream().map(s -> s[0]).toList());
        double v = Double.parseDouble(match.get(0)[1]);
        assertEquals(Math.rint(v), v, name);
        return (long) v;
    }
}
