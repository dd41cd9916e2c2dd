package org.jvdo.format;

import java.io.DataOutput;
import java.io.IOException;

/**
 * The saved dedup index, {@code index.jvdo}: big-endian (Java's {@code DataOutputStream}),
 * unlike {@code pool.jvdo}. Version 2 (written today):
 * <pre>
 *   magic u64 0x58444E494F44564A (the file starts with the bytes "XDNIODVJ")
 *   version u32 (2)   mode u32 (0 dense, 1 sparse)   key bits u32 (1..64)   count u64 (entries)
 *   count entries: key u64 (the fingerprint's high 64 bits; only the top "key bits" are known,
 *                  the others are 0), location u64,
 *                  sparse only: volume u32, LBN u64 (where the block was written)
 *   end marker u64 (-1)
 *   CRC32C u32 of the entries
 * </pre>
 * Version 1 (still read, converted to a dense index):
 * <pre>
 *   magic u64   version u32 (1)   capacity u32 (table slots)   count u64 (entries)
 *   count entries: key u64 (the fingerprint's high 64 bits, never 0), location u64
 *   end marker u64 (-1)   CRC32C u32 of the entries
 * </pre>
 * A location is {@code pbn << 4 | state}: a PBN below 2^{@value #PBN_BITS} and a 4-bit state,
 * {@value #RAW} for a raw block, {@value #PACKED_BASE}..15 for packed slot 0..13. The file is
 * advice only: a missing or damaged one means an empty index.
 */
public final class IndexFileLayout {
    public static final long MAGIC = 0x58444E494F44564AL; // "JVDOINDX"
    /** The version written today. */
    public static final int VERSION = 2;
    /** The first version (dense only, full 64-bit keys): still read. */
    public static final int VERSION_1 = 1;
    /** Mode codes of a version-2 file. */
    public static final int MODE_DENSE = 0;
    public static final int MODE_SPARSE = 1;
    public static final long END_MARKER = -1L;

    public static final int STATE_BITS = 4;
    public static final long STATE_MASK = (1L << STATE_BITS) - 1;
    /** Location state of a raw block; 0 is never a location. */
    public static final int RAW = 1;
    /** Location state of packed slot 0; slot {@code n} is {@code PACKED_BASE + n}. */
    public static final int PACKED_BASE = 2;
    public static final int PBN_BITS = 36;
    public static final long MAX_PBN = (1L << PBN_BITS) - 1;

    static {
        if (PACKED_BASE + MappingEntry.MAX_SLOTS - 1 != STATE_MASK) throw new AssertionError("index location states do not add up");
    }

    private IndexFileLayout() { }

    /** The location of a raw or packed {@link MappingEntry mapping}, or -1 when it cannot be stored (no block, or its PBN is too large). */
    public static long location(long mapping) {
        long pbn = MappingEntry.pbn(mapping);
        if (pbn > MAX_PBN) return -1;
        int state;
        if (MappingEntry.state(mapping) == MappingEntry.RAW) state = RAW;
        else if (MappingEntry.isPacked(mapping)) state = PACKED_BASE + MappingEntry.slot(mapping);
        else return -1;
        return (pbn << STATE_BITS) | state;
    }

    /** The mapping a valid location stands for. */
    public static long mapping(long location) {
        long pbn = location >>> STATE_BITS;
        int state = (int) (location & STATE_MASK);
        return state == RAW ? MappingEntry.raw(pbn) : MappingEntry.packed(pbn, state - PACKED_BASE);
    }

    /** Whether a stored entry is one this format can hold. */
    public static boolean isValidEntry(long key, long location) {
        return key != 0 && (location & STATE_MASK) != 0;
    }

    /** The version-1 header: magic, version 1, capacity, entry count. */
    public static void writeHeaderV1(DataOutput out, int capacity, long count) throws IOException {
        out.writeLong(MAGIC);
        out.writeInt(VERSION_1);
        out.writeInt(capacity);
        out.writeLong(count);
    }

    /** The version-2 header: magic, version 2, mode, key bits, entry count. */
    public static void writeHeader(DataOutput out, int mode, int keyBits, long count) throws IOException {
        if (mode != MODE_DENSE && mode != MODE_SPARSE) throw new IllegalArgumentException("index mode " + mode);
        if (keyBits < 1 || keyBits > 64) throw new IllegalArgumentException("key bits " + keyBits);
        out.writeLong(MAGIC);
        out.writeInt(VERSION);
        out.writeInt(mode);
        out.writeInt(keyBits);
        out.writeLong(count);
    }

    /** The name of a mode code, for messages. */
    public static String modeName(int mode) {
        return mode == MODE_DENSE ? "dense" : mode == MODE_SPARSE ? "sparse" : "mode " + mode;
    }

    /** The sparse part of an entry (after key and location): the volume id and LBN of the write. */
    public static void writeWhere(DataOutput body, int volume, long lbn) throws IOException {
        body.writeInt(volume);
        body.writeLong(lbn);
    }

    /** One entry (into the checksummed body). */
    public static void writeEntry(DataOutput body, long key, long location) throws IOException {
        body.writeLong(key);
        body.writeLong(location);
    }

    /** After the entries: the end marker and the entries' CRC32C. */
    public static void writeTrailer(DataOutput out, int crc) throws IOException {
        out.writeLong(END_MARKER);
        out.writeInt(crc);
    }
}
