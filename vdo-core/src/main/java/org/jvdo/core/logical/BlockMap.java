package org.jvdo.core.logical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

import org.jvdo.format.Block;
import org.jvdo.format.LeafPageLayout;
import org.jvdo.format.PageHeader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One volume's logical → physical map: pages of {@link #ENTRIES_PER_PAGE} 8-byte {@link Mapping}
 * entries in a contiguous region of the pool file, read through a bounded LRU cache of pages.
 * Never one Java object per block: a cached page is one {@code long[]}.
 *
 * <p>Page layout (page version 2, pool format 3): {@link LeafPageLayout} (format module): the
 * mapping entries, then one content checksum per entry (32 bits of the block's XXH3-128
 * fingerprint, see {@link BlockChecksum}; 0 for unmapped and zero entries). Dirty pages are written at a checkpoint, or when evicted, and only
 * after the journal entries that changed them are durable (write-ahead rule).
 *
 * <p>Region (format 3): {@code [mapPages leaf pages][bitmap pages of the BlockMapTree]}, {@link
 * #regionBlocks} blocks in all. The tree records which leaf pages have been written. A leaf it
 * does not record is a never-written hole and reads as all unmapped without a disk read; a leaf
 * it records is read and validated, and all zeros is then corruption ("zeroed"), refused as any
 * bad page (reset to unmapped and reported in repair mode). Walks ({@link #forEachMapped},
 * {@link #grow}) visit only the written leaves and the pages cached. Order at a checkpoint
 * ({@link #writeDirtyPages}): dirty leaves, then (only when some bitmap page is dirty) a sync,
 * then the dirty bitmap pages; the caller syncs after. So a leaf's bit never becomes durable
 * before the leaf.
 *
 * <p><b>Threads and locks.</b> The page cache is cut into {@link #stripes()} stripes by page
 * number ({@code page & (stripes - 1)}), each with its own lock and its own LRU of up to its share
 * of the capacity, so lookups and updates of pages in different stripes run in parallel. Every
 * access to a page's entries happens under its stripe's lock, from finding the page to the last
 * entry read or changed, so a read never sees a half-made change and an eviction can never drop a
 * change. A miss makes room first and then loads the page under the stripe lock (a disk read
 * only for a written leaf). Making room evicts the stripe's least recently used pages; a dirty one
 * is written only after {@link WriteAheadGate#ensureDurable} has returned for its newest entry,
 * and that call (which may commit the journal: a sync) runs with no stripe lock held; the page
 * is then written under its stripe lock only if nothing changed it meanwhile, else it is tried
 * again. Whole-map operations ({@link #grow}, {@link #forEachEntry}) take every stripe lock in
 * ascending order. Lock order: the pool's mapping lock (held by callers that change mappings),
 * then the super block's monitor (a resize calls {@link #grow} inside it), then stripe locks
 * (ascending), then the tree's monitor ({@link BlockMapTree}), then what a walk's visitor takes
 * (the depot's monitor); nothing here calls up that list. The gate is called holding none of them but the
 * mapping lock. {@link #writeDirtyPages} takes one stripe at a time; its caller (the checkpoint)
 * holds the mapping write lock, so no mapping changes meanwhile.
 */
public final class BlockMap {
    public static final int ENTRIES_PER_PAGE = LeafPageLayout.ENTRIES_PER_PAGE;
    public static final int PAGE_MAGIC = LeafPageLayout.MAGIC;
    public static final int PAGE_VERSION = LeafPageLayout.VERSION;
    public static final int ENTRIES_OFFSET = LeafPageLayout.ENTRIES;
    public static final int CHECKSUMS_OFFSET = LeafPageLayout.CHECKSUMS;

    /** Makes the journal durable through an entry before a page holding its change is written. */
    public interface WriteAheadGate {
        void ensureDurable(long entrySeq) throws IOException;
    }

    /** A cached leaf page; every field is guarded by its stripe's lock. */
    private static final class Page {
        final long[] entries = new long[ENTRIES_PER_PAGE];
        final int[] checksums = new int[ENTRIES_PER_PAGE];
        boolean dirty;
        long lastSeq;
        /** Still in its stripe's cache (an eviction that let go of the lock checks it). */
        boolean cached;
    }

    /**
     * One lock and the LRU of the pages whose number is {@code id (mod stripes)}. The LRU is keyed
     * by the page number's quotient ({@code page >>> shift}): the page numbers themselves all
     * share their low bits here, so as {@code Long} keys of a {@code HashMap} they would fill
     * one bucket in {@code stripes} (long bins turned into trees: 4% of the CPU under 4k random
     * writes went to {@code TreeNode.find} and {@code Long.equals}).
     */
    private static final class Stripe {
        final ReentrantLock lock = new ReentrantLock();
        private final LinkedHashMap<Long, Page> pages = new LinkedHashMap<>(16, 0.75f, true);
        final int capacity;
        private final int id;
        private final int shift;

        Stripe(int capacity, int id, int shift) { this.capacity = capacity; this.id = id; this.shift = shift; }

        Page get(long page) { return pages.get(page >>> shift); }
        void put(long page, Page p) { pages.put(page >>> shift, p); }
        void remove(long page) { pages.remove(page >>> shift); }
        int size() { return pages.size(); }
        /** The page number of a key of {@link #lru()}. */
        long pageOf(long key) { return (key << shift) | id; }
        /** Keys (see {@link #pageOf}) and pages, least recently used first. */
        Map<Long, Page> lru() { return pages; }
    }

    /** At most this many stripes per map. */
    public static final int MAX_STRIPES = 64;
    /** Tries to evict a dirty page that keeps changing before a miss loads over capacity anyway. */
    private static final int EVICT_TRIES = 8;

    private final String volumeName;
    private final BlockStore store;
    // written by grow (under every stripe lock), read under any stripe lock or without one
    private volatile long mapStart;
    private volatile long mapPages;
    private volatile long logicalBlocks;
    private final WriteAheadGate gate;
    private final int capacity;
    private volatile java.util.function.Consumer<String> badPageRepair;
    private final Stripe[] stripes;
    private final int stripeMask;
    private final int treeCachePages;
    /** Which leaf pages have been written (see {@link BlockMapTree}); replaced by grow under every stripe lock. */
    private volatile BlockMapTree tree;

    public BlockMap(String volumeName, BlockStore store, long mapStart, long mapPages, long logicalBlocks,
                    int cachePages, WriteAheadGate gate) {
        this(volumeName, store, mapStart, mapPages, logicalBlocks, cachePages, BlockMapTree.DEFAULT_CACHE_PAGES, gate);
    }

    /** {@code treeCachePages}: bitmap pages of the tree cached besides its top. */
    public BlockMap(String volumeName, BlockStore store, long mapStart, long mapPages, long logicalBlocks,
                    int cachePages, int treeCachePages, WriteAheadGate gate) {
        this.volumeName = volumeName;
        this.store = store;
        this.mapStart = mapStart;
        this.mapPages = mapPages;
        this.logicalBlocks = logicalBlocks;
        this.gate = gate;
        this.capacity = Math.max(4, cachePages);
        int n = stripesFor(capacity);
        this.stripes = new Stripe[n];
        int shift = Integer.numberOfTrailingZeros(n);
        for (int i = 0; i < n; i++) stripes[i] = new Stripe(capacity / n + (i < capacity % n ? 1 : 0), i, shift);
        this.stripeMask = n - 1;
        this.treeCachePages = treeCachePages;
        this.tree = new BlockMapTree(volumeName, store, mapStart, mapPages, treeCachePages);
    }

    /**
     * Stripes for a cache of {@code capacity} pages: the largest power of two at most {@link
     * #MAX_STRIPES} that leaves each stripe at least two pages (so a stripe is still an LRU).
     */
    static int stripesFor(int capacity) {
        int n = Integer.highestOneBit(Math.max(1, Math.min(MAX_STRIPES, capacity / 2)));
        return Math.max(1, n);
    }

    /** Stripes of the page cache (each with its lock and its LRU). */
    public int stripes() { return stripes.length; }

    private Stripe stripe(long page) { return stripes[(int) (page & stripeMask)]; }

    /** Takes every stripe lock, in ascending order (whole-map operations). */
    private void lockAll() {
        for (Stripe s : stripes) s.lock.lock();
    }

    private void unlockAll() {
        for (int i = stripes.length - 1; i >= 0; i--) stripes[i].lock.unlock();
    }

    /** Blocks of a block-map region with {@code pages} leaf pages: the leaves and the bitmap tree over them. */
    public static long regionBlocks(long pages) { return BlockMapTree.regionBlocks(pages); }

    /**
     * Makes the fresh region at {@code start} a valid empty map (writes its tree's top page). The
     * caller syncs before the super block refers to the region.
     */
    public static void formatRegion(BlockStore store, long start, long pages) throws IOException {
        BlockMapTree.format(store, start, pages);
    }

    /** Reads and validates the region's top bitmap page (at open; repair mode rebuilds a bad one). */
    public void validateTree() throws IOException { tree.open(); }

    public static long pagesFor(long logicalBlocks) { return LeafPageLayout.pagesFor(logicalBlocks); }

    public long logicalBlocks() { return logicalBlocks; }

    public long mapStart() { return mapStart; }

    public long mapPages() { return mapPages; }

    /**
     * Grows the map to {@code newLogicalBlocks}. When the current region has room it only moves
     * the bound; otherwise the written leaf pages (cached ones from the cache, the others copied
     * block for block; a written page that reads zeroed stays so and is still refused) and a new
     * tree over them are written into the fresh region at {@code newStart} of {@code newPages}
     * leaf pages ({@link #regionBlocks} blocks), synced, and the map switches to it. The cost
     * follows the pages written, not the size. The caller holds the pool's mapping write lock, has
     * made the journal durable, and persists the new region in the super block afterwards; until
     * then the old region stays intact.
     */
    public void grow(long newLogicalBlocks, long newStart, long newPages) throws IOException {
        grow(newLogicalBlocks, newStart, newPages, null);
    }

    /**
     * As {@link #grow(long, long, long)}; a copy reports to {@code op} (may be null) as the phase
     * "copying the block map", done/total in leaf pages (counted first by a walk of the tree).
     */
    public void grow(long newLogicalBlocks, long newStart, long newPages, org.jvdo.core.api.Operation op)
            throws IOException {
        lockAll();
        try {
            growLocked(newLogicalBlocks, newStart, newPages, op);
        } finally {
            unlockAll();
        }
    }

    private void growLocked(long newLogicalBlocks, long newStart, long newPages, org.jvdo.core.api.Operation op)
            throws IOException {
        if (newLogicalBlocks < logicalBlocks) throw new IllegalArgumentException("a block map cannot shrink");
        if (pagesFor(newLogicalBlocks) <= mapPages) { logicalBlocks = newLogicalBlocks; return; }
        if (newPages < pagesFor(newLogicalBlocks)) throw new IllegalArgumentException("new region too small");
        BlockMapTree nt = BlockMapTree.fresh(volumeName, store, newStart, newPages, treeCachePages);
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
        long[] copied = {0};
        if (op != null) {
            long[] total = {0};
            forEachPage(pi -> total[0]++);
            op.phase("copying the block map", total[0]);
        }
        forEachPage(pi -> {
            if (op != null) op.done(++copied[0]);
            Page p = cachedLocked(pi);
            if (p != null) {
                if (!p.dirty && !tree.isWritten(pi)) return;   // cached, never written and unchanged: stays a hole
                store.write(newStart + pi, encodePage(p.entries, p.checksums));
            } else {
                b.clear();
                store.read(mapStart + pi, b);
                b.flip();
                store.write(newStart + pi, b);
            }
            nt.markWritten(pi);
        });
        nt.flush();
        store.sync();
        nt.publish();
        for (Stripe s : stripes) for (Page p : s.lru().values()) p.dirty = false;
        if (badPageRepair != null) nt.repairBadPages(badPageRepair);
        tree = nt;
        mapStart = newStart;
        mapPages = newPages;
        logicalBlocks = newLogicalBlocks;
    }

    /** Receives leaf page indexes. */
    private interface PageVisitor {
        void visit(long page) throws IOException;
    }

    /**
     * Visits, in ascending order, every leaf page that may hold a mapping: those the tree records
     * as written and those in the cache (changed, maybe not yet written). The caller holds every
     * stripe lock.
     */
    private void forEachPage(PageVisitor visitor) throws IOException {
        int size = 0;
        for (Stripe s : stripes) size += s.size();
        long[] cached = new long[size];
        int n = 0;
        for (Stripe s : stripes) for (Long k : s.lru().keySet()) cached[n++] = s.pageOf(k);
        java.util.Arrays.sort(cached);
        int[] next = {0};
        tree.forEachWrittenLeaf(leaf -> {     // under the tree's monitor: the stripe locks are taken already
            while (next[0] < cached.length && cached[next[0]] < leaf) visitor.visit(cached[next[0]++]);
            if (next[0] < cached.length && cached[next[0]] == leaf) next[0]++;
            visitor.visit(leaf);
        });
        while (next[0] < cached.length) visitor.visit(cached[next[0]++]);
    }

    private void checkLbn(long lbn) {
        if (lbn < 0 || lbn >= logicalBlocks) {
            throw new VdoException(Errno.EINVAL, "volume " + volumeName + ": logical block " + lbn + " out of range 0.." + (logicalBlocks - 1));
        }
    }

    public long get(long lbn) throws IOException {
        return read(lbn, false);
    }

    /** {@code lbn}'s mapping, or with {@code checksum} its stored checksum: under its page's stripe, loading the page if needed. */
    private long read(long lbn, boolean checksum) throws IOException {
        checkLbn(lbn);
        long pi = lbn / ENTRIES_PER_PAGE;
        Stripe s = stripe(pi);
        int e = (int) (lbn % ENTRIES_PER_PAGE);
        s.lock.lock();
        try {
            Page p = s.get(pi);
            if (p != null) return checksum ? p.checksums[e] : p.entries[e];
        } finally {
            s.lock.unlock();
        }
        makeRoom(s);
        s.lock.lock();
        try {
            Page p = pageLocked(s, pi);
            return checksum ? p.checksums[e] : p.entries[e];
        } finally {
            s.lock.unlock();
        }
    }

    /**
     * The entries and checksums of {@code first .. first + n - 1} for which {@code wanted[i]},
     * into {@code maps[i]} and {@code sums[i]}: the read path's batch, one stripe lock per page
     * it touches (each entry is read whole under its page's lock; the caller's LBN registrations
     * keep the entries of the batch from changing).
     */
    public void lookup(long first, int n, boolean[] wanted, long[] maps, int[] sums) throws IOException {
        int i = 0;
        while (i < n) {
            if (!wanted[i]) { i++; continue; }
            long lbn = first + i;
            checkLbn(lbn);
            long pi = lbn / ENTRIES_PER_PAGE;
            int end = (int) Math.min(n, (pi + 1) * ENTRIES_PER_PAGE - first);   // the batch's part in this page
            Stripe s = stripe(pi);
            boolean hit;
            s.lock.lock();
            try {
                Page p = s.get(pi);
                hit = p != null;
                if (hit) i = copy(p, first, i, end, wanted, maps, sums);
            } finally {
                s.lock.unlock();
            }
            if (hit) continue;
            makeRoom(s);
            s.lock.lock();
            try {
                i = copy(pageLocked(s, pi), first, i, end, wanted, maps, sums);
            } finally {
                s.lock.unlock();
            }
        }
    }

    /** Copies the wanted entries {@code i .. end - 1} of the batch (all in page {@code p}); returns {@code end}. */
    private int copy(Page p, long first, int i, int end, boolean[] wanted, long[] maps, int[] sums) {
        for (; i < end; i++) {
            if (!wanted[i]) continue;
            long lbn = first + i;
            checkLbn(lbn);
            int e = (int) (lbn % ENTRIES_PER_PAGE);
            maps[i] = p.entries[e];
            sums[i] = p.checksums[e];
        }
        return end;
    }

    /** The content checksum stored with {@code lbn}'s entry (0 for unmapped and zero entries). */
    public int checksum(long lbn) throws IOException {
        return (int) read(lbn, true);
    }

    /**
     * Sets the entry for {@code lbn} with the checksum of its content, changed by journal entry
     * {@code seq}; returns the old entry. Entries without a block store checksum 0. If it throws
     * (the page could not be loaded, or room could not be made), nothing was changed.
     */
    public long set(long lbn, long mapping, int checksum, long seq) throws IOException {
        checkLbn(lbn);
        long pi = lbn / ENTRIES_PER_PAGE;
        Stripe s = stripe(pi);
        s.lock.lock();
        try {
            Page p = s.get(pi);
            if (p != null) return setLocked(p, lbn, mapping, checksum, seq);
        } finally {
            s.lock.unlock();
        }
        makeRoom(s);
        s.lock.lock();
        try {
            return setLocked(pageLocked(s, pi), lbn, mapping, checksum, seq);
        } finally {
            s.lock.unlock();
        }
    }

    private static long setLocked(Page p, long lbn, long mapping, int checksum, long seq) {
        int i = (int) (lbn % ENTRIES_PER_PAGE);
        long old = p.entries[i];
        p.entries[i] = mapping;
        p.checksums[i] = Mapping.hasBlock(mapping) || Mapping.isForeign(mapping) ? checksum : 0;
        p.dirty = true;
        if (seq > p.lastSeq) p.lastSeq = seq;
        return old;
    }

    /** The page if cached (a use, as any access); the caller holds its stripe lock. */
    private Page cachedLocked(long index) { return stripe(index).get(index); }

    /**
     * Page {@code index} from its stripe, loaded if absent; the caller holds the stripe lock and
     * has made room ({@link #makeRoom}) since it last found the page absent. Loading never
     * evicts: a stripe exceeds its share only while threads race to load into it, and the next
     * miss there trims it.
     */
    private Page pageLocked(Stripe s, long index) throws IOException {
        Page p = s.get(index);
        if (p != null) return p;
        p = load(index);
        p.cached = true;
        s.put(index, p);
        return p;
    }

    /**
     * Before a miss loads into stripe {@code s}: evicts its least recently used pages until one
     * more fits. A clean page is dropped; a dirty one is written after the write-ahead gate has
     * made its newest entry durable. The gate runs with no stripe lock held (it may commit the
     * journal, a sync), so the page may change meanwhile: it is written only if its newest entry
     * is still one the gate covered, else the next try gates again. After {@link #EVICT_TRIES}
     * dirty pages that kept changing the miss loads anyway (the stripe holds one page more until
     * its next miss).
     */
    private void makeRoom(Stripe s) throws IOException {
        int tries = 0;
        while (true) {
            long index, seq;
            Page p;
            s.lock.lock();
            try {
                if (s.size() < s.capacity) return;
                Iterator<Map.Entry<Long, Page>> it = s.lru().entrySet().iterator();
                Map.Entry<Long, Page> eldest = it.next();
                p = eldest.getValue();
                index = s.pageOf(eldest.getKey());
                if (!p.dirty) {
                    it.remove();
                    p.cached = false;
                    continue;
                }
                if (tries++ == EVICT_TRIES) return;
                seq = p.lastSeq;
            } finally {
                s.lock.unlock();
            }
            gate.ensureDurable(seq);                  // write-ahead rule, outside the stripe lock
            s.lock.lock();
            try {
                if (!p.cached) continue;              // evicted (or written and evicted) by another thread
                if (p.dirty && p.lastSeq <= seq) writePage(index, p);
                if (!p.dirty && s.size() >= s.capacity) {
                    s.remove(index);
                    p.cached = false;
                }
            } finally {
                s.lock.unlock();
            }
        }
    }

    private Page load(long index) throws IOException {
        Page p = new Page();
        if (!tree.isWritten(index)) return p;      // never written: all unmapped, nothing to read
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        store.read(mapStart + index, b);
        try {
            checkNotZeroed(b, index);
            decodePage(b, p.entries, p.checksums, () -> describePage(index));
        } catch (CorruptPoolException e) {
            if (badPageRepair == null) throw e;
            // repair: the page is given up (its LBNs read as unmapped, the journal replay restores
            // what it still holds for them), rewritten valid at the next checkpoint, and reported
            java.util.Arrays.fill(p.entries, 0L);
            java.util.Arrays.fill(p.checksums, 0);
            p.dirty = true;
            long first = index * ENTRIES_PER_PAGE;
            badPageRepair.accept(e.getMessage() + ": reset to unmapped; volume " + volumeName + " LBNs " + first + ".."
                    + Math.min(logicalBlocks - 1, first + ENTRIES_PER_PAGE - 1) + " lose what they held (unless the journal had it)");
        }
        return p;
    }

    /** A written page (the tree records it) that reads all zeros was lost or wiped: never read as unmapped. */
    private void checkNotZeroed(ByteBuffer b, long index) {
        if (Block.isZero(b)) throw new CorruptPoolException(describePage(index) + ": zeroed, but the block map tree records it as written");
    }

    /**
     * Repair mode: a page that fails validation is reset to unmapped and reported to {@code report}
     * instead of refused; a bad bitmap page of the tree is rebuilt from its children and reported.
     */
    public void repairBadPages(java.util.function.Consumer<String> report) {
        lockAll();
        try {
            this.badPageRepair = report;
            tree.repairBadPages(report);
        } finally {
            unlockAll();
        }
    }

    /** The tree of written leaves (tests). */
    public BlockMapTree tree() { return tree; }

    /** First block of the region (tests, checks). */
    public long regionStart() { return mapStart; }

    private String describePage(long index) {
        return store.describe() + ": volume " + volumeName + " block map page " + index + " (block " + (mapStart + index) + ")";
    }

    /** Decodes a page into {@code entries} and {@code checksums}; an all-zero page is empty. */
    public static void decodePage(ByteBuffer b, long[] entries, int[] checksums, String where) {
        decodePage(b, entries, checksums, () -> where);
    }

    /** As above; {@code where} names the page for error messages and is built only on an error. */
    public static void decodePage(ByteBuffer b, long[] entries, int[] checksums, java.util.function.Supplier<String> where) {
        b.order(ByteOrder.LITTLE_ENDIAN);
        int crcStored = PageHeader.storedCrc(b);
        int magic = PageHeader.magic(b);
        if (crcStored == 0 && magic == 0 && Block.isZero(b)) {
            java.util.Arrays.fill(entries, 0L);
            java.util.Arrays.fill(checksums, 0);
            return;
        }
        if (magic != PAGE_MAGIC) throw new CorruptPoolException(where.get() + ": bad page magic 0x" + Integer.toHexString(magic));
        int version = PageHeader.version(b);
        if (version != PAGE_VERSION) throw new CorruptPoolException(where.get() + ": unsupported page version " + version);
        if (PageHeader.crc(b) != crcStored) throw new CorruptPoolException(where.get() + ": checksum mismatch");
        for (int i = 0; i < ENTRIES_PER_PAGE; i++) {
            long m = LeafPageLayout.entry(b, i);
            int sum = LeafPageLayout.checksum(b, i);
            if (!Mapping.isValid(m) || (!Mapping.hasBlock(m) && !Mapping.isForeign(m) && sum != 0)) {
                throw new CorruptPoolException(where.get() + ": entry " + i + " is invalid " + Mapping.describe(m)
                        + (Mapping.hasBlock(m) || Mapping.isForeign(m) ? "" : " with checksum 0x" + Integer.toHexString(sum)));
            }
            entries[i] = m;
            checksums[i] = sum;
        }
    }

    public static ByteBuffer encodePage(long[] entries, int[] checksums) { return LeafPageLayout.encode(entries, checksums); }

    /** Writes a page (the caller holds its stripe lock and has made its entries durable in the journal). */
    private void writePage(long index, Page p) throws IOException {
        store.write(mapStart + index, encodePage(p.entries, p.checksums));
        p.dirty = false;
        tree.markWritten(index);
    }

    /**
     * Writes every dirty page (the caller has made the journal durable first and holds the
     * mapping write lock, so nothing changes a mapping meanwhile), one stripe at a time, then the
     * dirty bitmap pages of the tree, each level after a sync (none when no bitmap page is dirty),
     * so no leaf's bit is durable before the leaf; the caller syncs after. Lookups of other
     * stripes go on meanwhile. Returns pages written.
     */
    public int writeDirtyPages() throws IOException {
        int n = 0;
        for (Stripe s : stripes) {
            s.lock.lock();
            try {
                for (Map.Entry<Long, Page> e : s.lru().entrySet()) {
                    if (e.getValue().dirty) { writePage(s.pageOf(e.getKey()), e.getValue()); n++; }
                }
            } finally {
                s.lock.unlock();
            }
        }
        return n + tree.flush();
    }


    /**
     * Visits every entry that is not unmapped: {@code visitor.visit(lbn, mapping)}; only the pages
     * written (per the tree) and those cached are visited, pages not cached are read without
     * caching them. Costs time in proportion to the pages written, not to the volume's size.
     */
    public void forEachMapped(MappingVisitor visitor) throws IOException {
        forEachEntry((lbn, m, sum) -> visitor.visit(lbn, m));
    }

    /**
     * As {@link #forEachMapped}, with each entry's content checksum. Holds every stripe lock for
     * the walk (so changes to this volume wait; other volumes go on).
     */
    public void forEachEntry(EntryVisitor visitor) throws IOException {
        lockAll();
        try {
            forEachEntryLocked(visitor);
        } finally {
            unlockAll();
        }
    }

    private void forEachEntryLocked(EntryVisitor visitor) throws IOException {
        long[] tmp = new long[ENTRIES_PER_PAGE];
        int[] tmpSums = new int[ENTRIES_PER_PAGE];
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
        forEachPage(pi -> {
            long[] entries;
            int[] sums;
            Page p = cachedLocked(pi);
            if (p != null) {
                entries = p.entries;
                sums = p.checksums;
            } else {
                if (!tree.isWritten(pi)) return;   // cached when the walk began, never written
                b.clear();
                store.read(mapStart + pi, b);
                try {
                    checkNotZeroed(b, pi);
                    decodePage(b, tmp, tmpSums, () -> describePage(pi));
                    entries = tmp;
                    sums = tmpSums;
                } catch (CorruptPoolException e) {
                    if (badPageRepair == null) throw e;
                    // repaired (and reported) as it is loaded; cached without making room (no gate
                    // under the stripe locks): the stripe is trimmed at its next miss
                    Page repaired = pageLocked(stripe(pi), pi);
                    entries = repaired.entries;
                    sums = repaired.checksums;
                }
            }
            long base = pi * ENTRIES_PER_PAGE;
            for (int i = 0; i < ENTRIES_PER_PAGE; i++) {
                if (entries[i] != 0 && base + i < logicalBlocks) visitor.visit(base + i, entries[i], sums[i]);
            }
        });
    }

    /** Receives mapped entries. */
    public interface MappingVisitor {
        void visit(long lbn, long mapping) throws IOException;
    }

    /** Receives mapped entries with their content checksums. */
    public interface EntryVisitor {
        void visit(long lbn, long mapping, int checksum) throws IOException;
    }

    /** Pages cached, over all stripes. */
    public int cachedPages() {
        int n = 0;
        for (Stripe s : stripes) {
            s.lock.lock();
            try {
                n += s.size();
            } finally {
                s.lock.unlock();
            }
        }
        return n;
    }
}
