package org.jvdo.packer;

/**
 * Thrown when a 4 KiB block that should hold a {@link PackedBlock} fails validation.
 *
 * <p>It exists so that a reader can tell "this physical block is damaged or was never a packed
 * block" apart from programming errors ({@link IllegalArgumentException}) and I/O failures: the
 * block map pointed at a compressed slot, but the bytes on disk cannot be trusted. The message
 * names the exact check that failed (bad magic, unsupported version, checksum mismatch, bad
 * fragment count, slot out of range, fragment sizes too large) so that it can be logged as-is.
 *
 * <p>It is unchecked because callers almost never recover locally; the request fails with a
 * media error.
 */
public final class CorruptPackedBlockException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message the precise reason the block was rejected
     */
    public CorruptPackedBlockException(String message) {
        super(message);
    }
}
