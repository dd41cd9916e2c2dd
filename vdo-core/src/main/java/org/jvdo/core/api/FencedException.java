package org.jvdo.core.api;

import java.io.IOException;

/** A write to a pool refused by its {@link WriteFence}: another member owns the pool now, or this member's lease lapsed. */
public final class FencedException extends IOException {
    public FencedException(String message) { super(message); }
}
