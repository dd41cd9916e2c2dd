package org.jvdo.nbd;

import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Adapters so {@link Await#until} can wait on conditions and messages that do I/O (read a
 * process's output, send a request): a checked exception in one fails the wait at once,
 * wrapped in an unchecked exception, instead of being swallowed.
 */
final class Conditions {
    private Conditions() { }

    /** A condition that may throw. */
    interface Check {
        boolean holds() throws Exception;
    }

    /** A message that may throw. */
    interface Text {
        String get() throws Exception;
    }

    static BooleanSupplier checked(Check c) {
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

    static Supplier<String> text(Text t) {
        return () -> {
            try {
                return t.get();
            } catch (Exception e) {
                return "(no message: " + e + ")";
            }
        };
    }
}
