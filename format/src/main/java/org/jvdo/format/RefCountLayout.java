package org.jvdo.format;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * A slab's reference-count blocks: the first {@link #refBlocksFor} blocks of every slab, before
 * its data blocks. One byte per data block, in data block order: {@value #FREE} free, 1..{@value
 * #MAX_REFS} references; the rest of the last reference block is zero. They are written at a
 * clean close; the super block's refcount CRC ({@link SuperBlockLayout#REFCOUNT_CRC}) is the
 * CRC32C of the first {@code slabDataBlocks} bytes of the reference blocks of every slab in use,
 * in slab order ({@link #update}).
 */
public final class RefCountLayout {
    public static final int FREE = 0;
    /** Most references one block may have; a larger count is never stored. */
    public static final int MAX_REFS = 254;
    /** Bytes of count per data block. */
    public static final int COUNT_SIZE = 1;

    private RefCountLayout() { }

    /** Reference-count blocks of a slab of {@code slabDataBlocks} data blocks. */
    public static int refBlocksFor(int slabDataBlocks) {
        return (slabDataBlocks * COUNT_SIZE + Block.SIZE - 1) / Block.SIZE;
    }

    /**
     * A slab's reference blocks holding {@code counts} (one per data block); a value above
     * {@link #MAX_REFS} (an in-memory marker, such as a block waiting to be freed) is stored as
     * {@link #FREE}.
     */
    public static ByteBuffer encode(byte[] counts, int refBlocks) {
        ByteBuffer b = ByteBuffer.allocate(refBlocks * Block.SIZE);
        for (int i = 0; i < counts.length; i++) b.put(i, Byte.toUnsignedInt(counts[i]) > MAX_REFS ? FREE : counts[i]);
        return b;
    }

    /** Adds the counts of one slab's reference blocks {@code b} ({@code slabDataBlocks} of them) to the refcount CRC. */
    public static void update(CRC32C crc, ByteBuffer b, int slabDataBlocks) {
        crc.update(b.array(), 0, slabDataBlocks * COUNT_SIZE);
    }
}
