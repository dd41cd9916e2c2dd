package org.jvdo.core.logical;

import org.jvdo.format.MappingEntry;

/**
 * A block-map entry packed in a long: mapping state in the top byte, PBN in the low 48 bits.
 * The bit layout is declared by {@link MappingEntry} (format module); these are its names here.
 *
 * <p>States: {@link #UNMAPPED} (never written or trimmed: a hole), {@link #ZERO} (written with
 * zeros: no storage), {@link #RAW} (an uncompressed 4 KiB block), and packed slot 0..13
 * ({@code PACKED_BASE + slot}: a fragment inside a packed block). The all-zero long is
 * UNMAPPED, so a never-written (sparse) block-map page reads as all holes.
 */
public final class Mapping {
    public static final int UNMAPPED = MappingEntry.UNMAPPED;
    public static final int ZERO = MappingEntry.ZERO;
    public static final int RAW = MappingEntry.RAW;
    public static final int PACKED_BASE = MappingEntry.PACKED_BASE;
    public static final int MAX_SLOTS = MappingEntry.MAX_SLOTS;
    public static final long PBN_MASK = MappingEntry.PBN_MASK;

    public static final long UNMAPPED_ENTRY = MappingEntry.UNMAPPED_ENTRY;
    public static final long ZERO_ENTRY = MappingEntry.ZERO_ENTRY;

    private Mapping() { }

    public static long raw(long pbn) { return MappingEntry.raw(pbn); }

    public static long packed(long pbn, int slot) { return MappingEntry.packed(pbn, slot); }

    public static int state(long m) { return MappingEntry.state(m); }

    public static long pbn(long m) { return MappingEntry.pbn(m); }

    public static boolean isPacked(long m) { return MappingEntry.isPacked(m); }

    public static int slot(long m) { return MappingEntry.slot(m); }

    /** True when the entry references a physical block (raw or packed). */
    public static boolean hasBlock(long m) { return MappingEntry.hasBlock(m); }

    /** True for a block of another pool (format 4.0, a cluster member's pool). */
    public static boolean isForeign(long m) { return MappingEntry.isForeign(m); }

    public static long foreign(long local, int k, int parity) { return MappingEntry.foreign(local, k, parity); }

    public static int foreignPool(long m) { return MappingEntry.foreignPool(m); }

    public static int foreignParity(long m) { return MappingEntry.foreignParity(m); }

    /** What a foreign mapping designates inside its own pool. */
    public static long local(long m) { return MappingEntry.local(m); }

    /** True for states this version understands; anything else is corruption. */
    public static boolean isValid(long m) { return MappingEntry.isValid(m); }

    public static String describe(long m) {
        int s = state(m);
        if (s == UNMAPPED) return "unmapped";
        if (s == ZERO) return "zero";
        if (s == RAW) return "raw@" + pbn(m);
        if (isPacked(m)) return "packed@" + pbn(m) + "#" + slot(m);
        if (isForeign(m) && isValid(m)) return "pool" + foreignPool(m) + "/p" + foreignParity(m) + ":" + describe(local(m));
        return String.format("invalid(0x%016x)", m);
    }
}
