package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jvdo check} run as a real process, not on a terminal: its progress goes to stderr as
 * whole lines (one per 10% of the blocks checked), stdout holds the same result lines as
 * without progress, and with {@code --json} stdout is one JSON document and nothing else.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CheckProgressTest {
    static final int BLOCKS = 3000;

    @TempDir
    Path tmp;
    Path pool;

    @BeforeEach
    void poolWithData() throws Exception {
        pool = tmp.resolve("pool");
        try (Pool p = Pool.create(pool, PoolConfig.small(64L << 20))) {
            Volume v = p.createVolume("vol0", 32L << 20);
            SplittableRandom r = new SplittableRandom(13);
            for (int i = 0; i < BLOCKS; i++) v.write(i * 4096L, ByteBuffer.wrap(Blocks.text(r)), false).get(30, TimeUnit.SECONDS);
            p.flush().get(30, TimeUnit.SECONDS);
        }
    }

    private ServeProcess check(String name, String... extra) throws Exception {
        String[] args = new String[extra.length + 2];
        args[0] = "check";
        args[1] = pool.toString();
        System.arraycopy(extra, 0, args, 2, extra.length);
        return ServeProcess.start(tmp.resolve("logs"), name, 0, args);
    }

    /** The progress lines of the block check on stderr: every 10% once, up to 100%. */
    private static void assertPlainProgress(String err) {
        List<String> lines = err.lines().filter(l -> l.startsWith("jvdo check: checking blocks: ")).toList();
        assertEquals(10, lines.size(), "one line per 10%:\n" + err);
        for (int i = 0; i < 10; i++) {
            assertTrue(lines.get(i).matches("jvdo check: checking blocks: \\d+ of " + BLOCKS + " \\(" + (i + 1) * 10 + "%\\).*"),
                    lines.get(i));
        }
        assertFalse(err.contains("\r") || err.contains("\u001b"), "no terminal control characters when not on a terminal:\n" + err);
    }

    @Test
    void plainProgressOnStderrAndTheSameResultOnStdout() throws Exception {
        MainTest.Run inProcess = MainTest.run("check", pool.toString());
        try (ServeProcess p = check("check")) {
            assertEquals(0, p.awaitExit(Duration.ofSeconds(90)), p.out() + p.err());
            assertEquals(inProcess.out(), p.out(), "the result lines are unchanged");
            assertTrue(p.out().endsWith("jvdo check: clean\n"), p.out());
            assertFalse(p.out().contains("checking blocks"), "no progress on stdout:\n" + p.out());
            assertPlainProgress(p.err());
        }
    }

    /** On a terminal (a pseudo-terminal made by util-linux {@code script}) the bar is one line redrawn in place, then cleared. */
    @Test
    void onATerminalTheBarIsRedrawnInPlace() {
        Tools.require("script");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cmd = "TERM=xterm " + sq(java) + " -cp " + sq(System.getProperty("java.class.path")) + " " + Main.class.getName()
                + " check " + sq(pool.toString());
        Tools.Result r = Tools.run(Duration.ofSeconds(90), "script", "-qec", cmd, "/dev/null").assertOk("jvdo check on a terminal");
        String t = r.output();
        assertTrue(t.contains(ProgressBar.CLEAR_LINE + "jvdo check: checking blocks ["), t);
        assertTrue(t.contains(ProgressBar.CLEAR_LINE + "jvdo check: checking blocks [##############################] 100%"), t);
        assertFalse(t.contains("jvdo check: checking blocks: "), "no plain lines on a terminal: " + t);
        assertTrue(t.contains(ProgressBar.CLEAR_LINE + "jvdo check: "), t);
        assertTrue(t.replace("\r", "").contains("jvdo check: clean\n"), t);
    }

    private static String sq(String s) { return "'" + s.replace("'", "'\\''") + "'"; }

    @Test
    void jsonStaysPureJson() throws Exception {
        try (ServeProcess p = check("check-json", "--json")) {
            assertEquals(0, p.awaitExit(Duration.ofSeconds(90)), p.out() + p.err());
            List<String> lines = p.out().lines().toList();
            assertEquals(1, lines.size(), "one JSON document on stdout:\n" + p.out());
            JsonObject j = new JsonObject(lines.get(0));
            assertEquals(0, j.getInteger("exit_code"));
            assertPlainProgress(p.err());
        }
    }
}
