package org.jvdo.core.api;

/**
 * An engine failure with the POSIX error a client should see, and in its message the volume,
 * block and operation that failed.
 */
public class VdoException extends RuntimeException {
    private final Errno errno;

    public VdoException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public VdoException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public Errno errno() { return errno; }

    /** The errno of {@code t} or of the first VdoException among its causes; EIO otherwise. */
    public static Errno errnoOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof VdoException v) return v.errno();
        }
        return Errno.EIO;
    }
}
