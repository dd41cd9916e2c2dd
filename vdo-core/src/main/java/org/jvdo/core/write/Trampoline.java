package org.jvdo.core.write;

import java.util.ArrayDeque;
import java.util.logging.Level;

/**
 * Runs continuations iteratively instead of recursively. Handing a vio on (to the next writer
 * of an LBN, to a request waiting for a free vio, to writers sharing a hash lock) happens inside
 * the previous vio's completion; done by direct calls, a long line of waiters would nest one
 * stack frame set per vio until the stack overflows. Here a handoff made while a continuation is
 * already running on this thread is queued and run by the outermost one.
 */
final class Trampoline {
    private static final ThreadLocal<ArrayDeque<Runnable>> QUEUE = ThreadLocal.withInitial(ArrayDeque::new);
    private static final ThreadLocal<boolean[]> ACTIVE = ThreadLocal.withInitial(() -> new boolean[1]);

    private Trampoline() { }

    static void run(Runnable r) {
        boolean[] active = ACTIVE.get();
        ArrayDeque<Runnable> q = QUEUE.get();
        if (active[0]) { q.addLast(r); return; }
        active[0] = true;
        try {
            for (Runnable next = r; next != null; next = q.pollFirst()) {
                try {
                    next.run();
                } catch (Throwable t) {
                    java.util.logging.Logger.getLogger("org.jvdo.core").log(Level.SEVERE, "continuation failed", t);
                }
            }
        } finally {
            active[0] = false;
        }
    }
}
