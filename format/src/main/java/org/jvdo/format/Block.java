package org.jvdo.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/** The unit every structure of {@code pool.jvdo} is laid out in, and helpers all of them use. */
public final class Block {
    /** Bytes in a block (recorded in the super block; the only size supported). */
    public static final int SIZE = 4096;

    private Block() { }

    /** {@code b} itself when it is little-endian, otherwise a little-endian view of it (same content, same indexes). */
    public static ByteBuffer littleEndian(ByteBuffer b) {
        return b.order() == ByteOrder.LITTLE_ENDIAN ? b : b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A zeroed little-endian buffer of one block. */
    public static ByteBuffer allocate() {
        return ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Whether the block at index 0 of {@code b} is all zeros (a hole, never written). */
    public static boolean isZero(ByteBuffer b) {
        ByteBuffer d = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < SIZE; i += 8) if (d.getLong(i) != 0) return false;
        return true;
    }

    /** CRC32C of bytes {@code [from, to)} of the array behind {@code b}. */
    public static int crc32c(ByteBuffer b, int from, int to) {
        CRC32C crc = new CRC32C();
        crc.update(b.array(), from, to - from);
        return (int) crc.getValue();
    }
}
