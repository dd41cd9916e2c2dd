package org.jvdo.core.logical;

/**
 * A block-map entry packed in a long: mapping state in the top byte, PBN in the low 48 bits.
 *
 * <p>States: {@link #UNMAPPED} (never written or trimmed: a hole), {@link #ZERO} (written with
 * zeros: no storage), {@link #RAW} (an uncompressed 4 KiB block), and packed slot 0..13
 * ({@code PACKED_BASE + slot}: a fragment inside a packed block). The all-zero long is
 * UNMAPPED, so a never-written (sparse) block-map page reads as all holes.
 */
public final class Mapping {
    public static final int UNMAPPED = 0;
    public static final int ZERO = 1;
    public static final int RAW = 2;
    public static final int PACKED_BASE = 16;
    public static final int MAX_SLOTS = 14;
    public static final long PBN_MASK = (1L << 48) - 1;

    public static final long UNMAPPED_ENTRY = 0L;
    public static final long ZERO_ENTRY = ((long) ZERO) << 56;

    private Mapping() { }

    public static long raw(long pbn) { return (((long) RAW) << 56) | (pbn & PBN_MASK); }

    public static long packed(long pbn, int slot) {
        if (slot < 0 || slot >= MAX_SLOTS) throw new IllegalArgumentException("slot " + slot);
        return (((long) (PACKED_BASE + slot)) << 56) | (pbn & PBN_MASK);
    }

    public static int state(long m) { return (int) (m >>> 56); }

    public static long pbn(long m) { return m & PBN_MASK; }

    public static boolean isPacked(long m) { int s = state(m); return s >= PACKED_BASE && s < PACKED_BASE + MAX_SLOTS; }

    public static int slot(long m) { return state(m) - PACKED_BASE; }

    /** True when the entry references a physical block (raw or packed). */
    public static boolean hasBlock(long m) { int s = state(m); return s == RAW || isPacked(m); }

    /** True for states this version understands; anything else is corruption. */
    public static boolean isValid(long m) {
        int s = state(m);
        if (s == UNMAPPED || s == ZERO) return pbn(m) == 0 && (m & 0x00FF_0000_0000_0000L) == 0;
        return (s == RAW || isPacked(m)) && (m & 0x00FF_0000_0000_0000L) == 0;
    }

    public static String describe(long m) {
        int s = state(m);
        if (s == UNMAPPED) return "unmapped";
        if (s == ZERO) return "zero";
        if (s == RAW) return "raw@" + pbn(m);
        if (isPacked(m)) return "packed@" + pbn(m) + "#" + slot(m);
        return String.format("invalid(0x%016x)", m);
    }
}
