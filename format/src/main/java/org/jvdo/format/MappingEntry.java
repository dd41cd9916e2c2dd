package org.jvdo.format;

/**
 * A block-map entry: a u64 with the mapping state in the top byte, the PBN in the low 48 bits,
 * and the 8 bits between them zero (format 4.0: a foreign mapping's pool index and slot parity).
 *
 * <p>States: {@link #UNMAPPED} (never written or trimmed: a hole), {@link #ZERO} (written with
 * zeros: no storage), {@link #RAW} (an uncompressed 4 KiB block), and packed slot 0..13
 * ({@code PACKED_BASE + slot}: a fragment inside a packed block). The all-zero u64 is UNMAPPED,
 * so a never-written page reads as all holes; unmapped and zero entries have PBN 0. Any other
 * state is corruption.
 */
public final class MappingEntry {
    public static final int UNMAPPED = 0;
    public static final int ZERO = 1;
    public static final int RAW = 2;
    public static final int PACKED_BASE = 16;
    /** Packed slots 0..13: the fragments of a packed block ({@link PackedBlockLayout#MAX_FRAGMENTS}). */
    public static final int MAX_SLOTS = 14;
    public static final int STATE_SHIFT = 56;
    public static final int PBN_BITS = 48;
    public static final long PBN_MASK = (1L << PBN_BITS) - 1;
    /** The bits between the PBN and the state: always zero. */
    public static final long RESERVED_MASK = ~PBN_MASK & ((1L << STATE_SHIFT) - 1);

    /**
     * Format 4.0, a cluster member's pool: a block of another pool ({@code docs/cluster.md}, "Dedup
     * across members"). States {@link #FOREIGN_RAW} and {@code FOREIGN_PACKED_BASE + slot}; the
     * PBN is the other pool's; bits 48..53 hold the index k (1..{@value #MAX_FOREIGN_POOLS}) of
     * that pool in this pool's foreign pool table, bit 54 the parity of the reference slot the
     * other pool holds for this LBN, bit 55 is zero.
     */
    public static final int FOREIGN_RAW = 3;
    public static final int FOREIGN_PACKED_BASE = 32;
    public static final int MAX_FOREIGN_POOLS = 63;
    public static final int FOREIGN_SHIFT = PBN_BITS;

    public static final long UNMAPPED_ENTRY = 0L;
    public static final long ZERO_ENTRY = ((long) ZERO) << STATE_SHIFT;

    static {
        if (MAX_SLOTS != PackedBlockLayout.MAX_FRAGMENTS || RESERVED_MASK != 0x00FF_0000_0000_0000L) {
            throw new AssertionError("mapping entry layout does not add up");
        }
    }

    private MappingEntry() { }

    public static long raw(long pbn) { return (((long) RAW) << STATE_SHIFT) | (pbn & PBN_MASK); }

    public static long packed(long pbn, int slot) {
        if (slot < 0 || slot >= MAX_SLOTS) throw new IllegalArgumentException("slot " + slot);
        return (((long) (PACKED_BASE + slot)) << STATE_SHIFT) | (pbn & PBN_MASK);
    }

    public static int state(long m) { return (int) (m >>> STATE_SHIFT); }

    public static long pbn(long m) { return m & PBN_MASK; }

    public static boolean isPacked(long m) { int s = state(m); return s >= PACKED_BASE && s < PACKED_BASE + MAX_SLOTS; }

    public static int slot(long m) { return state(m) - PACKED_BASE; }

    /** True when the entry references a physical block of this pool (raw or packed; not a foreign one). */
    public static boolean hasBlock(long m) { int s = state(m); return s == RAW || isPacked(m); }

    /** True for a block of another pool (format 4.0). */
    public static boolean isForeign(long m) {
        int s = state(m);
        return s == FOREIGN_RAW || (s >= FOREIGN_PACKED_BASE && s < FOREIGN_PACKED_BASE + MAX_SLOTS);
    }

    /** Local mapping {@code local} (raw or packed) of foreign pool {@code k}, reference slot parity {@code parity}. */
    public static long foreign(long local, int k, int parity) {
        if (k < 1 || k > MAX_FOREIGN_POOLS) throw new IllegalArgumentException("foreign pool index " + k);
        int s = state(local);
        int fs;
        if (s == RAW) fs = FOREIGN_RAW;
        else if (isPacked(local)) fs = FOREIGN_PACKED_BASE + slot(local);
        else throw new IllegalArgumentException("not a block mapping: 0x" + Long.toHexString(local));
        return ((long) fs << STATE_SHIFT) | ((long) (parity & 1) << (FOREIGN_SHIFT + 6)) | ((long) k << FOREIGN_SHIFT) | pbn(local);
    }

    /** The foreign pool index k of a foreign mapping. */
    public static int foreignPool(long m) { return (int) ((m >>> FOREIGN_SHIFT) & 0x3F); }

    /** The reference slot parity of a foreign mapping. */
    public static int foreignParity(long m) { return (int) ((m >>> (FOREIGN_SHIFT + 6)) & 1); }

    /** The mapping a foreign mapping designates inside its own pool (raw or packed). */
    public static long local(long m) {
        int s = state(m);
        if (s == FOREIGN_RAW) return raw(pbn(m));
        return packed(pbn(m), s - FOREIGN_PACKED_BASE);
    }

    /** True for the entries this format defines; anything else is corruption. */
    public static boolean isValid(long m) {
        int s = state(m);
        if (isForeign(m)) return foreignPool(m) >= 1 && (m & (1L << (FOREIGN_SHIFT + 7))) == 0;
        if (s == UNMAPPED || s == ZERO) return pbn(m) == 0 && (m & RESERVED_MASK) == 0;
        return (s == RAW || isPacked(m)) && (m & RESERVED_MASK) == 0;
    }
}
