package org.jvdo.core.read;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.compress.FragmentCodec;
import org.jvdo.core.logical.BlockChecksum;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.packer.PackedBlock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * Reading what a mapping designates: a raw block, or one fragment of a packed block (header
 * validated, only that fragment decompressed), and the end-to-end check of what was read
 * against the checksum stored with the mapping. Used by the read path, by read-modify-writes
 * and by dedupe verification (which compares bytes instead).
 */
public final class StoredBlocks {
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[4096]);

    private final BlockStore store;
    /** Reads (and read-modify-writes) whose data did not match its stored checksum. */
    private final LongAdder checksumErrors = new LongAdder();

    /** The pools foreign mappings name (null: a pool without a foreign pool table, or a foreign pool's own reads). */
    private volatile ForeignPools foreign;

    public StoredBlocks(BlockStore store) { this.store = store; }

    /** Where foreign mappings are read from (format 4.0). */
    public void foreignPools(ForeignPools f) { this.foreign = f; }

    public long checksumErrors() { return checksumErrors.sum(); }

    BlockStore store() { return store; }

    /**
     * The end-to-end check: what was read (and decoded) for {@code lbn} must hash to the checksum
     * stored with its mapping, or the read fails with EIO naming volume, LBN and block (and
     * counts a {@code checksum_errors}). Nothing else in the file proves a data block right.
     */
    public void verify(LogicalVolume vol, long lbn, long m, int expected, byte[] data, int off) {
        int got = BlockChecksum.compute(data, off);
        if (got == expected) return;
        checksumErrors.increment();
        if (Mapping.isForeign(m)) {
            throw new VdoException(Errno.EIO, String.format("volume %s lbn %d: block %s of another pool fails its checksum (stored 0x%08x, read 0x%08x)",
                    vol.name(), lbn, Mapping.describe(m), expected, got));
        }
        throw new VdoException(Errno.EIO, String.format("volume %s lbn %d: %s block %d%s fails its checksum (stored 0x%08x, read 0x%08x)",
                vol.name(), lbn, Mapping.isPacked(m) ? "packed" : "raw", Mapping.pbn(m),
                Mapping.isPacked(m) ? " slot " + Mapping.slot(m) : "", expected, got));
    }

    /** The content {@code lbn}'s mapping {@code m} designates, verified against its checksum. */
    public void readStored(LogicalVolume vol, long lbn, long m, int checksum, byte[] dst, String op) throws IOException {
        readUnverified(vol, m, dst, op);
        if (Mapping.hasBlock(m) || Mapping.isForeign(m)) verify(vol, lbn, m, checksum, dst, 0);
    }

    /** The content mapping {@code m} designates, as stored. */
    public void readUnverified(LogicalVolume vol, long m, byte[] dst, String op) throws IOException {
        int state = Mapping.state(m);
        if (state == Mapping.UNMAPPED || state == Mapping.ZERO) { Arrays.fill(dst, (byte) 0); return; }
        if (Mapping.isForeign(m)) {
            ForeignPools f = foreign;
            if (f == null || !Mapping.isValid(m)) {
                throw new CorruptPoolException("volume " + vol.name() + ": foreign mapping " + Mapping.describe(m) + " in a pool without that foreign pool");
            }
            StoredBlocks other;
            try {
                other = f.blocks(Mapping.foreignPool(m));
            } catch (IOException e) {
                throw new VdoException(Errno.EIO, "volume " + vol.name() + ": " + op + " of " + Mapping.describe(m) + ": pool "
                        + f.folder(Mapping.foreignPool(m)) + " cannot be opened: " + e.getMessage(), e);
            }
            other.readUnverified(vol, Mapping.local(m), dst, op + " (pool " + f.folder(Mapping.foreignPool(m)) + ")");
            return;
        }
        long pbn = Mapping.pbn(m);
        if (state == Mapping.RAW) {
            try {
                store.read(pbn, ByteBuffer.wrap(dst));
            } catch (IOException e) {
                throw new VdoException(Errno.EIO, "volume " + vol.name() + ": " + op + " of block " + pbn + " failed: " + e.getMessage(), e);
            }
            return;
        }
        if (!Mapping.isPacked(m)) throw new CorruptPoolException("volume " + vol.name() + ": invalid mapping " + Mapping.describe(m));
        byte[] block = SCRATCH.get();
        try {
            store.read(pbn, ByteBuffer.wrap(block));
        } catch (IOException e) {
            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": " + op + " of packed block " + pbn + " failed: " + e.getMessage(), e);
        }
        decodeFragment(vol, m, block, dst);
    }

    /**
     * Decodes packed mapping {@code m}'s fragment from its block's bytes into {@code dst[0..4096)}.
     * The error's context (volume, block, slot) is built only when there is an error.
     */
    static void decodeFragment(LogicalVolume vol, long m, byte[] block, byte[] dst) {
        decodeFragment(vol, m, block, dst, 0);
    }

    /** Decodes {@code m}'s fragment of packed {@code block} into {@code dst[dstOff, dstOff + 4096)}. */
    static void decodeFragment(LogicalVolume vol, long m, byte[] block, byte[] dst, int dstOff) {
        try {
            PackedBlock.Fragment f = PackedBlock.locate(ByteBuffer.wrap(block), Mapping.slot(m));
            FragmentCodec.decompress(f.encoding(), block, f.offset(), f.length(), dst, dstOff, "fragment");
        } catch (RuntimeException e) {
            throw new CorruptPoolException("volume " + vol.name() + ": packed block " + Mapping.pbn(m) + " slot "
                    + Mapping.slot(m) + ": " + e.getMessage());
        }
    }
}
