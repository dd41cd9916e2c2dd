package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The progress renderer in both modes, with a clock driven by hand. */
class ProgressBarTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    private long now = 1_000_000_000L;

    private String text() { return bytes.toString(StandardCharsets.UTF_8); }

    private ProgressBar bar(boolean terminal) { return new ProgressBar(out, "jvdo check", terminal, () -> now); }

    @Test
    void plainModePrintsAWholeLineAtEveryTenPercent() {
        ProgressBar b = bar(false);
        for (int i = 0; i <= 1000; i++) b.progress("checking blocks", i, 1000);
        List<String> lines = text().lines().toList();
        assertEquals(10, lines.size(), text());
        assertEquals("jvdo check: checking blocks: 100 of 1000 (10%)", lines.get(0));
        assertEquals("jvdo check: checking blocks: 1000 of 1000 (100%)", lines.get(9));
        assertFalse(text().contains("\r"), "no carriage return in plain mode");
        assertFalse(text().contains("\u001b"), "no escape sequence in plain mode");
    }

    @Test
    void plainModeShowsRateAndTimeLeft() {
        ProgressBar b = bar(false);
        b.progress("checking blocks", 0, 1000);
        now += 500_000_000L;                      // 0.5 s for 100 blocks: 200/s, 900 left = 4.5 s
        b.progress("checking blocks", 100, 1000);
        assertEquals("jvdo check: checking blocks: 100 of 1000 (10%), 200/s, about 0:05 left" + System.lineSeparator(), text());
    }

    @Test
    void plainModeReportsEveryFewSecondsWithoutAStep() {
        ProgressBar b = bar(false);
        b.progress("journal replay", 0, 0);       // total unknown: only the time brings a line
        b.progress("journal replay", 10, 0);
        assertEquals("", text());
        now += ProgressBar.PLAIN_SECONDS * 1_000_000_000L;
        b.progress("journal replay", 20, 0);
        assertEquals("jvdo check: journal replay: 20, 4/s" + System.lineSeparator(), text());
    }

    @Test
    void plainModeStartsAgainAtEachPhase() {
        ProgressBar b = bar(false);
        for (int i = 0; i <= 10; i++) b.progress("reference count rebuild", i, 10);
        for (int i = 0; i <= 10; i++) b.progress("checking blocks", i, 10);
        List<String> lines = text().lines().toList();
        assertEquals(20, lines.size(), text());
        assertTrue(lines.get(10).startsWith("jvdo check: checking blocks: 1 of 10 (10%)"), lines.get(10));
    }

    @Test
    void terminalModeRedrawsOneLineInPlace() {
        ProgressBar b = bar(true);
        b.progress("checking blocks", 0, 200);
        for (int i = 1; i < 100; i++) b.progress("checking blocks", i, 200);   // same instant: no redraw
        now += ProgressBar.REDRAW_MILLIS * 1_000_000L;                          // 0.1 s for 100 blocks
        b.progress("checking blocks", 100, 200);
        String t = text();
        assertFalse(t.contains("\n"), "a terminal bar never ends a line: " + t);
        String[] draws = t.split("\r\u001b\\[2K", -1);
        assertEquals(3, draws.length, "two draws, each after a clear: " + t.replace("\u001b", "ESC"));
        assertEquals("", draws[0]);
        assertEquals("jvdo check: checking blocks [------------------------------]   0%", draws[1]);
        assertEquals("jvdo check: checking blocks [###############---------------]  50%  1000/s  0:01 left", draws[2]);
        b.close();
        assertTrue(text().endsWith("left" + ProgressBar.CLEAR_LINE), "close clears the line");
    }

    @Test
    void terminalModeDrawsTheEndAndEachNewPhaseAtOnce() {
        ProgressBar b = bar(true);
        b.progress("journal replay", 5, 5);
        b.progress("checking blocks", 0, 0);
        String[] draws = text().split("\r\u001b\\[2K", -1);
        assertEquals(3, draws.length, text());
        assertTrue(draws[1].contains("[##############################] 100%"), draws[1]);
        assertEquals("jvdo check: checking blocks  0 done", draws[2]);
    }

    @Test
    void closeWithoutDrawingPrintsNothing() {
        bar(true).close();
        bar(false).close();
        assertEquals("", text());
    }

    @Test
    void durations() {
        assertEquals("0:05", ProgressBar.duration(5));
        assertEquals("2:03", ProgressBar.duration(123));
        assertEquals("1:00:01", ProgressBar.duration(3601));
    }
}
