package org.jvdo.nbd;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.jvdo.core.api.ProgressListener;
import org.jvdo.core.api.ProgressThrottle;

/**
 * Shows the progress of long work (phase, done, total) on a stream, usually stderr, so that
 * stdout keeps only the results (pure JSON with {@code --json}).
 *
 * <ul>
 *   <li><b>Terminal</b>: one line redrawn in place (carriage return, then ESC [2K to clear the
 *       line) at most every {@value #REDRAW_MILLIS} ms, on a phase change and at 100%:
 *       {@code jvdo check: checking blocks [######------]  42%  12345/s  0:12 left}. {@link #close}
 *       clears it, so the result lines that follow start on a clean line.</li>
 *   <li><b>Plain</b> (not a terminal: a file, a pipe, a journal): whole lines, one whenever
 *       another 10% is done or {@value #PLAIN_SECONDS} s have passed since the last one:
 *       {@code jvdo check: checking blocks: 4200 of 10000 (42%), 12345/s, about 0:12 left}.</li>
 * </ul>
 *
 * The clock ({@link System#nanoTime()} units) and the stream are injected, so both modes can be
 * tested. Not thread-safe: one worker reports.
 */
public final class ProgressBar implements ProgressListener, AutoCloseable {
    static final long REDRAW_MILLIS = 100;
    static final long PLAIN_SECONDS = 5;
    static final int BAR_WIDTH = 30;
    /** Carriage return and ANSI "erase the whole line". */
    static final String CLEAR_LINE = "\r\u001b[2K";

    private final PrintStream out;
    private final String label;
    private final boolean terminal;
    private final LongSupplier clock;
    private final ProgressThrottle plain = new ProgressThrottle(10, PLAIN_SECONDS * 1_000_000_000L);
    private String phase;
    private long phaseStart;
    private long lastDraw;
    private boolean drawn;

    /**
     * @param out      where to draw (stderr)
     * @param label    the line's prefix, e.g. {@code jvdo check}
     * @param terminal redraw in place (true) or print whole lines (false)
     * @param clock    nanoseconds, as {@link System#nanoTime()}
     */
    public ProgressBar(PrintStream out, String label, boolean terminal, LongSupplier clock) {
        this.out = out;
        this.label = label;
        this.terminal = terminal;
        this.clock = clock;
    }

    /**
     * A bar on {@code err}: terminal mode when the process has a terminal (a console, and
     * {@code TERM} not "dumb"), else plain lines.
     */
    public static ProgressBar create(PrintStream err, String label) {
        String term = System.getenv("TERM");
        boolean terminal = System.console() != null && term != null && !term.isEmpty() && !term.equals("dumb");
        return new ProgressBar(err, label, terminal, System::nanoTime);
    }

    public boolean terminal() { return terminal; }

    /** Runs {@code work} with a bar made by {@link #create} on {@code err}, and clears it after. */
    public static <T> T around(PrintStream err, String label, java.util.function.Function<ProgressListener, T> work) {
        try (ProgressBar bar = create(err, label)) {
            return work.apply(bar);
        }
    }

    @Override
    public void progress(String phaseName, long done, long total) {
        long now = clock.getAsLong();
        boolean newPhase = !phaseName.equals(phase);
        if (newPhase) {
            phase = phaseName;
            phaseStart = now;
            plain.reset(now);
        }
        if (terminal) {
            boolean complete = total > 0 && done >= total;
            if (newPhase || complete || now - lastDraw >= REDRAW_MILLIS * 1_000_000L) {
                lastDraw = now;
                drawn = true;
                out.print(CLEAR_LINE + terminalLine(done, total, now));
                out.flush();
            }
        } else if (!newPhase && plain.due(done, total, now)) {
            out.println(plainLine(done, total, now));
            out.flush();
        }
    }

    private String terminalLine(long done, long total, long now) {
        StringBuilder b = new StringBuilder(label).append(": ").append(phase);
        if (total > 0) {
            int pct = ProgressThrottle.percent(done, total);
            int fill = (int) ((long) pct * BAR_WIDTH / 100);
            b.append(" [").append("#".repeat(fill)).append("-".repeat(BAR_WIDTH - fill)).append("] ")
                    .append(String.format(Locale.ROOT, "%3d%%", pct));
        } else {
            b.append("  ").append(done).append(" done");
        }
        String rate = rate(done, now);
        if (rate != null) b.append("  ").append(rate).append("/s");
        String left = left(done, total, now);
        if (left != null) b.append("  ").append(left).append(" left");
        return b.toString();
    }

    private String plainLine(long done, long total, long now) {
        StringBuilder b = new StringBuilder(label).append(": ").append(phase).append(": ").append(done);
        if (total > 0) b.append(" of ").append(total).append(" (").append(ProgressThrottle.percent(done, total)).append("%)");
        String rate = rate(done, now);
        if (rate != null) b.append(", ").append(rate).append("/s");
        String left = left(done, total, now);
        if (left != null) b.append(", about ").append(left).append(" left");
        return b.toString();
    }

    /** Units per second in this phase, or null before any time has passed. */
    private String rate(long done, long now) {
        long nanos = now - phaseStart;
        if (nanos <= 0) return null;
        return String.valueOf(Math.round(done * 1e9 / nanos));
    }

    /** The time the rest of this phase takes at its rate so far, as H:MM:SS or M:SS; null when unknown or done. */
    private String left(long done, long total, long now) {
        long nanos = now - phaseStart;
        if (total <= 0 || done <= 0 || done >= total || nanos <= 0) return null;
        long seconds = (long) Math.ceil((double) (total - done) * nanos / done / 1e9);
        return duration(seconds);
    }

    static String duration(long seconds) {
        long h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s) : String.format(Locale.ROOT, "%d:%02d", m, s);
    }

    /** Terminal mode: clears the bar's line, so what follows starts on an empty line. */
    @Override
    public void close() {
        if (terminal && drawn) {
            out.print(CLEAR_LINE);
            out.flush();
            drawn = false;
        }
    }
}
