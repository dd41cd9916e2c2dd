package org.jvdo.format;

/**
 * A block-map entry: a u64 with the mapping state in the top byte, the PBN in the low 48 bits,
 * and the 8 bits between them zero.
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

    /** True when the entry references a physical block (raw or packed). */
    public static boolean hasBlock(long m) { int s = state(m); return s == RAW || isPacked(m); }

    /** True for the entries this format defines; anything else is corruption. */
    public static boolean isValid(long m) {
        int s = state(m);
        if (s == UNMAPPED || s == ZERO) return pbn(m) == 0 && (m & RESERVED_MASK) == 0;
        return (s == RAW || isPacked(m)) && (m & RESERVED_MASK) == 0;
    }
}
