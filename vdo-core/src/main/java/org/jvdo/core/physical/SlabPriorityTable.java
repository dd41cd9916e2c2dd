package org.jvdo.core.physical;

/**
 * The slabs that have free blocks, by how many (dm-vdo's priority table over its slab summary's
 * free counts): a slab with {@code f > 0} free blocks sits in bucket {@code floor(log2 f) + 1}
 * (1..32), each bucket a doubly-linked FIFO list of slabs, and a bit per non-empty bucket says
 * where the emptiest slabs are. {@link #best} (a slab in the highest non-empty bucket) and
 * {@link #update} (a slab's free count changed) are O(1), so the allocator picks its next slab
 * without looking at the others, however many there are and however full. A slab with no free
 * block is in no list. Not thread-safe: guarded by the {@link SlabDepot}'s monitor.
 */
final class SlabPriorityTable {
    private static final int BUCKETS = 33;
    private final int[] head = new int[BUCKETS];
    private final int[] tail = new int[BUCKETS];
    private long nonEmpty;
    private int[] next = new int[0];
    private int[] prev = new int[0];
    private int[] bucketOf = new int[0];

    SlabPriorityTable() {
        java.util.Arrays.fill(head, -1);
        java.util.Arrays.fill(tail, -1);
    }

    static int bucket(int free) { return free <= 0 ? 0 : 32 - Integer.numberOfLeadingZeros(free); }

    /** Makes room for slabs {@code [0, n)} (new slabs are in no list until {@link #update}). */
    void ensureCapacity(int n) {
        int old = bucketOf.length;
        if (n <= old) return;
        next = java.util.Arrays.copyOf(next, n);
        prev = java.util.Arrays.copyOf(prev, n);
        bucketOf = java.util.Arrays.copyOf(bucketOf, n);
    }

    /** Slab {@code s} now has {@code free} free blocks. */
    void update(int s, int free) {
        int b = bucket(free);
        int old = bucketOf[s];
        if (b == old) return;
        if (old != 0) unlink(s, old);
        bucketOf[s] = b;
        if (b != 0) link(s, b);
    }

    /** A slab with the most free blocks (to within a factor of two), or -1 when none has any. */
    int best() {
        if (nonEmpty == 0) return -1;
        return head[63 - Long.numberOfLeadingZeros(nonEmpty)];
    }

    /** Empties every list. */
    void clear() {
        java.util.Arrays.fill(head, -1);
        java.util.Arrays.fill(tail, -1);
        java.util.Arrays.fill(bucketOf, 0);
        nonEmpty = 0;
    }

    private void link(int s, int b) {
        next[s] = -1;
        prev[s] = tail[b];
        if (tail[b] >= 0) next[tail[b]] = s; else head[b] = s;
        tail[b] = s;
        nonEmpty |= 1L << b;
    }

    private void unlink(int s, int b) {
        int p = prev[s], n = next[s];
        if (p >= 0) next[p] = n; else head[b] = n;
        if (n >= 0) prev[n] = p; else tail[b] = p;
        if (head[b] < 0) nonEmpty &= ~(1L << b);
    }
}
