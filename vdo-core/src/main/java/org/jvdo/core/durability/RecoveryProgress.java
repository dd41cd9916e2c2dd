package org.jvdo.core.durability;

import org.jvdo.core.api.ProgressListener;
import org.jvdo.core.api.ProgressThrottle;

import java.util.Locale;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The progress of one phase of recovery at open: INFO lines on {@value #LOGGER} when another
 * 10% is done or 2 s have passed since the last line (whichever first; so a long replay says
 * how far it is, a short one prints its final line only, plus at most ten), each with the
 * count, the percentage and the rate; a final line with the counts and the duration. The
 * listener (the admin API's {@code /health}) hears every report, at most every
 * {@value #LISTENER_EVERY} units.
 */
final class RecoveryProgress {
    static final String LOGGER = "org.jvdo.core.recovery";
    static final Logger LOG = Logger.getLogger(LOGGER);
    static final int LISTENER_EVERY = 64;
    private static final long INTERVAL = 2_000_000_000L;

    private final String phase;
    private final String unit;
    private final long total;
    private final LongSupplier clock;
    private final ProgressListener listener;
    private final ProgressThrottle throttle = new ProgressThrottle(10, INTERVAL);
    private final long start;
    private long done;

    RecoveryProgress(String phase, String unit, long total, LongSupplier clock, ProgressListener listener) {
        this.phase = phase;
        this.unit = unit;
        this.total = total;
        this.clock = clock;
        this.listener = ProgressListener.orNone(listener);
        this.start = clock.getAsLong();
        throttle.reset(start);
        this.listener.progress(phase, 0, total);
    }

    /** One more unit done. */
    void step() {
        done++;
        if (done % LISTENER_EVERY != 0) return;
        listener.progress(phase, done, total);
        long now = clock.getAsLong();
        if (total > 0 && done < total && throttle.due(done, total, now)) {
            LOG.info(String.format(Locale.ROOT, "%s: %d of %d %s (%d%%), %s %s/s", phase, done, total, unit,
                    ProgressThrottle.percent(done, total), rate(done, now - start), unit));
        }
    }

    long done() { return done; }

    /** The final line: {@code what} says the counts; INFO when anything was done, else FINE. */
    void finish(String what) {
        listener.progress(phase, done, Math.max(total, done));
        long nanos = clock.getAsLong() - start;
        LOG.log(done > 0 ? Level.INFO : Level.FINE, String.format(Locale.ROOT, "%s done: %s in %.1f s (%s %s/s)", phase, what,
                nanos / 1e9, rate(done, nanos), unit));
    }

    static String rate(long n, long nanos) {
        if (nanos <= 0) return "-";
        return String.valueOf(Math.round(n * 1e9 / nanos));
    }
}
