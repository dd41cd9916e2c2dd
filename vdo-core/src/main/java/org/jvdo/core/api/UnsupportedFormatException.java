package org.jvdo.core.api;

/** A pool written by a format version this build does not read. */
public final class UnsupportedFormatException extends CorruptPoolException {
    public UnsupportedFormatException(String message) { super(message); }
}
