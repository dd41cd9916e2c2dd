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

    private static final class Page {
        final long[] entries = new long[ENTRIES_PER_PAGE];
        final int[] checksums = new int[ENTRIES_PER_PAGE];
        boolean dirty;
        long lastSeq;
    }

    private final String volumeName;
    private final BlockStore store;
    private long mapStart;
    private long mapPages;
    private long logicalBlocks;
    private final WriteAheadGate gate;
    private final int capacity;
    private java.util.function.Consumer<String> badPageRepair;
    private final LinkedHashMap<Long, Page> cache;
    private final int treeCachePages;
    /** Which leaf pages have been written (see {@link BlockMapTree}). */
    private BlockMapTree tree;

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
        this.cache = new LinkedHashMap<>(64, 0.75f, true);
        this.treeCachePages = treeCachePages;
        this.tree = new BlockMapTree(volumeName, store, mapStart, mapPages, treeCachePages);
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
    public synchronized void validateTree() throws IOException { tree.open(); }

    public static long pagesFor(long logicalBlocks) { return LeafPageLayout.pagesFor(logicalBlocks); }

    public synchronized long logicalBlocks() { return logicalBlocks; }

    public synchronized long mapStart() { return mapStart; }

    public synchronized long mapPages() { return mapPages; }

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
    public synchronized void grow(long newLogicalBlocks, long newStart, long newPages) throws IOException {
        grow(newLogicalBlocks, newStart, newPages, null);
    }

    /**
     * As {@link #grow(long, long, long)}; a copy reports to {@code op} (may be null) as the phase
     * "copying the block map", done/total in leaf pages (counted first by a walk of the tree).
     */
    public synchronized void grow(long newLogicalBlocks, long newStart, long newPages, org.jvdo.core.api.Operation op)
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
            Page p = cache.get(pi);
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
        for (Page p : cache.values()) p.dirty = false;
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
     * as written and those in the cache (changed, maybe not yet written).
     */
    private void forEachPage(PageVisitor visitor) throws IOException {
        long[] cached = new long[cache.size()];
        int n = 0;
        for (Long k : cache.keySet()) cached[n++] = k;
        java.util.Arrays.sort(cached);
        int[] next = {0};
        tree.forEachWrittenLeaf(leaf -> {
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

    public synchronized long get(long lbn) throws IOException {
        checkLbn(lbn);
        return page(lbn / ENTRIES_PER_PAGE).entries[(int) (lbn % ENTRIES_PER_PAGE)];
    }

    /**
     * The entries and checksums of {@code first .. first + n - 1} for which {@code wanted[i]},
     * into {@code maps[i]} and {@code sums[i]}: the read path's batch, under one lock.
     */
    public synchronized void lookup(long first, int n, boolean[] wanted, long[] maps, int[] sums) throws IOException {
        for (int i = 0; i < n; i++) {
            if (!wanted[i]) continue;
            long lbn = first + i;
            checkLbn(lbn);
            Page p = page(lbn / ENTRIES_PER_PAGE);
            int e = (int) (lbn % ENTRIES_PER_PAGE);
            maps[i] = p.entries[e];
            sums[i] = p.checksums[e];
        }
    }

    /** The content checksum stored with {@code lbn}'s entry (0 for unmapped and zero entries). */
    public synchronized int checksum(long lbn) throws IOException {
        checkLbn(lbn);
        return page(lbn / ENTRIES_PER_PAGE).checksums[(int) (lbn % ENTRIES_PER_PAGE)];
    }

    /**
     * Sets the entry for {@code lbn} with the checksum of its content, changed by journal entry
     * {@code seq}; returns the old entry. Entries without a block store checksum 0.
     */
    public synchronized long set(long lbn, long mapping, int checksum, long seq) throws IOException {
        checkLbn(lbn);
        Page p = page(lbn / ENTRIES_PER_PAGE);
        int i = (int) (lbn % ENTRIES_PER_PAGE);
        long old = p.entries[i];
        p.entries[i] = mapping;
        p.checksums[i] = Mapping.hasBlock(mapping) ? checksum : 0;
        p.dirty = true;
        if (seq > p.lastSeq) p.lastSeq = seq;
        return old;
    }

    private Page page(long index) throws IOException {
        Page p = cache.get(index);
        if (p != null) return p;
        p = load(index);
        cache.put(index, p);
        if (cache.size() > capacity) evictOne();
        return p;
    }

    private void evictOne() throws IOException {
        Iterator<Map.Entry<Long, Page>> it = cache.entrySet().iterator();
        Map.Entry<Long, Page> e = it.next();
        Page p = e.getValue();
        if (p.dirty) {
            gate.ensureDurable(p.lastSeq);
            writePage(e.getKey(), p);
        }
        it.remove();
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
    public synchronized void repairBadPages(java.util.function.Consumer<String> report) {
        this.badPageRepair = report;
        tree.repairBadPages(report);
    }

    /** The tree of written leaves (tests). */
    public synchronized BlockMapTree tree() { return tree; }

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
            if (!Mapping.isValid(m) || (!Mapping.hasBlock(m) && sum != 0)) {
                throw new CorruptPoolException(where.get() + ": entry " + i + " is invalid " + Mapping.describe(m)
                        + (Mapping.hasBlock(m) ? "" : " with checksum 0x" + Integer.toHexString(sum)));
            }
            entries[i] = m;
            checksums[i] = sum;
        }
    }

    public static ByteBuffer encodePage(long[] entries, int[] checksums) { return LeafPageLayout.encode(entries, checksums); }

    private void writePage(long index, Page p) throws IOException {
        store.write(mapStart + index, encodePage(p.entries, p.checksums));
        p.dirty = false;
        tree.markWritten(index);
    }

    /**
     * Writes every dirty page (the caller has made the journal durable first), then the dirty
     * bitmap pages of the tree, each level after a sync (none when no bitmap page is dirty), so no
     * leaf's bit is durable before the leaf; the caller syncs after. Returns pages written.
     */
    public synchronized int writeDirtyPages() throws IOException {
        int n = 0;
        for (Map.Entry<Long, Page> e : cache.entrySet()) {
            if (e.getValue().dirty) { writePage(e.getKey(), e.getValue()); n++; }
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

    /** As {@link #forEachMapped}, with each entry's content checksum. */
    public synchronized void forEachEntry(EntryVisitor visitor) throws IOException {
        long[] tmp = new long[ENTRIES_PER_PAGE];
        int[] tmpSums = new int[ENTRIES_PER_PAGE];
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
        forEachPage(pi -> {
            long[] entries;
            int[] sums;
            Page p = cache.get(pi);
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
                    Page repaired = page(pi);       // repaired (and reported) as it is loaded
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

    public synchronized int cachedPages() { return cache.size(); }
}
