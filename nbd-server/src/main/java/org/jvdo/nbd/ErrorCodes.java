package org.jvdo.nbd;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

/**
 * The one place where an engine failure ({@link Errno}) becomes what a client sees: an NBD error
 * number in a reply (the NBD spec allows EPERM, EIO, ENOMEM, EINVAL, ENOSPC, EOVERFLOW, ENOTSUP
 * and ESHUTDOWN) and an HTTP status from the admin API. Both switches are exhaustive, so a new
 * errno cannot be forgotten in one of them.
 */
public final class ErrorCodes {
    private ErrorCodes() { }

    /** The NBD error number for a failure (anything not a {@link VdoException} is EIO). */
    public static int nbd(Throwable t) {
        return switch (VdoException.errnoOf(t)) {
            case EPERM, EROFS -> NbdProtocol.EPERM;
            case EIO, EBUSY -> NbdProtocol.EIO;
            case ENOMEM -> NbdProtocol.ENOMEM;
            case EINVAL, ENOENT, EEXIST -> NbdProtocol.EINVAL;
            case ENOSPC, EDQUOT -> NbdProtocol.ENOSPC;   // a full pool or host filesystem; NBD has no EDQUOT
            case EOVERFLOW -> NbdProtocol.EOVERFLOW;
            case ENOTSUP -> NbdProtocol.ENOTSUP;
            case ESHUTDOWN -> NbdProtocol.ESHUTDOWN;
        };
    }

    /** The admin API's HTTP status for a failed request. */
    public static int http(Errno e) {
        return switch (e) {
            case EINVAL, ENOTSUP -> 400;
            case ENOENT -> 404;
            case EEXIST, EBUSY -> 409;
            case ENOSPC, EDQUOT -> 507;
            case EROFS, ESHUTDOWN, EIO -> 503;
            case EPERM, ENOMEM, EOVERFLOW -> 500;
        };
    }
}
