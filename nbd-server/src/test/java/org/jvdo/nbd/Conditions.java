package org.jvdo.nbd;

import java.util.function.BooleanSupplier;
import org.jvdo.testsupport.Await;
import java.util.function.Supplier;

/**
 * Adapters so {@link Await#until} can wait on conditions and messages that do I/O (read a
 * process's output, send a request): a checked exception in one fails the wait at once,
 * wrapped in an unchecked exception, instead of being swallowed. (Where a test may throw,
 * {@link Await#until(Await.Check, long, long, Await.Text)} takes these shapes directly.)
 */
final class Conditions {
    private Conditions() { }

    static BooleanSupplier checked(Await.Check c) {
        return () -> {
            try {
                return c.holds();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    static Supplier<String> text(Await.Text t) {
        return () -> {
            try {
                return t.get();
            } catch (Exception e) {
                return "(no message: " + e + ")";
            }
        };
    }
}
