package org.jvdo.nbd;

/**
 * SIGTERM and SIGINT start the clean shutdown and let it finish with exit code 0, instead of
 * the JVM's default of running shutdown hooks and exiting 143/130.
 */
@SuppressWarnings("removal")
final class Signals {
    private Signals() { }

    static void onTermination(Runnable action) {
        for (String name : new String[]{"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> action.run());
            } catch (IllegalArgumentException e) {
                // signal not available on this platform: the default handling remains
            }
        }
    }
}
