package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The log line format: time (ISO-8601 UTC), level, logger, message on one line; stack trace and
 * further message lines after it, each starting with a tab. And {@link LogSetup#configure}
 * installs it on stderr at the level asked for.
 */
@Timeout(30)
class LogFormatterTest {
    static final String LINE = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z [A-Z]+ \\S+: .*";

    static LogRecord record(Level level, String msg, Object... params) {
        LogRecord r = new LogRecord(level, msg);
        r.setLoggerName("org.jvdo.test");
        r.setInstant(Instant.parse("2026-12-02T13:05:09.007Z"));
        r.setParameters(params);
        return r;
    }

    @AfterEach
    void restoreDefaultLogging() throws Exception {
        LogManager.getLogManager().readConfiguration();
    }

    @Test
    void oneLineWithUtcTimeLevelLoggerAndMessage() {
        String s = new LogFormatter().format(record(Level.INFO, "connection {0} from {1} opened", 7, "127.0.0.1:5000"));
        assertEquals("2026-12-02T13:05:09.007Z INFO org.jvdo.test: connection 7 from 127.0.0.1:5000 opened\n", s);
        assertTrue(s.strip().matches(LINE), s);
        assertEquals("2026-12-02T13:05:09.007Z WARNING org.jvdo.test: x\n", new LogFormatter().format(record(Level.WARNING, "x")));
    }

    @Test
    void stackTraceAndMoreMessageLinesFollowIndented() {
        LogRecord r = record(Level.SEVERE, "could not record read-only mode\nsecond line");
        r.setThrown(new IllegalStateException("boom", new java.io.IOException("disk")));
        List<String> lines = new LogFormatter().format(r).lines().toList();
        assertEquals("2026-12-02T13:05:09.007Z SEVERE org.jvdo.test: could not record read-only mode", lines.get(0));
        assertEquals("\tsecond line", lines.get(1));
        assertEquals("\tjava.lang.IllegalStateException: boom", lines.get(2));
        assertTrue(lines.get(3).startsWith("\tat org.jvdo.nbd.LogFormatterTest."), lines.get(3));
        assertTrue(lines.stream().anyMatch(l -> l.equals("\tCaused by: java.io.IOException: disk")), String.join("\n", lines));
        for (String l : lines.subList(1, lines.size())) assertTrue(l.startsWith("\t"), "continuation line: " + l);
    }

    @Test
    void configureInstallsTheFormatOnStderrAtTheLevel() {
        PrintStream saved = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
            LogSetup.configure(Level.WARNING);
            Logger log = Logger.getLogger("org.jvdo.logtest");
            log.info("not shown");
            log.warning("shown");
            LogSetup.configure(LogSetup.level("debug"));
            log.fine("fine now");
        } finally {
            System.setErr(saved);
        }
        List<String> lines = buf.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(0).matches(LINE) && lines.get(0).endsWith(" WARNING org.jvdo.logtest: shown"), lines.get(0));
        assertTrue(lines.get(1).endsWith(" FINE org.jvdo.logtest: fine now"), lines.get(1));
    }

    @Test
    void levelNames() {
        assertEquals(Level.SEVERE, LogSetup.level("error"));
        assertEquals(Level.WARNING, LogSetup.level("WARN"));
        assertEquals(Level.FINE, LogSetup.level("debug"));
        assertEquals(Level.FINER, LogSetup.level("finer"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LogSetup.level("loud"));
        assertTrue(e.getMessage().contains("'loud'"), e.getMessage());
    }
}
