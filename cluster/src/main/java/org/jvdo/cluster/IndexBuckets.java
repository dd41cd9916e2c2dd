package org.jvdo.cluster;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * One bucket of the clustered index: every entry whose fingerprint starts with the bucket's
 * prefix, packed in one byte array (the value of one IMap entry), so Hazelcast's per-entry
 * overhead (record, key, value header: about 100 bytes) is paid once per bucket, not per entry.
 *
 * <pre>
 * int  next               the slot the next insert into a full bucket overwrites (the oldest)
 * then, per entry (18 bytes):
 * long fingerprint check  the fingerprint's low 64 bits (the prefix is the bucket)
 * long mapping            the block-map entry (state byte, PBN) in its pool
 * short pool              the pool's cluster id (ClusterMember.poolId), unsigned
 * </pre>
 *
 * A bucket holds at most {@code capacity} entries; beyond that an insert replaces the oldest
 * (the index is advice: a dropped entry is a missed dedup, never wrong data). The functions are
 * deterministic, so the backup applies the same change as the owner.
 */
final class IndexBuckets {
    static final int HEADER = 4;
    static final int ENTRY = 18;
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);

    private IndexBuckets() { }

    static int count(byte[] b) { return b == null || b.length < HEADER ? 0 : (b.length - HEADER) / ENTRY; }

    static long check(byte[] b, int i) { return (long) LONG.get(b, HEADER + i * ENTRY); }

    static long mapping(byte[] b, int i) { return (long) LONG.get(b, HEADER + i * ENTRY + 8); }

    static int pool(byte[] b, int i) { return Short.toUnsignedInt((short) SHORT.get(b, HEADER + i * ENTRY + 16)); }

    /** The entry holding {@code check}, or -1. */
    static int find(byte[] b, long check) {
        int n = count(b);
        for (int i = 0, off = HEADER; i < n; i++, off += ENTRY) {
            if ((long) LONG.get(b, off) == check) return i;
        }
        return -1;
    }

    /**
     * The bucket after recording {@code check → (pool, mapping)}: the same array when the entry
     * was there (updated in place), a longer one when it was added, the same array with its
     * oldest entry replaced when the bucket was full. {@code added[0]} is set to 1 when an entry
     * was added (or replaced the oldest), else 0.
     */
    static byte[] insert(byte[] b, long check, long mapping, int pool, int capacity, int[] added) {
        int i = find(b, check);
        if (i >= 0) {
            put(b, i, check, mapping, pool);
            added[0] = 0;
            return b;
        }
        added[0] = 1;
        int n = count(b);
        if (n < capacity) {
            byte[] nb = new byte[HEADER + (n + 1) * ENTRY];
            if (b != null) System.arraycopy(b, 0, nb, 0, HEADER + n * ENTRY);
            put(nb, n, check, mapping, pool);
            return nb;
        }
        int next = (int) INT.get(b, 0);
        if (next < 0 || next >= n) next = 0;
        put(b, next, check, mapping, pool);
        INT.set(b, 0, (next + 1) % n);
        return b;
    }

    private static void put(byte[] b, int i, long check, long mapping, int pool) {
        int off = HEADER + i * ENTRY;
        LONG.set(b, off, check);
        LONG.set(b, off + 8, mapping);
        SHORT.set(b, off + 16, (short) pool);
    }
}
