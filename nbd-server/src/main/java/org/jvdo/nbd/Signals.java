package org.jvdo.nbd;

/**
 * SIGTERM, SIGINT and SIGHUP start the clean shutdown and let it finish with exit code 0, instead
 * of the JVM's default of running shutdown hooks and exiting 143/130 (SIGHUP: 129, and without
 * closing the pool, since the hooks do not run the server's close). A daemon's terminal going
 * away, or a supervisor sending SIGHUP, must not leave a pool that needs a journal replay.
 * A signal the parent ignored stays ignored (the JVM installs no handler for it): under
 * {@code nohup} SIGHUP does nothing, which is what nohup is for.
 */
@SuppressWarnings("removal")
public final class Signals {
    private Signals() { }

    /** Runs {@code action} on SIGTERM, SIGINT and SIGHUP; the returned runnable puts the previous handlers back. */
    public static Runnable onTermination(Runnable action) {
        java.util.Map<sun.misc.Signal, sun.misc.SignalHandler> previous = new java.util.LinkedHashMap<>();
        for (String name : new String[]{"TERM", "INT", "HUP"}) {
            try {
                sun.misc.Signal signal = new sun.misc.Signal(name);
                previous.put(signal, sun.misc.Signal.handle(signal, s -> action.run()));
            } catch (IllegalArgumentException e) {
                // signal not available on this platform: the default handling remains
            }
        }
        return () -> previous.forEach(sun.misc.Signal::handle);
    }
}
