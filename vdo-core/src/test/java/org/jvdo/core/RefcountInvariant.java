package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * The reference-count invariant, checked around every vdo-core test (registered for all of them
 * by auto-detection: META-INF/services and junit-platform.properties): every pool a test opens
 * must, when it closes cleanly and at the end of the test if still open, have reference counts
 * equal to what its block maps reference ({@link Pool#verifyReferenceCounts()}).
 *
 * <p>Through {@link PoolObserver} it learns of each pool opened; at {@link Pool#close()} (quiet,
 * before the checkpoint) it records the differences; after each test (and after the class, for
 * pools of {@code @BeforeAll}) it quiesces and checks the pools still open, skipping read-only and
 * crashed ones, then fails the test naming each pool and its differences. Tests that break the
 * invariant on purpose opt out with {@link SkipRefcountInvariant}.
 */
public final class RefcountInvariant implements PoolObserver, BeforeAllCallback, BeforeEachCallback, AfterEachCallback,
        AfterAllCallback {
    /** Differences listed per pool in a failure; the count says how many there were. */
    private static final int SHOWN = 10;

    private final Set<Pool> open = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<String> violations = new ArrayList<>();
    /** The pools open when the current test started (the class's); the others are the test's own. */
    private final Set<Pool> openBefore = Collections.newSetFromMap(new IdentityHashMap<>());

    @Override
    public synchronized void opened(Pool pool) {
        open.add(pool);
    }

    @Override
    public void closing(Pool pool) {
        synchronized (this) {
            if (!open.remove(pool)) return; // opened while the hook was off (an opted-out test)
        }
        if (pool.isReadOnly()) return;
        check(pool, "at close");
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        PoolObserver.set(skipped(context) ? null : this);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        synchronized (this) {
            openBefore.clear();
            openBefore.addAll(open);
        }
        PoolObserver.set(skipped(context) ? null : this);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        try {
            if (!skipped(context)) finish(context);
        } finally {
            synchronized (this) {
                open.retainAll(openBefore); // a pool the test left open has been checked once: enough
                violations.clear();
            }
            PoolObserver.set(this);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        finish(context);
        PoolObserver.set(null);
    }

    private static boolean skipped(ExtensionContext context) {
        Optional<SkipRefcountInvariant> skip = context.getTestMethod()
                .flatMap(m -> AnnotationSupport.findAnnotation(m, SkipRefcountInvariant.class))
                .or(() -> context.getTestClass().flatMap(c -> AnnotationSupport.findAnnotation(c, SkipRefcountInvariant.class)));
        if (skip.isEmpty()) return false;
        String[] cases = skip.get().cases();
        if (cases.length == 0) return true;
        String name = context.getDisplayName();
        for (String c : cases) if (name.contains(c)) return true;
        return false;
    }

    /** Checks the pools still open, then fails with everything recorded since the last check. */
    private void finish(ExtensionContext context) {
        List<Pool> still;
        synchronized (this) {
            still = new ArrayList<>(open);
        }
        for (Pool p : still) {
            if (p.isReadOnly()) continue;
            try {
                p.flush().get(60, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof VdoException v && v.errno() == Errno.ESHUTDOWN) { // crashed, or closed while the hook was off
                    forget(p);
                    continue;
                }
                if (p.isReadOnly()) continue; // the flush found a fault and stopped the pool
                record(p, "still open: quiesce failed: " + e.getCause());
                continue;
            } catch (Exception e) {
                record(p, "still open: quiesce failed: " + e);
                continue;
            }
            check(p, "still open after the test");
        }
        List<String> found;
        synchronized (this) {
            found = new ArrayList<>(violations);
            violations.clear();
        }
        if (!found.isEmpty()) {
            throw new AssertionError("reference counts differ from the block maps (" + context.getDisplayName()
                    + "; opt out only with @SkipRefcountInvariant(\"why\")):\n" + String.join("\n", found));
        }
    }

    private void check(Pool pool, String when) {
        try {
            List<String> diffs = pool.verifyReferenceCounts();
            if (diffs.isEmpty()) return;
            StringBuilder s = new StringBuilder(when + ": " + diffs.size() + " difference(s)");
            for (String d : diffs.subList(0, Math.min(SHOWN, diffs.size()))) s.append("\n    ").append(d);
            if (diffs.size() > SHOWN) s.append("\n    ...");
            record(pool, s.toString());
        } catch (IOException | RuntimeException e) {
            record(pool, when + ": could not verify: " + e);
        }
    }

    private synchronized void record(Pool pool, String what) {
        violations.add("  pool " + pool.directory() + " " + what);
    }

    private synchronized void forget(Pool pool) {
        open.remove(pool);
    }
}
