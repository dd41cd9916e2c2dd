package org.jvdo.core.physical;

/**
 * The physical blocks whose content is in flux: allocated to a write whose data is not written
 * yet (dm-vdo's PBN write lock). A dedup verify must not share such a block: its reference count
 * already says "live", but what a read of it returns is still the content of whatever used the
 * block before it was freed. The set is cleared for a block once its data write has finished
 * (successfully or not). Not thread-safe: guarded by the {@link SlabDepot}'s monitor.
 *
 * <p>A small open-addressing set of longs (linear probing, deletion by backward shift); it holds
 * at most as many blocks as there are writes in flight.
 */
public final class PbnWriteLocks {
    private static final long EMPTY = -1;
    private long[] slots = newTable(64);
    private int size;

    private static long[] newTable(int n) {
        long[] t = new long[n];
        java.util.Arrays.fill(t, EMPTY);
        return t;
    }

    private static int hash(long pbn, int mask) {
        long h = pbn * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    public int size() { return size; }

    public boolean contains(long pbn) {
        int mask = slots.length - 1;
        for (int i = hash(pbn, mask); ; i = (i + 1) & mask) {
            long s = slots[i];
            if (s == EMPTY) return false;
            if (s == pbn) return true;
        }
    }

    /** Takes the write lock of {@code pbn}; it must not be held already. */
    public void add(long pbn) {
        if (pbn < 0) throw new IllegalArgumentException("bad block " + pbn);
        if ((size + 1) * 2 > slots.length) rehash(slots.length * 2);
        int mask = slots.length - 1;
        for (int i = hash(pbn, mask); ; i = (i + 1) & mask) {
            long s = slots[i];
            if (s == pbn) throw new IllegalStateException("block " + pbn + " is already being written");
            if (s == EMPTY) { slots[i] = pbn; size++; return; }
        }
    }

    /** Releases the write lock of {@code pbn}; false when it was not held. */
    public boolean remove(long pbn) {
        int mask = slots.length - 1;
        int i = hash(pbn, mask);
        while (true) {
            long s = slots[i];
            if (s == EMPTY) return false;
            if (s == pbn) break;
            i = (i + 1) & mask;
        }
        // backward-shift deletion: move later members of the probe run into the hole
        int hole = i;
        for (int j = (hole + 1) & mask; slots[j] != EMPTY; j = (j + 1) & mask) {
            int home = hash(slots[j], mask);
            boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) { slots[hole] = slots[j]; hole = j; }
        }
        slots[hole] = EMPTY;
        size--;
        return true;
    }

    public void clear() {
        java.util.Arrays.fill(slots, EMPTY);
        size = 0;
    }

    private void rehash(int n) {
        long[] old = slots;
        slots = newTable(n);
        size = 0;
        for (long s : old) if (s != EMPTY) add(s);
    }
}
