package org.jvdo.core.api;

/**
 * Hears how long work is going: the phase it is in ({@code "journal replay"},
 * {@code "checking blocks"}, ...), how much of it is done and the total ({@code total} 0 when
 * unknown; {@code done} may pass an estimated total). Called on the working thread, so it must
 * be quick; a test may block in it to hold the work at a known point.
 */
@FunctionalInterface
public interface ProgressListener {
    void progress(String phase, long done, long total);

    /** Hears nothing. */
    ProgressListener NONE = (phase, done, total) -> { };

    /** {@code l}, or {@link #NONE} for null. */
    static ProgressListener orNone(ProgressListener l) { return l == null ? NONE : l; }

    /** Both, this one first. */
    default ProgressListener and(ProgressListener other) {
        if (other == null || other == NONE) return this;
        return (phase, done, total) -> {
            progress(phase, done, total);
            other.progress(phase, done, total);
        };
    }
}
