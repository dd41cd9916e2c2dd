package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import org.jvdo.testsupport.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;

/**
 * The dashboard in a real browser (headless Chromium through chromedriver, both required under
 * CI=true): without the token it shows no figure and every API call it made was answered 401;
 * with the token its figures and the points of its charts are the numbers the API reports, and
 * the throughput and IOPS it derives add up to the counters' growth; a read-only pool shows its
 * mode and reason. Leaves a screenshot in
 * target/dashboard.png. The browser, chromedriver and the server are stopped even when a check
 * fails.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DashboardTest {
    static final long WAIT = 60;
    @TempDir Path dir;
    AdminFixture f;
    ChromeDriverService service;
    WebDriver browser;

    /** Set: the pool's store fails every write and sync (the pool goes read-only). */
    volatile boolean failWrites;

    @BeforeEach
    void start() throws Exception {
        Tools.require("chromium", "chromedriver");
        org.jvdo.core.api.PoolConfig cfg = org.jvdo.core.api.PoolConfig.small(64L << 20);
        cfg.storeWrapper = AdminApiTest.FailingStore.wrapper(() -> failWrites);
        f = new AdminFixture(dir, cfg);
        Files.createDirectories(Path.of("target"));
        service = new ChromeDriverService.Builder().usingDriverExecutable(Tools.find("chromedriver").toFile())
                .usingAnyFreePort().withLogFile(new File("target/chromedriver.log")).build();
        ChromeOptions o = new ChromeOptions();
        o.setBinary(Tools.find("chromium").toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--window-size=1280,2200");
        // the console: a script error or what the Content-Security-Policy blocked is logged there
        o.setCapability("goog:loggingPrefs", java.util.Map.of("browser", "ALL"));
        browser = new ChromeDriver(service, o);
        browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30)).scriptTimeout(Duration.ofSeconds(30));
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (browser != null) browser.quit();
        } finally {
            try {
                if (service != null) service.stop();
            } finally {
                f.close();
            }
        }
    }

    String base() { return "http://127.0.0.1:" + f.admin.actualPort(); }

    /** Loads a URL afresh (a new document even when only the fragment differs). */
    void load(String url) {
        browser.get("about:blank");
        browser.get(url);
    }

    Object js(String script) { return ((JavascriptExecutor) browser).executeScript(script); }

    /** The page's state as JSON: polls, statuses, figures, samples and each chart's labels and data. */
    JsonObject page() {
        Object s = js("const d = window.jvdoDashboard; if (!d) return null;"
                + "const charts = {}; for (const [k, u] of Object.entries(d.charts))"
                + "  charts[k] = {labels: u.series.slice(1).map((x) => x.label), data: u.data};"
                + "return JSON.stringify({polls: d.polls, lastStatus: d.lastStatus, statuses: d.statuses, error: d.error,"
                + "  figures: d.figures, samples: d.samples, charts});");
        return s == null ? null : new JsonObject((String) s);
    }

    /** Waits, looking every 100 ms, until the page's state satisfies {@code ok}. */
    JsonObject waitForPage(java.util.function.Predicate<JsonObject> ok, String what) throws Exception {
        JsonObject[] last = new JsonObject[1];
        Await.until(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            last[0] = page();
            return last[0] != null && ok.test(last[0]);
        }, WAIT, () -> what + "; the page: " + (last[0] == null ? "no state" : last[0].encode()));
        return last[0];
    }

    /** Status of every API call the browser made for this document (the Resource Timing entries). */
    List<Long> apiStatuses() {
        Object s = js("return JSON.stringify(performance.getEntriesByType('resource')"
                + ".filter((e) => new URL(e.name).pathname.startsWith('/api/')).map((e) => e.responseStatus));");
        List<Long> out = new ArrayList<>();
        for (Object o : new JsonArray((String) s)) out.add(((Number) o).longValue());
        return out;
    }

    JsonObject api(String path) throws Exception {
        var r = f.send("GET", path, null);
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return new JsonObject(r.body());
    }

    void assertNoFigures(String when) {
        for (WebElement e : browser.findElements(By.cssSelector("[data-figure]"))) {
            assertEquals("", e.getAttribute("textContent"), when + ": figure " + e.getAttribute("data-figure"));
            assertNull(e.getAttribute("data-value"), when + ": figure " + e.getAttribute("data-figure"));
        }
        assertFalse(browser.findElement(By.id("figures")).isDisplayed(), when + ": the figures are hidden");
        assertTrue(browser.findElement(By.id("login")).isDisplayed(), when + ": the token is asked for");
        assertEquals(0, browser.findElements(By.cssSelector("canvas")).size(), when + ": no chart");
        assertEquals(0, browser.findElements(By.cssSelector("#volumes tbody tr")).size(), when + ": no volume row");
        JsonObject p = page();
        assertEquals(0, p.getJsonArray("samples").size(), when);
        assertEquals(0, p.getJsonObject("charts").size(), when);
        assertEquals(0, p.getJsonObject("figures").size(), when);
        List<Long> statuses = apiStatuses();
        assertFalse(statuses.isEmpty(), when + ": the page asked the API");
        for (Long s : statuses) assertEquals(401L, s, when + ": every API call was refused " + statuses);
    }

    static byte[] text(int i) {
        return ("dashboard block " + i + ", the same words again and again; ").repeat(120).substring(0, 4096)
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** Writes blocks [from, from + 64): text (16 distinct), their duplicates, random, zeros; then a flush. */
    static void writeBatch(RawClient c, long from, long seed) throws Exception {
        Random r = new Random(seed);
        byte[] texts = new byte[16 * 4096];
        for (int i = 0; i < 16; i++) System.arraycopy(text((int) (seed * 100 + i)), 0, texts, i * 4096, 4096);
        byte[] random = new byte[16 * 4096];
        r.nextBytes(random);
        assertEquals(0, c.write(1, 4096 * from, texts));
        assertEquals(0, c.write(2, 4096 * (from + 16), texts));
        assertEquals(0, c.write(3, 4096 * (from + 32), random));
        assertEquals(0, c.write(4, 4096 * (from + 48), new byte[16 * 4096]));
        MmStatTest.flush(c);
    }

    @Test
    void withoutTheTokenThereIsNoFigureAndTheApiSays401() throws Exception {
        try (RawClient c = RawClient.open(f.nbd.actualPort())) {
            c.go("vol0");
            writeBatch(c, 0, 1);
        }
        load(base() + "/ui");
        waitForPage(p -> Long.valueOf(401).equals(p.getLong("lastStatus")), "the page asks the API and hears 401");
        assertNoFigures("no token");

        // a wrong token in the fragment: refused, forgotten, the fragment gone from the address bar
        load(base() + "/ui#token=" + "0".repeat(64));
        waitForPage(p -> Long.valueOf(401).equals(p.getLong("lastStatus")), "the wrong token is refused");
        assertNoFigures("wrong token");
        assertEquals("", js("return location.hash;"));
        assertNull(js("return sessionStorage.getItem('jvdo.adminToken');"), "a refused token is not kept");
        assertTrue(browser.findElement(By.id("login-why")).getText().contains("401"),
                browser.findElement(By.id("login-why")).getText());

        // the right token through the form: figures; forgetting it: none again
        browser.findElement(By.id("token")).sendKeys(f.token.value());
        browser.findElement(By.cssSelector("#login button[type=submit]")).click();
        waitForPage(p -> p.getInteger("polls") >= 1 && p.getJsonObject("charts").containsKey("space"), "figures with the token");
        assertTrue(browser.findElement(By.id("figures")).isDisplayed());
        assertFalse(browser.findElement(By.cssSelector("[data-figure=logical_bytes]")).getText().isEmpty());
        browser.findElement(By.id("forget")).click();
        waitForPage(p -> p.getJsonArray("samples").isEmpty(), "the figures go with the token");
        assertFalse(browser.findElement(By.id("figures")).isDisplayed());
        assertNull(js("return sessionStorage.getItem('jvdo.adminToken');"));
        for (WebElement e : browser.findElements(By.cssSelector("[data-figure]"))) {
            assertEquals("", e.getAttribute("textContent"), "after forgetting: " + e.getAttribute("data-figure"));
        }
    }

    @Test
    void aReadOnlyPoolShowsItsModeAndReason() throws Exception {
        failWrites = true;
        try (RawClient c = RawClient.open(f.nbd.actualPort())) {
            c.go("vol0");
            c.write(1, 0, text(1));
            c.request(0, NbdProtocol.CMD_FLUSH, 2, 0, 0, null);
            assertNotEquals(0, c.simple().error(), "the flush fails");
        }
        JsonObject stats = api("/api/v1/stats");
        assertEquals("read-only", stats.getString("mode"));
        String reason = stats.getString("read_only_reason");
        assertNotNull(reason);
        load(base() + "/ui#token=" + f.token.value());
        waitForPage(p -> p.getInteger("polls") >= 1, "a poll");
        WebElement mode = browser.findElement(By.id("mode"));
        assertEquals("read-only: " + reason, mode.getText());
        assertEquals("read-only", mode.getAttribute("data-value"));
        assertEquals("bad", mode.getAttribute("class"));
    }

    static double last(JsonArray series) {
        return series.getNumber(series.size() - 1).doubleValue();
    }

    /** The series labelled {@code label} of a chart (index 1.. in its data). */
    static JsonArray series(JsonObject chart, String label) {
        int i = chart.getJsonArray("labels").getList().indexOf(label);
        assertTrue(i >= 0, label + " in " + chart.getJsonArray("labels"));
        return chart.getJsonArray("data").getJsonArray(i + 1);
    }

    /** Sum over the points of rate × the time since the point before: what the rate says the counter grew by. */
    static double integral(JsonArray times, JsonArray rates) {
        double sum = 0;
        for (int i = 1; i < times.size(); i++) {
            Number r = rates.getNumber(i);
            assertNotNull(r, "a rate at every poll after the first: " + rates);
            sum += r.doubleValue() * (times.getNumber(i).doubleValue() - times.getNumber(i - 1).doubleValue());
        }
        return sum;
    }

    static double max(JsonArray values) {
        double m = 0;
        for (Object o : values) if (o != null) m = Math.max(m, ((Number) o).doubleValue());
        return m;
    }

    @Test
    void theChartsHoldTheNumbersTheApiReports() throws Exception {
        try (RawClient c = RawClient.open(f.nbd.actualPort())) {
            c.go("vol0");
            writeBatch(c, 0, 1);
            load(base() + "/ui#token=" + f.token.value());
            waitForPage(p -> p.getInteger("polls") >= 2, "two polls");
            assertEquals("", js("return location.hash;"), "the token leaves the address bar");
            // writes while the page watches: throughput and IOPS have something to show
            for (int b = 1; b <= 4; b++) {
                writeBatch(c, 64L * b, b + 1);
                int polls = page().getInteger("polls");   // the next batch once the page has polled again
                waitForPage(p -> p.getInteger("polls") > polls, "a poll after batch " + b);
            }
            for (int i = 0; i < 32; i++) c.read(100 + i, 4096L * i, 4096);
            f.pool.quiesce();

            JsonObject stats = api("/api/v1/stats");
            JsonObject volumes = api("/api/v1/volumes");
            JsonObject vol = api("/api/v1/volumes/vol0/stats");
            JsonObject p = waitForPage(s -> {
                JsonArray samples = s.getJsonArray("samples");
                if (samples.isEmpty()) return false;
                JsonObject l = samples.getJsonObject(samples.size() - 1);
                return l.getJsonObject("stats").getLong("logical_blocks_used").equals(stats.getLong("logical_blocks_used"))
                        && l.getJsonObject("stats").getLong("data_blocks_used").equals(stats.getLong("data_blocks_used"))
                        && l.getJsonObject("volumeStats").getJsonObject("vol0").getLong("bytes_read").equals(vol.getLong("bytes_read"))
                        && l.getJsonObject("volumeStats").getJsonObject("vol0").getLong("bytes_written").equals(vol.getLong("bytes_written"));
            }, "the page's last poll reads what the API answers after the writes: " + stats.encode() + " " + vol.encode());
            Files.write(Path.of("target", "dashboard.png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));

            JsonArray samples = p.getJsonArray("samples");
            JsonObject first = samples.getJsonObject(0), lastSample = samples.getJsonObject(samples.size() - 1);
            assertTrue(samples.size() >= 4, "polls: " + samples.size());
            JsonObject figures = p.getJsonObject("figures");
            JsonObject charts = p.getJsonObject("charts");
            String ctx = "page " + figures.encode() + "\napi " + stats.encode();

            // the tiles, in the page's data-value attributes and its state
            long logical = stats.getLong("logical_blocks_used") * 4096, stored = stats.getLong("data_blocks_used") * 4096;
            JsonObject saved = stats.getJsonObject("saved_blocks");
            assertTrue(saved.getLong("dedupe") > 0 && saved.getLong("compression") > 0 && saved.getLong("zero") > 0, ctx);
            long connections = 0;
            for (Object v : volumes.getJsonArray("volumes")) connections += ((JsonObject) v).getLong("connections");
            assertEquals(1, connections, "the open NBD connection: " + volumes.encode());
            String[][] expected = {
                    {"logical_bytes", String.valueOf(logical)}, {"physical_bytes", String.valueOf(stored)},
                    {"saving_percent", String.valueOf(stats.getLong("saving_percent"))},
                    {"saved_dedupe_bytes", String.valueOf(saved.getLong("dedupe") * 4096)},
                    {"saved_compression_bytes", String.valueOf(saved.getLong("compression") * 4096)},
                    {"saved_zero_bytes", String.valueOf(saved.getLong("zero") * 4096)},
                    {"connections", String.valueOf(connections)},
                    {"packer_waiting", String.valueOf(stats.getLong("compressed_fragments_in_packer"))},
                    {"mode", stats.getString("mode")}};
            for (String[] e : expected) {
                WebElement el = browser.findElement(By.cssSelector("[data-figure=" + e[0] + "]"));
                assertEquals(e[1], el.getAttribute("data-value"), e[0] + " shown; " + ctx);
                assertEquals(e[1], String.valueOf(figures.getValue(e[0])), e[0] + " in the page's state; " + ctx);
                assertFalse(el.getText().isEmpty(), e[0] + " has a text");
            }
            assertEquals("normal", browser.findElement(By.id("mode")).getText());
            double fill = stats.getLong("compressed_fragments_written") / (double) stats.getLong("compressed_blocks_written");
            assertEquals(fill, figures.getDouble("packer_fill"), 1e-9, ctx);
            // read in one script: the table is rebuilt on every poll, so a found cell may go stale
            assertEquals("1", String.valueOf(js("return document.querySelector('#volumes tbody tr[data-volume=vol0]')"
                    + ".children[4].textContent.trim()")), "vol0's connections in the table");

            // the charts' last points
            assertEquals(logical, last(series(charts.getJsonObject("space"), "logical used")), ctx);
            assertEquals(stored, last(series(charts.getJsonObject("space"), "stored")), ctx);
            assertEquals(saved.getLong("dedupe") * 4096, last(series(charts.getJsonObject("saving"), "saved by dedupe")));
            assertEquals(saved.getLong("compression") * 4096, last(series(charts.getJsonObject("saving"), "saved by compression")));
            assertEquals(saved.getLong("zero") * 4096, last(series(charts.getJsonObject("saving"), "saved by zero blocks")));
            assertEquals(connections, last(series(charts.getJsonObject("connections"), "NBD connections")));
            assertEquals((double) stats.getLong("compressed_fragments_in_packer"),
                    last(series(charts.getJsonObject("packer"), "fragments waiting")));

            // throughput and IOPS: each point is a counter's growth over the time since the poll before,
            // so they add up to the growth between the first and the last poll, which ends at the API's count
            JsonArray times = charts.getJsonObject("throughput").getJsonArray("data").getJsonArray(0);
            assertEquals(samples.size(), times.size());
            String[][] rates = {{"throughput", "vol0 write/s", "bytes_written"}, {"throughput", "vol0 read/s", "bytes_read"},
                    {"iops", "vol0 write IOPS", "bios_in_write"}, {"iops", "vol0 read IOPS", "bios_in_read"}};
            for (String[] r : rates) {
                JsonArray values = series(charts.getJsonObject(r[0]), r[1]);
                long grew = lastSample.getJsonObject("volumeStats").getJsonObject("vol0").getLong(r[2])
                        - first.getJsonObject("volumeStats").getJsonObject("vol0").getLong(r[2]);
                assertTrue(grew > 0, r[2] + " grew while the page polled");
                assertTrue(max(values) > 0, r[1] + ": " + values);
                assertEquals(grew, integral(times, values), 1e-6 * grew, r[1] + " adds up to the growth of " + r[2] + ": " + values);
                assertEquals(vol.getLong(r[2]), lastSample.getJsonObject("volumeStats").getJsonObject("vol0").getLong(r[2]), r[2]);
            }

            // stage latency: one series per stage the API lists; each point the mean over the poll's new samples
            JsonObject latency = charts.getJsonObject("latency");
            List<String> stages = new ArrayList<>(stats.getJsonObject("stage_latency").fieldNames());
            assertEquals(stages.stream().map(s -> s + " µs").toList(), latency.getJsonArray("labels").getList());
            JsonArray hash = series(latency, "hash µs");
            double nanos = 0;
            for (int i = 1; i < samples.size(); i++) {
                JsonObject a = samples.getJsonObject(i - 1).getJsonObject("stats").getJsonObject("stage_latency").getJsonObject("hash");
                JsonObject b = samples.getJsonObject(i).getJsonObject("stats").getJsonObject("stage_latency").getJsonObject("hash");
                long n = b.getLong("count") - a.getLong("count");
                if (n == 0) assertNull(hash.getValue(i), "no new sample, no point");
                else nanos += hash.getNumber(i).doubleValue() * 1000 * n;
            }
            JsonObject h0 = first.getJsonObject("stats").getJsonObject("stage_latency").getJsonObject("hash");
            JsonObject h1 = stats.getJsonObject("stage_latency").getJsonObject("hash");
            assertTrue(h1.getLong("count") > h0.getLong("count"));
            assertEquals(h1.getLong("sum_nanos") - h0.getLong("sum_nanos"), nanos, 1e-6 * nanos, "hash latency points: " + hash);

            // it only reads, with the token: every API call answered 200
            for (Long s : apiStatuses()) assertEquals(200L, s, "API statuses " + apiStatuses());
            // no script error, nothing blocked by the Content-Security-Policy (the page and uPlot work under it)
            List<String> severe = new ArrayList<>();
            for (LogEntry e : browser.manage().logs().get(LogType.BROWSER)) {
                if (e.getLevel().intValue() >= Level.WARNING.intValue()) severe.add(e.getLevel() + " " + e.getMessage());
            }
            assertEquals(List.of(), severe, "the browser's console");
        }
    }
}
