package org.jvdo.core;

import java.util.function.BiConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A hook for tests: told when a {@link Pool} has opened and when it is closing. Off unless
 * {@link #set} installs one; then costs one volatile read per pool open and close.
 *
 * <p>{@link #closing} is called from {@link Pool#close()} once the final flush is done, no vio
 * is in use and the background tasks have stopped, before the checkpoint: the pool is still
 * open and quiet, so e.g. {@link Pool#verifyReferenceCounts()} sees its final state. It is not
 * called for {@link Pool#crash()}. Observers must not throw; what they throw is logged and
 * ignored, so a pool always closes.
 */
public interface PoolObserver {
    /** {@code pool} is open (created, or opened and recovered). */
    void opened(Pool pool);

    /** {@code pool} is being closed cleanly, still open and quiesced (see the class comment). */
    void closing(Pool pool);

    /** Installs {@code observer} for every pool opened or closed from now on; null turns the hook off. */
    static void set(PoolObserver observer) {
        Holder.current = observer;
    }

    /** The observer installed, or null. */
    static PoolObserver get() {
        return Holder.current;
    }

    /** Called by {@link Pool} at the end of its constructor. */
    static void notifyOpened(Pool pool) {
        tell(pool, "open", PoolObserver::opened);
    }

    /** Called by {@link Pool#close()} (see the class comment). */
    static void notifyClosing(Pool pool) {
        tell(pool, "close", PoolObserver::closing);
    }

    private static void tell(Pool pool, String when, BiConsumer<PoolObserver, Pool> event) {
        PoolObserver o = Holder.current;
        if (o == null) return;
        try {
            event.accept(o, pool);
        } catch (RuntimeException e) {
            Holder.LOG.log(Level.WARNING, "pool observer failed at " + when + " of " + pool.directory(), e);
        }
    }

    /** The installed observer (an interface cannot hold a mutable field itself). */
    final class Holder {
        private static final Logger LOG = Logger.getLogger(PoolObserver.class.getName());
        private static volatile PoolObserver current;

        private Holder() { }
    }
}
