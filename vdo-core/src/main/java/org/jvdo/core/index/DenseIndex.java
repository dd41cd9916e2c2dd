package org.jvdo.core.index;

import org.jvdo.format.IndexFileLayout;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The default dedup index: every fingerprint, at most 8 bytes per entry. A fixed number of
 * segments (chosen by the fingerprint's top bits), each an independent Robin Hood table of
 * bit-packed slots in one {@code long[]}, each growing on its own in steps of 1/16, so the load
 * never drops below about 0.89 once past the smallest sizes (growth never halves it).
 *
 * <p>A slot, low bits first: the 4-bit location state (0 = empty, 1 raw, 2..15 packed slot
 * 0..13, as {@link IndexFileLayout}), a {@value #DISP_BITS}-bit Robin Hood displacement, the
 * quotient remainder, and the PBN. <b>Quotienting:</b> within a segment the fingerprint's next
 * {@code qBits} bits are a number {@code q}; its home slot is {@code h = floor(q * m / 2^qBits)}
 * for a segment of {@code m} slots, and the slot stores only {@code r = q - ceil(h * 2^qBits / m)}
 * (fewer than {@code 2^qBits / m} values). {@code q} is recovered exactly from the slot's position
 * and {@code r}, so a segment can be rebuilt at any size without losing bits. {@code qBits} is
 * {@code log2(largest segment) + }{@value #MIN_REMAINDER_BITS}: at the maximum size each slot
 * keeps at least {@value #MIN_REMAINDER_BITS} bits that its position does not imply, twice as
 * many per halving below it.
 *
 * <p><b>False matches.</b> A lookup compares the remainders of the entries sharing its home
 * slot (on average the load, ≤ 0.95), so the chance that a fingerprint never stored is answered
 * is at most 0.95 × 2^-{@value #MIN_REMAINDER_BITS} ≈ 2.3 × 10^-4 per lookup at the maximum
 * size (one extra verify read in about 4300 lookups of new data), halving with every halving of
 * the size. Advice is verified byte for byte, so a false match costs a read, never data.
 *
 * <p>The PBN width comes from the pool's largest PBN; an update with a larger PBN rebuilds its
 * segment wider. At its maximum size a segment replaces (drops a neighbour of the new entry's
 * home) instead of growing: memory stays bounded, and what is lost is only advice.
 *
 * <p>Threads: one lock per segment (updates of different segments do not wait for each other).
 *
 * <p>Why over 400 lines: the bit-packed slot access, the Robin Hood insert, delete and lookup,
 * the one-pass rebuild and the file output all depend on the same quotient arithmetic and slot
 * layout, so they are kept in one class (with its {@code Segment}) to be read together.
 */
public final class DenseIndex implements DedupIndex {
    static final int STATE_BITS = 4;
    static final int DISP_BITS = 6;
    static final int MAX_DISP = (1 << DISP_BITS) - 1;
    static final int MIN_REMAINDER_BITS = 12;
    /** Grow a segment when an insert would pass 19/20 of its slots. */
    static final int LOAD_NUM = 19, LOAD_DEN = 20;
    static final int MIN_SEGMENT_SLOTS = 16;

    private final int segBits;
    private final int qBits;
    private final int maxSegSlots;
    private final Segment[] segs;
    private final int pbnBitsHint;

    /**
     * @param initialSlots slots to start with (all segments together)
     * @param maxSlots     slots at most (memory bound)
     * @param maxPbn       the largest PBN the pool can hand out today (sets the PBN width)
     */
    public DenseIndex(long initialSlots, long maxSlots, long maxPbn) {
        long max = Math.max(MIN_SEGMENT_SLOTS, Math.min(maxSlots, 1L << 31));
        int totalBits = 64 - Long.numberOfLeadingZeros(max - 1);
        this.segBits = Math.max(0, Math.min(6, totalBits - 20));
        int nSegs = 1 << segBits;
        this.maxSegSlots = (int) Math.max(MIN_SEGMENT_SLOTS, (max + nSegs - 1) / nSegs);
        int segL = 64 - Long.numberOfLeadingZeros(maxSegSlots - 1L);
        this.qBits = segL + MIN_REMAINDER_BITS;
        // (q * m) and (h << qBits) must fit in 63 bits
        if (qBits + segL + 1 > 63) throw new IllegalArgumentException("index of " + maxSlots + " slots is too large");
        this.pbnBitsHint = pbnBitsFor(Math.max(1, Math.min(maxPbn, IndexFileLayout.MAX_PBN)));
        this.segs = new Segment[nSegs];
        long per = Math.max(1, initialSlots / nSegs);
        for (int i = 0; i < nSegs; i++) {
            segs[i] = new Segment(this, clampSlots(per, pbnBitsHint), pbnBitsHint);
        }
    }

    static int pbnBitsFor(long maxPbn) { return Math.max(1, 64 - Long.numberOfLeadingZeros(maxPbn)); }

    /** {@code m} limited to this index's sizes and to slots that fit in 64 bits. */
    private int clampSlots(long m, int pbnBits) {
        int s = (int) Math.max(MIN_SEGMENT_SLOTS, Math.min(m, maxSegSlots));
        while (s < maxSegSlots && widthFor(s, pbnBits) > 64) s = (int) Math.min(maxSegSlots, s * 2L);
        return s;
    }

    int remainderBits(int m) {
        long range = ((1L << qBits) + m - 1) / m;      // ceil(2^q / m): the most values a remainder takes
        return Math.max(1, 64 - Long.numberOfLeadingZeros(range - 1));
    }

    int widthFor(int m, int pbnBits) { return STATE_BITS + DISP_BITS + remainderBits(m) + pbnBits; }

    /** Fingerprint bits the index keys on: the segment and the quotient. */
    public int keyBits() { return segBits + qBits; }

    private Segment segment(long fpHigh) { return segs[segBits == 0 ? 0 : (int) (fpHigh >>> (64 - segBits))]; }

    private long quotient(long fpHigh) { return (fpHigh << segBits) >>> (64 - qBits); }

    @Override
    public long lookup(long fpHigh, long fpLow) {
        Segment s = segment(fpHigh);
        long q = quotient(fpHigh);
        synchronized (s) {
            return s.lookup(q);
        }
    }

    @Override
    public void update(long fpHigh, long fpLow, long mapping) {
        long loc = IndexFileLayout.location(mapping);
        if (loc < 0) return;
        Segment s = segment(fpHigh);
        long q = quotient(fpHigh);
        synchronized (s) {
            s.put(q, loc);
        }
    }

    /** Inserts a location read from a file (key: the top {@link #keyBits()} bits of fpHigh). */
    void putLocation(long key, long loc) {
        Segment s = segment(key);
        synchronized (s) {
            s.put(quotient(key), loc);
        }
    }

    @Override
    public long entries() {
        long n = 0;
        for (Segment s : segs) synchronized (s) { n += s.count; }
        return n;
    }

    @Override
    public long memoryBytes() {
        long b = 16 + 4L * segs.length + 48;
        for (Segment s : segs) synchronized (s) { b += s.bytes(); }
        return b;
    }

    /** Slots in all segments. */
    public long capacity() {
        long n = 0;
        for (Segment s : segs) synchronized (s) { n += s.m; }
        return n;
    }

    @Override
    public String mode() { return IndexFactory.DENSE; }

    @Override
    public void save(Path file) throws IOException {
        // a snapshot per segment (a copy of its words), then the file without any lock held
        Segment[] snap = new Segment[segs.length];
        long count = 0;
        for (int i = 0; i < segs.length; i++) {
            synchronized (segs[i]) { snap[i] = segs[i].copy(); }
            count += snap[i].count;
        }
        final long total = count;
        IndexFiles.write(file, out -> IndexFileLayout.writeHeader(out, IndexFileLayout.MODE_DENSE, keyBits(), total), body -> {
            long written = 0;
            for (int i = 0; i < snap.length; i++) written += snap[i].writeEntries(body, i);
            if (written != total) throw new IOException("index changed while saved");
        });
    }

    /** One independently growing Robin Hood table of bit-packed slots. */
    static final class Segment {
        private final DenseIndex ix;
        int m;
        int count;
        int width, rbits, pbnBits;
        long mask, rmask;
        long[] words;

        Segment(DenseIndex ix, int m, int pbnBits) {
            this.ix = ix;
            allocate(m, pbnBits);
        }

        private void allocate(int slots, int pbn) {
            m = slots;
            pbnBits = pbn;
            rbits = ix.remainderBits(slots);
            width = STATE_BITS + DISP_BITS + rbits + pbnBits;
            if (width > 64) throw new IllegalStateException("index slot of " + width + " bits");
            mask = width == 64 ? -1L : (1L << width) - 1;
            rmask = (1L << rbits) - 1;
            words = new long[(int) (((long) slots * width + 63) >>> 6) + 1];
            count = 0;
        }

        long bytes() { return 16 + 8L * words.length + 56; }

        Segment copy() {
            Segment c = new Segment(ix, MIN_SEGMENT_SLOTS, 1);
            c.m = m; c.count = count; c.width = width; c.rbits = rbits; c.pbnBits = pbnBits;
            c.mask = mask; c.rmask = rmask; c.words = words.clone();
            return c;
        }

        long get(int i) {
            long bit = (long) i * width;
            int k = (int) (bit >>> 6);
            int o = (int) bit & 63;
            // the second word's bits shifted in twice so that o == 0 adds nothing
            return ((words[k] >>> o) | ((words[k + 1] << 1) << (63 - o))) & mask;
        }

        void set(int i, long v) {
            long bit = (long) i * width;
            int k = (int) (bit >>> 6);
            int o = (int) bit & 63;
            words[k] = (words[k] & ~(mask << o)) | (v << o);
            int spill = o + width - 64;
            if (spill > 0) {
                long hm = (1L << spill) - 1;
                words[k + 1] = (words[k + 1] & ~hm) | (v >>> (64 - o));
            }
        }

        int home(long q) { return (int) ((q * m) >>> ix.qBits); }

        long start(int h) { return (((long) h << ix.qBits) + m - 1) / m; }

        static int state(long e) { return (int) (e & 0xF); }

        static int disp(long e) { return (int) (e >>> STATE_BITS) & MAX_DISP; }

        long rem(long e) { return (e >>> (STATE_BITS + DISP_BITS)) & rmask; }

        long pbn(long e) { return e >>> (STATE_BITS + DISP_BITS + rbits); }

        long pack(int state, int disp, long rem, long pbn) {
            return state | ((long) disp << STATE_BITS) | (rem << (STATE_BITS + DISP_BITS)) | (pbn << (STATE_BITS + DISP_BITS + rbits));
        }

        /** The slot holding quotient {@code q}, or -1. */
        int find(long q) {
            int h = home(q);
            long r = q - start(h);
            int i = h;
            for (int d = 0; d <= MAX_DISP; d++) {
                long e = get(i);
                if (state(e) == 0) return -1;
                int ed = disp(e);
                if (ed < d) return -1;                 // Robin Hood: q would sit before this entry
                if (ed == d && rem(e) == r) return i;
                if (++i == m) i = 0;
            }
            return -1;
        }

        long lookup(long q) {
            int i = find(q);
            if (i < 0) return -1;
            long e = get(i);
            return IndexFileLayout.mapping((pbn(e) << STATE_BITS) | state(e));
        }

        void put(long q, long loc) {
            long pbn = loc >>> STATE_BITS;
            int state = (int) (loc & IndexFileLayout.STATE_MASK);
            if (pbn >>> pbnBits != 0) {
                // the pool grew beyond the PBN width: rebuild this segment wider (larger if it must)
                int wider = pbnBitsFor(pbn);
                int slots = ix.clampSlots(m, wider);
                if (ix.widthFor(slots, wider) > 64) return;   // cannot hold it: no advice
                rebuild(slots, wider);
            }
            int i = find(q);
            if (i >= 0) {
                long e = get(i);
                set(i, pack(state, disp(e), rem(e), pbn));
                return;
            }
            if ((long) (count + 1) * LOAD_DEN > (long) m * LOAD_NUM) {
                if (m < ix.maxSegSlots) rebuild(grown(), pbnBits);
                else removeAt(home(q));                // at the maximum: replace a neighbour
            }
            insert(q, state, pbn);
        }

        private int grown() { return (int) Math.min(ix.maxSegSlots, m + Math.max(8, m >> 4)); }

        /** Robin Hood insert of a quotient not present; grows (or drops one entry at the maximum) on a too long run. */
        void insert(long q, int state, long pbn) {
            while (true) {
                long carried = place(q, state, pbn);
                if (carried == 0) return;
                // carried: an entry pushed past the displacement limit (quotient, state, PBN)
                if (m >= ix.maxSegSlots) return;       // dropped: advice only
                q = carriedQ; state = carriedState; pbn = carriedPbn;
                rebuild(grown(), pbnBits);
            }
        }

        private long carriedQ, carriedPbn;
        private int carriedState;

        /** 0 when placed; otherwise 1 with the entry left over in carried*. */
        private long place(long q, int state, long pbn) {
            int h = home(q);
            long r = q - start(h);
            int i = h, d = 0;
            while (true) {
                long e = get(i);
                if (state(e) == 0) {
                    set(i, pack(state, d, r, pbn));
                    count++;
                    return 0;
                }
                int ed = disp(e);
                if (ed < d) {
                    set(i, pack(state, d, r, pbn));
                    state = state(e); r = rem(e); pbn = pbn(e); d = ed;
                    h = i - d < 0 ? i - d + m : i - d;
                }
                if (++i == m) i = 0;
                if (++d > MAX_DISP) {
                    carriedQ = start(h) + r;
                    carriedState = state;
                    carriedPbn = pbn;
                    return 1;
                }
            }
        }

        /** Removes the entry at {@code p} (if any), shifting its run back (Robin Hood deletion). */
        void removeAt(int p) {
            if (state(get(p)) == 0) return;
            int i = p;
            while (true) {
                int n = i + 1 == m ? 0 : i + 1;
                long e = get(n);
                if (state(e) == 0 || disp(e) == 0) { set(i, 0); break; }
                set(i, pack(state(e), disp(e) - 1, rem(e), pbn(e)));
                i = n;
            }
            count--;
        }

        /**
         * This segment at {@code newM} slots and {@code newPbnBits}-bit PBNs. The entries are read
         * in quotient order (a Robin Hood table keeps them sorted by home slot, and homes are
         * monotonic in the quotient) and laid out in one pass; only the few that would wrap past
         * the end go through the normal insert. A run too long for the displacement field grows
         * the segment further (or, at the maximum, drops an entry: advice only).
         */
        void rebuild(int newM, int newPbnBits) {
            int n = count;
            long[] qs = new long[n];
            long[] pay = new long[n];
            int k = sorted(qs, pay);
            int slots = newM;
            while (!layout(qs, pay, k, slots, newPbnBits) && slots < ix.maxSegSlots) {
                slots = (int) Math.min(ix.maxSegSlots, slots + Math.max(8, slots >> 4));
            }
        }

        /** The entries in ascending quotient order into {@code qs} (and state | pbn << 4 into {@code pay}); returns how many. */
        private int sorted(long[] qs, long[] pay) {
            int empty = -1;
            for (int i = 0; i < m; i++) if (state(get(i)) == 0) { empty = i; break; }
            int k = 0, wrapAt = 0;
            int[] homes = new int[qs.length];
            // from just after an empty slot no run crosses the start: homes come in circular order
            for (int j = 1; j <= m && k < qs.length; j++) {
                int i = empty + j;
                if (i >= m) i -= m;
                long e = get(i);
                if (state(e) == 0) continue;
                int h = i - disp(e);
                if (h < 0) h += m;
                long q = start(h) + rem(e);
                int t = k++;
                qs[t] = q; pay[t] = state(e) | (pbn(e) << STATE_BITS); homes[t] = h;
                // entries of one home are in insertion order: sort them (groups are tiny)
                while (t > 0 && homes[t - 1] == homes[t] && qs[t - 1] > qs[t]) {
                    long x = qs[t]; qs[t] = qs[t - 1]; qs[t - 1] = x;
                    x = pay[t]; pay[t] = pay[t - 1]; pay[t - 1] = x;
                    t--;
                }
                if (t > 0 && t == k - 1 && homes[t - 1] > homes[t]) wrapAt = t;
            }
            if (wrapAt > 0) { rotate(qs, k, wrapAt); rotate(pay, k, wrapAt); }
            return k;
        }

        private static void rotate(long[] a, int n, int by) {
            long[] c = new long[n];
            System.arraycopy(a, by, c, 0, n - by);
            System.arraycopy(a, 0, c, n - by, by);
            System.arraycopy(c, 0, a, 0, n);
        }

        /** Lays the sorted entries into a new table of {@code slots}; false when one does not fit below the maximum. */
        private boolean layout(long[] qs, long[] pay, int n, int slots, int pbnBitsNew) {
            allocate(slots, pbnBitsNew);
            int prev = -1;
            int tailFrom = n;
            for (int t = 0; t < n; t++) {
                long q = qs[t];
                int h = home(q);
                int pos = Math.max(h, prev + 1);
                if (pos >= m) { tailFrom = t; break; }
                if (pos - h > MAX_DISP) {
                    if (m < ix.maxSegSlots) return false;
                    continue;   // at the maximum: dropped (advice only)
                }
                set(pos, pack((int) (pay[t] & 0xF), pos - h, q - start(h), pay[t] >>> STATE_BITS));
                count++;
                prev = pos;
            }
            for (int t = tailFrom; t < n; t++) {
                if (place(qs[t], (int) (pay[t] & 0xF), pay[t] >>> STATE_BITS) != 0 && m < ix.maxSegSlots) return false;
            }
            return true;
        }

        /** Writes every entry as (key, location); returns how many. */
        long writeEntries(DataOutputStream body, int segIndex) throws IOException {
            long n = 0;
            for (int i = 0; i < m; i++) {
                long e = get(i);
                if (state(e) == 0) continue;
                int h = i - disp(e);
                if (h < 0) h += m;
                long q = start(h) + rem(e);
                long key = (ix.segBits == 0 ? 0 : ((long) segIndex << (64 - ix.segBits))) | (q << (64 - ix.segBits - ix.qBits));
                IndexFileLayout.writeEntry(body, key, (pbn(e) << STATE_BITS) | state(e));
                n++;
            }
            return n;
        }
    }
}
