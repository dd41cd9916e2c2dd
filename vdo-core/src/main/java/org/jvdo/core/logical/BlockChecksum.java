package org.jvdo.core.logical;

import org.jvdo.core.api.BlockStore;

import net.openhft.hashing.LongTupleHashFunction;

/**
 * The end-to-end checksum of a block's uncompressed content: the low 32 bits of the first half
 * of its XXH3-128 fingerprint. The write path has that fingerprint already (it is the dedup
 * key), so storing it costs nothing; a read (and a read-modify-write, and {@code jvdo check})
 * hashes what it decoded and compares. It is stored in the block-map entry (and the journal
 * entry that set it), so raw blocks, packed fragments and deduplicated blocks are all covered.
 */
public final class BlockChecksum {
    private static final LongTupleHashFunction XX128 = LongTupleHashFunction.xx128();
    private static final ThreadLocal<long[]> HASH = ThreadLocal.withInitial(() -> new long[2]);

    private BlockChecksum() { }

    /** The checksum of a block whose XXH3-128 fingerprint is {@code hash}. */
    public static int of(long[] hash) { return (int) hash[0]; }

    /** Hashes the 4096 bytes of {@code data} at {@code off}. */
    public static int compute(byte[] data, int off) {
        long[] h = HASH.get();
        XX128.hashBytes(data, off, BlockStore.BLOCK_SIZE, h);
        return of(h);
    }
}
