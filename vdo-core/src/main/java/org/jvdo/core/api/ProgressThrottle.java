package org.jvdo.core.api;

/**
 * When a progress report is due: a report whenever another {@code stepPercent} of the total is
 * done, or when {@code intervalNanos} have passed since the last report (for work whose total
 * is unknown or slow), whichever comes first; {@link #reset} at each new phase. Not thread-safe:
 * one worker reports.
 */
public final class ProgressThrottle {
    private final int stepPercent;
    private final long intervalNanos;
    private long lastReport;
    private long lastStep;
    private boolean started;

    public ProgressThrottle(int stepPercent, long intervalNanos) {
        if (stepPercent < 1 || stepPercent > 100) throw new IllegalArgumentException("stepPercent must be 1..100");
        this.stepPercent = stepPercent;
        this.intervalNanos = intervalNanos;
    }

    /** A new phase starts now: the next report is due after a step or an interval from here. */
    public void reset(long now) {
        lastReport = now;
        lastStep = 0;
        started = true;
    }

    /** Whether to report {@code done} of {@code total} now; if so, counts it as reported. */
    public boolean due(long done, long total, long now) {
        if (!started) reset(now);
        long step = total > 0 ? Math.min(100, done * 100 / total) / stepPercent : 0;
        if (step > lastStep || now - lastReport >= intervalNanos) {
            lastStep = Math.max(lastStep, step);
            lastReport = now;
            return true;
        }
        return false;
    }

    /** Percent of {@code total} that {@code done} is, 0..100 (0 when the total is unknown). */
    public static int percent(long done, long total) {
        return total <= 0 ? 0 : (int) Math.min(100, Math.max(0, done) * 100 / total);
    }
}
