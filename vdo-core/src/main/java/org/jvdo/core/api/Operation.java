package org.jvdo.core.api;

import java.time.Instant;
import java.util.function.Consumer;

/**
 * A long piece of administration in progress (a volume delete or resize): what, on which
 * volume, the phase it is in and how much of that phase is done. Written by the one thread doing
 * the work, read by anyone (the admin API); each field is read on its own, so a reader may see a
 * phase with the previous phase's counts for a moment.
 */
public final class Operation {
    private final long id;
    private final String kind;
    private final String volume;
    private final Instant started;
    private final long startedNanos;
    private final Consumer<Operation> observer;
    private volatile String phase;
    private volatile long done;
    private volatile long total;

    /** {@code observer} (may be null) hears every change, on the working thread (tests hold the work there). */
    public Operation(long id, String kind, String volume, Consumer<Operation> observer) {
        this.id = id;
        this.kind = kind;
        this.volume = volume;
        this.started = Instant.now();
        this.startedNanos = System.nanoTime();
        this.observer = observer;
        this.phase = "starting";
    }

    /** A new phase with {@code total} units to do (0: unknown). */
    public void phase(String name, long total) {
        this.done = 0;
        this.total = total;
        this.phase = name;
        notifyObserver();
    }

    /** {@code done} units of the phase are done. */
    public void done(long done) {
        this.done = done;
        notifyObserver();
    }

    private void notifyObserver() {
        if (observer != null) observer.accept(this);
    }

    public long id() { return id; }

    /** {@code delete} or {@code resize}. */
    public String kind() { return kind; }

    public String volume() { return volume; }

    public String phase() { return phase; }

    public long done() { return done; }

    public long total() { return total; }

    public Instant started() { return started; }

    public long elapsedMillis() { return (System.nanoTime() - startedNanos) / 1_000_000; }

    @Override
    public String toString() {
        return kind + " of volume " + volume + ": " + phase + " " + done + "/" + total;
    }
}
