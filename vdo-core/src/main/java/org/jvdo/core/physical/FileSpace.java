package org.jvdo.core.physical;


import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.LongLong;

import java.io.IOException;
import java.nio.file.Path;
import java.util.logging.Level;

/**
 * Allocates file space for real with libc's {@code posix_fallocate} (through jnr-ffi), so that
 * later writes into the range cannot fail with ENOSPC: the pool file is sparse, and without this
 * a write into a hole needs new space from the filesystem at the moment it is written. glibc
 * falls back to writing zeros into holes only (never over data) where the filesystem has no
 * {@code fallocate}. Measured on ext4: 128 MiB in about 10 ms, against about 400 ms for writing
 * zeros; on tmpfs both take about 70 ms.
 */
public final class FileSpace {
    /** The libc calls used (Linux x86-64 / aarch64: off_t is 64 bits). */
    public interface LibC {
        int open(String path, int flags);

        int close(int fd);

        int posix_fallocate(int fd, @LongLong long offset, @LongLong long len);
    }

    public static final int O_WRONLY = 1;
    public static final int ENOSPC = 28;
    public static final int EDQUOT = 122;
    public static final int EFBIG = 27;

    private static volatile LibC libc;
    private static volatile String unavailable;

    private FileSpace() { }

    private static LibC libc() {
        LibC l = libc;
        if (l != null || unavailable != null) return l;
        synchronized (FileSpace.class) {
            if (libc == null && unavailable == null) {
                try {
                    libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
                } catch (Throwable t) {
                    unavailable = t.toString();
                    java.util.logging.Logger.getLogger("org.jvdo.core").log(Level.WARNING, "posix_fallocate unavailable (" + t + "): pool file space is not reserved ahead;"
                            + " a full filesystem is then met by the data writes themselves");
                }
            }
            return libc;
        }
    }

    /**
     * Allocates bytes {@code [offset, offset + length)} of {@code file}. Returns false when the
     * platform call is unavailable (nothing reserved); throws an IOException whose message says
     * "No space left on device" (or "Disk quota exceeded") when the filesystem is full, so callers
     * can tell it from other errors ({@link org.jvdo.journal.StorageErrors#isNoSpace}).
     */
    public static boolean allocate(Path file, long offset, long length) throws IOException {
        if (length <= 0) return true;
        LibC l = libc();
        if (l == null) return false;
        int fd = l.open(file.toString(), O_WRONLY);
        if (fd < 0) throw new IOException("cannot open " + file + " to reserve space (errno " + jnr.ffi.LastError.getLastError(jnr.ffi.Runtime.getRuntime(l)) + ")");
        try {
            int rc = l.posix_fallocate(fd, offset, length);
            if (rc == 0) return true;
            String what = "posix_fallocate of " + length + " bytes at " + offset + " in " + file;
            if (rc == ENOSPC) throw new IOException(org.jvdo.journal.StorageErrors.NO_SPACE + " (" + what + ")");
            if (rc == EDQUOT) throw new IOException(org.jvdo.journal.StorageErrors.QUOTA + " (" + what + ")");
            if (rc == EFBIG) throw new IOException("File too large (" + what + ")");
            if (rc == 95 || rc == 22) return false; // EOPNOTSUPP / EINVAL: the filesystem cannot, nothing reserved
            throw new IOException(what + " failed with errno " + rc);
        } finally {
            l.close(fd);
        }
    }
}
