package org.jvdo.nbd;

/**
 * SIGTERM, SIGINT and SIGHUP start the clean shutdown and let it finish with exit code 0, instead
 * of the JVM's default of running shutdown hooks and exiting 143/130 (SIGHUP: 129, and without
 * closing the pool, since the hooks do not run the server's close). A daemon's terminal going
 * away, or a supervisor sending SIGHUP, must not leave a pool that needs a journal replay.
 */
@SuppressWarnings("removal")
public final class Signals {
    private Signals() { }

    public static void onTermination(Runnable action) {
        for (String name : new String[]{"TERM", "INT", "HUP"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> action.run());
            } catch (IllegalArgumentException e) {
                // signal not available on this platform: the default handling remains
            }
        }
    }
}
