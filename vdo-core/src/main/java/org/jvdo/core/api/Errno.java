package org.jvdo.core.api;

/** POSIX error numbers that protocol layers understand; values as in Linux errno.h. */
public enum Errno {
    EPERM(1), ENOENT(2), EIO(5), EBUSY(16), ENOMEM(12), EEXIST(17), EINVAL(22), ENOSPC(28), EROFS(30), EDQUOT(122), EOVERFLOW(75), ESHUTDOWN(108), ENOTSUP(95);

    public final int code;

    Errno(int code) { this.code = code; }
}
