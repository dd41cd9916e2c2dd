package org.jvdo.core;

import java.nio.ByteBuffer;
import org.jvdo.testsupport.Await;

/** Volume helpers for the engine tests. */
final class Volumes {
    private Volumes() { }

    /** Reads {@code length} bytes at {@code offset}, bounded by {@link Await#value}; a short read fails. */
    static byte[] read(Volume v, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        Await.value(v.read(offset, b), "read of " + length + " bytes at " + offset);
        if (b.hasRemaining()) throw new AssertionError("read of " + length + " at " + offset + " left " + b.remaining() + " bytes unfilled");
        return b.array();
    }
}
