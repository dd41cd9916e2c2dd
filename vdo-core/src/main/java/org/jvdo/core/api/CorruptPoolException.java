package org.jvdo.core.api;

/** On-disk state that fails validation; the message names the file and what is wrong. */
public class CorruptPoolException extends VdoException {
    public CorruptPoolException(String message) { super(Errno.EIO, message); }
}
