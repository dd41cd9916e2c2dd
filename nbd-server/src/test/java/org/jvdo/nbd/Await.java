package org.jvdo.nbd;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Bounded waits for the nbd-server tests, with the API of vdo-core's test {@code Await} (it is
 * to be replaced by the shared test-support one): a reply or state that never comes fails the
 * test within a bound instead of hanging the build, and no test decides an order by sleeping.
 */
final class Await {
    /** The default bound, generous: it proves "no hang", it is not a speed requirement. */
    static final long SECONDS = 20;

    private Await() { }

    /** Waits at most {@value #SECONDS} s; returns null on success, else the request's error. */
    static Throwable outcome(CompletableFuture<?> f, String what) throws InterruptedException {
        return outcome(f, SECONDS, what, () -> "");
    }

    /**
     * Waits at most {@code seconds}; returns null on success, else the request's error (the
     * cause). No answer in time is an AssertionError naming {@code what}, followed by
     * {@code state} when it says something.
     */
    static Throwable outcome(CompletableFuture<?> f, long seconds, String what, Supplier<String> state)
            throws InterruptedException {
        Throwable error = null;
        try {
            f.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            error = e.getCause();
        } catch (TimeoutException e) {
            String more = state.get();
            String suffix = more == null || more.isEmpty() ? "" : "; " + more;
            throw new AssertionError(what + ": no answer within " + seconds + " s (a request left waiting forever)" + suffix, e);
        }
        return error;
    }

    /**
     * Waits until {@code condition} holds, looking every millisecond, at most {@code seconds};
     * then fails with {@code what} (a state that never came is a failure, not a hang).
     */
    static void until(BooleanSupplier condition, long seconds, Supplier<String> what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        for (;;) {
            if (condition.getAsBoolean()) {
                return;
            }
            if (end - System.nanoTime() < 0) {
                throw new AssertionError(what.get() + " (not within " + seconds + " s)");
            }
            TimeUnit.MILLISECONDS.sleep(1);
        }
    }
}
