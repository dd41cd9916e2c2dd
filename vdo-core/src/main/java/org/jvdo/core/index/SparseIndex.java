package org.jvdo.core.index;

import org.jvdo.core.logical.Mapping;
import org.jvdo.format.IndexFileLayout;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The sparse index (UDS-style sampling plus following the old block map), under 1 byte per
 * block written. Only "hook" fingerprints are indexed: those whose low {@value #SAMPLE_BITS}
 * bits of the second half are zero, 1 in {@value #SAMPLE}. A hook remembers the block's mapping
 * and where it was written (volume, LBN).
 *
 * <p>When a write's hook is found, the writing volume gets a <b>cursor</b>: the old volume and
 * the offset between the old LBN and the new one. For the following blocks of that volume (within
 * {@value #WINDOW} LBNs of the cursor's anchor), the index proposes the mapping the old volume has
 * <i>now</i> at the same offset (read from its block map through the pool's
 * {@link DedupIndex.MappingReader}): a copy of an image, with blocks changed in place, is then
 * found block by block although only 1 in 64 of its fingerprints is indexed. The engine verifies
 * every proposal byte for byte, so a wrong one costs one read, never data. When the block is
 * stored the index hears its mapping ({@link #update(long, long, long, int, long)}): equal to
 * the proposal, the cursor's anchor moves there. A cursor never confirmed is dropped after
 * {@value #UNCONFIRMED_MISS_LIMIT} wrong proposals; after {@value #MISS_LIMIT} wrong proposals in a
 * row a confirmed one only probes (proposes for one LBN in {@value #PROBE_EVERY}) until one is right again, so
 * a changed run costs few reads and the copy is picked up again right after it; a cursor is
 * not used more than {@value #WINDOW} LBNs away from its anchor (a new hook makes a new one). Up
 * to {@value #CURSORS} cursors per volume, so a few streams writing one volume each keep theirs;
 * the one confirmed most recently is followed, so a hook of a block that is repeated elsewhere
 * (its hook points at another offset) does not derail the copy being followed.
 *
 * <p>Memory: the hook table (three {@code long}s a slot, 1/2..3/4 full: at most 48 bytes a
 * hook, under 0.8 bytes per distinct block) plus about 5 KiB per volume with cursors; bounded
 * at {@code maxSlots / 64} hooks (replacing at the maximum).
 */
public final class SparseIndex implements DedupIndex {
    static final int SAMPLE_BITS = 6;
    static final int SAMPLE = 1 << SAMPLE_BITS;
    static final int WINDOW = 1 << 12;
    static final int MISS_LIMIT = 32;
    /** A cursor never confirmed is dropped after this many wrong proposals in a row. */
    static final int UNCONFIRMED_MISS_LIMIT = 4;
    /** A cursor past its miss limit proposes only for LBNs that are multiples of this (probing for the copy to resume). */
    static final int PROBE_EVERY = 16;
    static final int CURSORS = 4;
    static final int PROPOSALS = 256;
    private static final int PROBE_LIMIT = 64;
    private static final int LBN_BITS = 40;
    private static final long LBN_MASK = (1L << LBN_BITS) - 1;
    static final long VOLUME_STATE_BYTES = 16 + CURSORS * 48L + 16 + 3 * (16 + 8L * PROPOSALS) + 64;

    private final MappingReader reader;
    private final int maxSlots;
    private long[] keys, locs, wheres;
    private int count;
    private final ConcurrentHashMap<Integer, VolumeState> volumes = new ConcurrentHashMap<>();
    private final LongAdder updates = new LongAdder();

    public SparseIndex(long initialSlots, long maxSlots, MappingReader reader) {
        this.reader = reader == null ? MappingReader.NONE : reader;
        this.maxSlots = (int) Math.max(64, Math.min(1 << 30, maxSlots / SAMPLE));
        allocate((int) Math.max(64, Math.min(this.maxSlots, initialSlots / SAMPLE)));
    }

    static boolean isHook(long fpLow) { return (fpLow & (SAMPLE - 1)) == 0; }

    private void allocate(int cap) {
        keys = new long[cap];
        locs = new long[cap];
        wheres = new long[cap];
        count = 0;
    }

    private static long key(long fpHigh) { return fpHigh == 0 ? 1 : fpHigh; }

    private int bucket(long k) { return (int) (((k >>> 32) * (long) keys.length) >>> 32); }

    private int probe(long k) {
        int n = keys.length;
        int s = bucket(k);
        for (int p = 0; p < PROBE_LIMIT; p++) {
            long cur = keys[s];
            if (cur == 0 || cur == k) return s;
            if (++s == n) s = 0;
        }
        return -1;
    }

    private void put(long k, long loc, long where) {
        if (count + 1 > (keys.length * 3L) / 4 && keys.length < maxSlots) grow();
        int s = probe(k);
        if (s < 0) {
            if (keys.length < maxSlots) { grow(); put(k, loc, where); return; }
            s = bucket(k);   // at the maximum: replace the home slot's hook
        } else if (keys[s] == 0) {
            count++;
        }
        keys[s] = k; locs[s] = loc; wheres[s] = where;
    }

    private void grow() {
        long[] ok = keys, ol = locs, ow = wheres;
        allocate((int) Math.min(maxSlots, ok.length + (long) ok.length / 2));
        for (int i = 0; i < ok.length; i++) if (ok[i] != 0) put(ok[i], ol[i], ow[i]);
    }

    static long where(int volume, long lbn) { return ((long) volume << LBN_BITS) | (lbn & LBN_MASK); }

    // ------------------------------------------------------------------ the SPI

    @Override
    public long lookup(long fpHigh, long fpLow) {
        if (!isHook(fpLow)) return -1;
        synchronized (this) {
            int s = probe(key(fpHigh));
            return s < 0 || keys[s] == 0 ? -1 : IndexFileLayout.mapping(locs[s]);
        }
    }

    @Override
    public void update(long fpHigh, long fpLow, long mapping) { update(fpHigh, fpLow, mapping, -1, -1); }

    @Override
    public long lookup(long fpHigh, long fpLow, int volume, long lbn) {
        if (isHook(fpLow)) {
            long loc = -1, where = 0;
            synchronized (this) {
                int s = probe(key(fpHigh));
                if (s >= 0 && keys[s] != 0) { loc = locs[s]; where = wheres[s]; }
            }
            if (loc >= 0) {
                if (volume >= 0 && lbn >= 0 && where >= 0) {
                    state(volume).follow((int) (where >>> LBN_BITS), (where & LBN_MASK) - lbn, lbn);
                }
                return IndexFileLayout.mapping(loc);
            }
        }
        if (volume < 0 || lbn < 0) return -1;
        VolumeState vs = volumes.get(volume);
        if (vs == null) return -1;
        Cursor c = vs.cursorFor(lbn);
        if (c == null || (c.misses >= MISS_LIMIT && lbn % PROBE_EVERY != 0)) return -1;
        long proposal;
        try {
            proposal = reader.mappingAt(c.srcVolume, lbn + c.delta);   // no index lock held: this may read a block-map page
        } catch (RuntimeException e) {
            proposal = -1;
        }
        if (proposal < 0 || !Mapping.hasBlock(proposal)) return -1;
        vs.proposed(lbn, proposal, c);
        return proposal;
    }

    @Override
    public void update(long fpHigh, long fpLow, long mapping, int volume, long lbn) {
        updates.increment();
        if (volume >= 0 && lbn >= 0) {
            VolumeState vs = volumes.get(volume);
            if (vs != null) vs.stored(lbn, mapping);
        }
        if (!isHook(fpLow)) return;
        long loc = IndexFileLayout.location(mapping);
        if (loc < 0) return;
        synchronized (this) {
            put(key(fpHigh), loc, volume >= 0 && lbn >= 0 ? where(volume, lbn) : where(0, 0) | (1L << 63));
        }
    }

    private VolumeState state(int volume) { return volumes.computeIfAbsent(volume, v -> new VolumeState()); }

    @Override
    public synchronized long entries() { return count; }

    @Override
    public long memoryBytes() {
        long b;
        synchronized (this) { b = 3 * (16 + 8L * keys.length) + 64; }
        return b + volumes.size() * VOLUME_STATE_BYTES;
    }

    /** Blocks the index heard of (updates), for the bytes-per-block figure. */
    public long blocksSeen() { return updates.sum(); }

    public synchronized int capacity() { return keys.length; }

    @Override
    public String mode() { return IndexFactory.SPARSE; }

    /** Forgets the cursors of a volume (e.g. deleted). */
    public void forgetVolume(int volume) { volumes.remove(volume); }

    /** Inserts a hook read from a file. */
    synchronized void putHook(long key, long loc, int volume, long lbn) { put(key(key), loc, where(volume, lbn)); }

    @Override
    public void save(Path file) throws IOException {
        long[] k, l, w;
        int n;
        synchronized (this) { k = keys.clone(); l = locs.clone(); w = wheres.clone(); n = count; }
        IndexFiles.write(file, out -> IndexFileLayout.writeHeader(out, IndexFileLayout.MODE_SPARSE, 64, n), body -> {
            int written = 0;
            for (int i = 0; i < k.length; i++) {
                if (k[i] == 0) continue;
                IndexFileLayout.writeEntry(body, k[i], l[i]);
                boolean known = w[i] >= 0;
                IndexFileLayout.writeWhere(body, known ? (int) (w[i] >>> LBN_BITS) : 0, known ? w[i] & LBN_MASK : 0);
                written++;
            }
            if (written != n) throw new IOException("index changed while saved");
        });
    }

    // ------------------------------------------------------------------ cursors

    /** A followed stream: blocks written near {@link #anchor} are proposed from {@link #srcVolume} at LBN + {@link #delta}. */
    static final class Cursor {
        final int srcVolume;
        final long delta;
        long anchor;
        int misses;
        /** When it was last created or found again by a hook (the least recently used one is replaced). */
        long used;
        /** When a proposal of it was last right (0: never). */
        long confirmed;

        Cursor(int srcVolume, long delta, long anchor) { this.srcVolume = srcVolume; this.delta = delta; this.anchor = anchor; }
    }

    /** The cursors of one writing volume and its recent proposals (to learn which were right). */
    static final class VolumeState {
        private final Cursor[] cursors = new Cursor[CURSORS];
        private final long[] pLbn = new long[PROPOSALS];
        private final long[] pMap = new long[PROPOSALS];
        private final Cursor[] pCur = new Cursor[PROPOSALS];
        private long tick;

        VolumeState() { java.util.Arrays.fill(pLbn, -1); }

        synchronized void follow(int srcVolume, long delta, long lbn) {
            int free = -1, oldest = 0;
            for (int i = 0; i < CURSORS; i++) {
                Cursor c = cursors[i];
                if (c == null) { if (free < 0) free = i; continue; }
                if (c.srcVolume == srcVolume && c.delta == delta) {
                    c.anchor = lbn; c.misses = 0; c.used = ++tick; c.confirmed = c.used;
                    return;
                }
                if (cursors[oldest] == null || c.used < cursors[oldest].used) oldest = i;
            }
            Cursor n = new Cursor(srcVolume, delta, lbn);
            n.used = ++tick;
            cursors[free >= 0 ? free : oldest] = n;
        }

        /**
         * The cursor to follow at {@code lbn}: among those within the window of their anchor, one
         * not past its miss limit before one that is, then the one confirmed most recently (a new
         * cursor has no confirmation yet, so a hook of a block repeated elsewhere does not take
         * over from the stream being followed), then the nearest anchor.
         */
        synchronized Cursor cursorFor(long lbn) {
            Cursor best = null;
            for (Cursor c : cursors) {
                if (c == null || Math.abs(lbn - c.anchor) > WINDOW) continue;
                if (best == null || better(c, best, lbn)) best = c;
            }
            return best;
        }

        private static boolean better(Cursor a, Cursor b, long lbn) {
            boolean pa = a.misses >= MISS_LIMIT, pb = b.misses >= MISS_LIMIT;
            if (pa != pb) return !pa;
            if (a.confirmed != b.confirmed) return a.confirmed > b.confirmed;
            return Math.abs(lbn - a.anchor) < Math.abs(lbn - b.anchor);
        }

        synchronized void proposed(long lbn, long mapping, Cursor c) {
            int s = (int) (lbn & (PROPOSALS - 1));
            pLbn[s] = lbn; pMap[s] = mapping; pCur[s] = c;
        }

        /** The block at {@code lbn} is now {@code mapping}: was the proposal for it right? */
        synchronized void stored(long lbn, long mapping) {
            int s = (int) (lbn & (PROPOSALS - 1));
            if (pLbn[s] != lbn) return;
            Cursor c = pCur[s];
            boolean right = pMap[s] == mapping;
            pLbn[s] = -1;
            pCur[s] = null;
            for (int i = 0; i < CURSORS; i++) {
                if (cursors[i] != c) continue;
                if (right) {
                    c.misses = 0;
                    c.anchor = lbn;
                    c.confirmed = ++tick;
                } else if (++c.misses >= UNCONFIRMED_MISS_LIMIT && c.confirmed == 0) {
                    cursors[i] = null;      // never right: a hook of a block repeated elsewhere, not a copy
                }
                return;
            }
        }
    }
}
