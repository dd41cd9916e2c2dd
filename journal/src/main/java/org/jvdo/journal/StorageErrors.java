package org.jvdo.journal;

/**
 * Tells a full filesystem apart from other storage failures. Running out of space (ENOSPC, or
 * EDQUOT for a quota) is not damage: nothing that was durable is lost and the same write may
 * succeed once space is freed, so callers retry it instead of treating the store as broken.
 * Java reports both only through the exception message ("No space left on device", "Disk quota
 * exceeded"), so that is what is matched, along the cause chain.
 */
public final class StorageErrors {
    private StorageErrors() { }

    /** The message of an IOException for ENOSPC (as the JDK and libc word it). */
    public static final String NO_SPACE = "No space left on device";
    /** The message of an IOException for EDQUOT. */
    public static final String QUOTA = "Disk quota exceeded";

    /** True when {@code t} or one of its causes reports a full filesystem or an exceeded quota. */
    public static boolean isNoSpace(Throwable t) {
        int depth = 0;
        for (Throwable c = t; c != null && depth < 16; c = c.getCause(), depth++) {
            String m = c.getMessage();
            if (m != null && (m.contains(NO_SPACE) || m.contains(QUOTA))) return true;
        }
        return false;
    }
}
