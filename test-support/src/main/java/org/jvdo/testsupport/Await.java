package org.jvdo.testsupport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Bounded waits for tests: a request that never answers fails the test instead of hanging the build. */
public final class Await {
    /** The default bound, generous: it proves "no hang", it is not a speed requirement. */
    public static final long SECONDS = 20;
    /** The bound of {@link #value}: whole batches of engine requests, on a shared build machine. */
    public static final long VALUE_SECONDS = 60;

    private Await() { }

    /** Waits at most {@value #SECONDS} s; returns null on success, else the request's error. */
    public static Throwable outcome(CompletableFuture<?> f, String what) throws InterruptedException {
        return outcome(f, SECONDS, what, () -> "");
    }

    /**
     * Waits at most {@code seconds}; returns null on success, else the request's error (the
     * cause). No answer in time is an AssertionError naming {@code what}, followed by
     * {@code state} (e.g. the engine's queues) when it says something.
     */
    public static Throwable outcome(CompletableFuture<?> f, long seconds, String what, Supplier<String> state) throws InterruptedException {
        try {
            f.get(seconds, TimeUnit.SECONDS);
            return null;
        } catch (TimeoutException e) {
            String s = state.get();
            throw new AssertionError(what + ": no answer within " + seconds + " s (a request left waiting forever)"
                    + (s == null || s.isEmpty() ? "" : "; " + s), e);
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    /**
     * Waits until {@code condition} holds, looking every millisecond, at most {@code seconds};
     * then fails with {@code what} (a state that never came is a failure, not a hang).
     */
    public static void until(BooleanSupplier condition, long seconds, Supplier<String> what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError(what.get() + " (not within " + seconds + " s)");
            Thread.sleep(1);
        }
    }

    /** A condition that may throw: it does I/O (asks a server, reads a file). */
    @FunctionalInterface
    public interface Check {
        boolean holds() throws Exception;
    }

    /** A message that may throw, like the condition it describes. */
    @FunctionalInterface
    public interface Text {
        String get() throws Exception;
    }

    /**
     * Waits until {@code condition} holds, asking every {@code everyMillis} ms (a condition that
     * costs, such as an HTTP request), at most {@code seconds}; then fails with {@code seen}, asked
     * then (what was seen). What the condition or the message throws ends the wait, as is.
     */
    public static void until(Check condition, long seconds, long everyMillis, Text seen) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) throw new AssertionError(seen.get() + " (not within " + seconds + " s)");
            Thread.sleep(everyMillis);
        }
    }

    /**
     * The value of {@code f}, waiting at most {@value #VALUE_SECONDS} s; the request's error is
     * thrown as is (ExecutionException); no answer in time is an AssertionError naming {@code what}.
     */
    public static <T> T value(CompletableFuture<T> f, String what) throws Exception {
        try {
            return f.get(VALUE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(what + ": not completed within " + VALUE_SECONDS + " s", e);
        }
    }
}
