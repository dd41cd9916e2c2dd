package org.jvdo.core.logical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;

import org.jvdo.format.BitmapPageLayout;
import org.jvdo.format.Block;
import org.jvdo.format.PageHeader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The persistent index of which leaf pages of one volume's block-map region have been written
 * (format 3): a small tree of bitmap pages, as dm-vdo's block-map tree, whose interior pages
 * know which of their children exist. It lets the block map tell "never written" (read as all
 * unmapped without touching the disk) from "written" (read and validated; all zeros is then
 * corruption), and lets every walk over a volume's mappings visit only the pages written.
 *
 * <p>The region of a volume with {@code L} leaf pages ({@code mapPages}, the leaf capacity) and
 * the bitmap page are declared by {@link BitmapPageLayout} (format module): the leaves, then the
 * bitmap pages level by level, the single top page last ({@code L <= 32640}: the level-1 page
 * is the top). See {@link #regionBlocks}. A bitmap page whose bit in its parent is
 * clear is a hole (no child written); the top page is written when the region is created
 * ({@link #format}), so every bitmap page that is read must validate, and all zeros is
 * corruption.
 *
 * <p>Ordering: bits are only ever set, and a bit may become durable only after the child it
 * names is durable. {@link #flush} therefore syncs the store before it writes each level's dirty
 * pages (only when that level has some), and a dirty page evicted from the bounded cache is
 * written only after a sync. Nothing else here syncs.
 *
 * <p>Threads: every method that touches the pages holds this tree's monitor. In the block map's
 * lock order it comes after the stripe locks: {@link #forEachWrittenLeaf} calls its visitor with
 * the monitor held, so its callers take every stripe lock of the map first.
 */
public final class BlockMapTree {
    public static final int MAGIC = BitmapPageLayout.MAGIC;
    public static final int VERSION = BitmapPageLayout.VERSION;
    public static final int HEADER = BitmapPageLayout.BITS;
    public static final int BITS_PER_PAGE = BitmapPageLayout.BITS_PER_PAGE;
    private static final int WORDS = BitmapPageLayout.WORDS;
    /** Bitmap pages cached per volume (besides the top): 64 pages cover 2^21 leaves, about 4 TiB of logical space. */
    public static final int DEFAULT_CACHE_PAGES = 64;

    /** Receives leaf page indexes. */
    public interface LeafVisitor {
        void visit(long leaf) throws IOException;
    }

    private static final class BPage {
        final int level;
        final long index;
        final long[] bits = new long[WORDS];
        boolean dirty;
        /** Its bit in the parent is set (in memory): it has been, or is being, written. The top: always. */
        boolean written;

        BPage(int level, long index) { this.level = level; this.index = index; }

        boolean get(int i) { return (bits[i >>> 6] & (1L << (i & 63))) != 0; }

        int bitCount() {
            int c = 0;
            for (long w : bits) c += Long.bitCount(w);
            return c;
        }

        boolean set(int i) {
            long m = 1L << (i & 63);
            if ((bits[i >>> 6] & m) != 0) return false;
            bits[i >>> 6] |= m;
            return true;
        }
    }

    private final String volumeName;
    private final BlockStore store;
    private final long start;
    private final long leaves;
    private final int levels;
    /** Pages at each level (0 = leaves) and the block where each level starts. */
    private final long[] count, first;
    private final int capacity;
    private final LinkedHashMap<Long, BPage> cache = new LinkedHashMap<>(16, 0.75f, true);
    private BPage top;
    private Consumer<String> repair;
    /** A region not yet referenced by the super block (a resize copy): its writes need no ordering. */
    private boolean unpublished;

    public BlockMapTree(String volumeName, BlockStore store, long start, long leaves, int cachePages) {
        if (leaves < 1) throw new IllegalArgumentException("a block-map region has at least one leaf page");
        this.volumeName = volumeName;
        this.store = store;
        this.start = start;
        this.leaves = leaves;
        this.levels = levels(leaves);
        this.count = new long[levels + 1];
        this.first = new long[levels + 1];
        count[0] = leaves;
        first[0] = start;
        for (int k = 1; k <= levels; k++) {
            count[k] = ceil(count[k - 1]);
            first[k] = first[k - 1] + count[k - 1];
        }
        this.capacity = Math.max(2, cachePages);
    }

    /** A tree for a fresh region at {@code start} (all holes, top dirty), not yet referenced: see {@link #publish}. */
    public static BlockMapTree fresh(String volumeName, BlockStore store, long start, long leaves, int cachePages) {
        BlockMapTree t = new BlockMapTree(volumeName, store, start, leaves, cachePages);
        t.top = new BPage(t.levels, 0);
        t.top.written = true;
        t.top.dirty = true;
        t.unpublished = true;
        return t;
    }

    private static long ceil(long n) { return BitmapPageLayout.pagesAbove(n); }

    /** Bitmap levels above the leaves for {@code leaves} leaf pages (at least 1: the top). */
    public static int levels(long leaves) { return BitmapPageLayout.levels(leaves); }

    /** Blocks of a region with {@code leaves} leaf pages: the leaves and every bitmap page. */
    public static long regionBlocks(long leaves) { return BitmapPageLayout.regionBlocks(leaves); }

    /** Writes the empty top page of a new region at {@code start}; the caller syncs before the region is referenced. */
    public static void format(BlockStore store, long start, long leaves) throws IOException {
        BlockMapTree t = new BlockMapTree("", store, start, leaves, 2);
        store.write(t.first[t.levels], t.encode(new BPage(t.levels, 0)));
    }

    /** Repair mode: a bitmap page that fails validation is rebuilt from its children and reported. */
    public synchronized void repairBadPages(Consumer<String> report) { this.repair = report; }

    /** Reads and validates the top page (at open: a bad top is refused, or rebuilt in repair mode). */
    public synchronized void open() throws IOException {
        if (top == null) {
            top = read(levels, 0);
            top.written = true;
        }
    }

    /** The region's first block after this tree's top page: {@code start + regionBlocks(leaves)}. */
    public long end() { return first[levels] + 1; }

    /** Whether leaf {@code leaf} has been written (reads bitmap pages it does not have). */
    public synchronized boolean isWritten(long leaf) throws IOException {
        checkLeaf(leaf);
        boolean w = page(1, leaf / BITS_PER_PAGE).get((int) (leaf % BITS_PER_PAGE));
        trim();
        return w;
    }

    /** Records that leaf {@code leaf} has just been written (the write is issued; durability is ordered by {@link #flush}). */
    public synchronized void markWritten(long leaf) throws IOException {
        checkLeaf(leaf);
        BPage p = page(1, leaf / BITS_PER_PAGE);
        if (p.set((int) (leaf % BITS_PER_PAGE))) p.dirty = true;
        trim();
    }

    private void checkLeaf(long leaf) {
        if (leaf < 0 || leaf >= leaves) throw new IllegalArgumentException("leaf " + leaf + " outside 0.." + (leaves - 1));
    }

    public synchronized boolean hasDirty() {
        if (top != null && top.dirty) return true;
        for (BPage p : cache.values()) if (p.dirty) return true;
        return false;
    }

    /**
     * Writes every dirty bitmap page, level by level from the bottom, each level after a sync
     * (so the children its bits name are durable first); returns pages written. The caller has
     * written the dirty leaves before and syncs after.
     */
    public synchronized int flush() throws IOException {
        int n = 0;
        for (int k = 1; k <= levels; k++) {
            List<BPage> dirty = new ArrayList<>();
            if (k == levels) {
                if (top != null && top.dirty) dirty.add(top);
            } else {
                for (BPage p : cache.values()) if (p.level == k && p.dirty) dirty.add(p);
            }
            if (dirty.isEmpty()) continue;
            if (!unpublished) store.sync();
            for (BPage p : dirty) { writeBitmap(p); n++; }
        }
        trim();
        return n;
    }

    /** The region is now referenced by the super block: from here on bitmap writes are ordered. */
    public synchronized void publish() { unpublished = false; }

    /**
     * Visits every written leaf in ascending order; bitmap pages not cached are read without
     * caching them. A cached page not yet written (its bit in its parent still clear, as the
     * ordering rule wants) is walked as well: its leaves are written even if it is not.
     */
    public synchronized void forEachWrittenLeaf(LeafVisitor visitor) throws IOException {
        open();
        java.util.TreeSet<Long> pending = new java.util.TreeSet<>();
        for (BPage c : cache.values()) {
            if (c.written || c.bitCount() == 0) continue;
            for (int k = c.level; k < levels; k++) {
                long idx = c.index;
                for (int j = c.level; j < k; j++) idx /= BITS_PER_PAGE;
                if (!pending.add(key(k, idx))) break;
            }
        }
        walk(top, visitor, pending);
        trim();
    }

    private void walk(BPage p, LeafVisitor visitor, java.util.NavigableSet<Long> pending) throws IOException {
        long base = p.index * BITS_PER_PAGE;
        java.util.Iterator<Long> extra = p.level == 1 ? java.util.Collections.emptyIterator()
                : pending.subSet(key(p.level - 1, base), true, key(p.level - 1, base + BITS_PER_PAGE - 1), true).iterator();
        long nextExtra = extra.hasNext() ? extra.next() & INDEX_MASK : Long.MAX_VALUE;
        for (int w = 0; w <= WORDS; w++) {
            long word = w < WORDS ? p.bits[w] : 0;
            long limit = w < WORDS ? base + w * 64L : Long.MAX_VALUE;
            while (nextExtra < limit) {           // children written only in memory, before this word
                child(p, nextExtra, visitor, pending);
                nextExtra = extra.hasNext() ? extra.next() & INDEX_MASK : Long.MAX_VALUE;
            }
            while (word != 0) {
                int bit = Long.numberOfTrailingZeros(word);
                word &= word - 1;
                long child = base + w * 64L + bit;
                while (nextExtra < child) {
                    child(p, nextExtra, visitor, pending);
                    nextExtra = extra.hasNext() ? extra.next() & INDEX_MASK : Long.MAX_VALUE;
                }
                if (nextExtra == child) nextExtra = extra.hasNext() ? extra.next() & INDEX_MASK : Long.MAX_VALUE;
                child(p, child, visitor, pending);
            }
        }
    }

    private void child(BPage p, long child, LeafVisitor visitor, java.util.NavigableSet<Long> pending) throws IOException {
        if (p.level == 1) { visitor.visit(child); return; }
        BPage c = cache.get(key(p.level - 1, child));
        if (c == null) {
            if (p.get((int) (child % BITS_PER_PAGE))) {
                c = read(p.level - 1, child);
                c.written = true;
                if (c.dirty) cache.put(key(c.level, c.index), c);   // rebuilt by repair: to be written
            } else {
                c = new BPage(p.level - 1, child);                  // a hole above pending pages
            }
        }
        walk(c, visitor, pending);
    }

    private static final long INDEX_MASK = (1L << 56) - 1;

    private static long key(int level, long index) { return ((long) level << 56) | index; }

    /** The bitmap page at {@code level}/{@code index}, from the cache, the disk, or a hole when its parent's bit is clear. */
    private BPage page(int level, long index) throws IOException {
        if (level == levels) { open(); return top; }
        long k = key(level, index);
        BPage p = cache.get(k);
        if (p != null) return p;
        BPage parent = page(level + 1, index / BITS_PER_PAGE);
        if (parent.get((int) (index % BITS_PER_PAGE))) {
            p = read(level, index);
            p.written = true;
        } else {
            p = new BPage(level, index);      // a hole: nothing below it written
        }
        cache.put(k, p);
        return p;
    }

    /** Evicts least recently used pages beyond the capacity; a dirty one is written after a sync. */
    private void trim() throws IOException {
        while (cache.size() > capacity) {
            Iterator<Map.Entry<Long, BPage>> it = cache.entrySet().iterator();
            BPage p = it.next().getValue();
            it.remove();
            if (p.dirty) {
                if (!unpublished) store.sync();
                writeBitmap(p);
            }
        }
    }

    /** Writes a bitmap page; a page written for the first time gets its bit in its parent. */
    private void writeBitmap(BPage p) throws IOException {
        store.write(first[p.level] + p.index, encode(p));
        p.dirty = false;
        if (!p.written) {
            p.written = true;
            BPage parent = page(p.level + 1, p.index / BITS_PER_PAGE);
            if (parent.set((int) (p.index % BITS_PER_PAGE))) parent.dirty = true;
        }
    }

    private ByteBuffer encode(BPage p) { return BitmapPageLayout.encode(p.level, p.index, p.bits); }

    public String describe(int level, long index) {
        return store.describe() + ": volume " + volumeName + " block map tree page level " + level + " index " + index
                + " (block " + (first[level] + index) + ")";
    }

    /** Reads and validates a bitmap page known to be written; repair mode rebuilds a bad one from its children. */
    private BPage read(int level, long index) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        store.read(first[level] + index, b);
        BPage p = new BPage(level, index);
        try {
            decode(b, p);
        } catch (CorruptPoolException e) {
            if (repair == null) throw e;
            rebuild(p);
            repair.accept(e.getMessage() + ": rebuilt from its children (" + p.bitCount() + " of " + children(p) + " present)");
        }
        return p;
    }

    private long children(BPage p) {
        return Math.min(count[p.level - 1], (p.index + 1) * BITS_PER_PAGE) - p.index * BITS_PER_PAGE;
    }

    private void decode(ByteBuffer b, BPage p) {
        if (isZero(b)) {
            throw new CorruptPoolException(describe(p.level, p.index) + ": zeroed, but "
                    + (p.level == levels ? "a region's top page is written when the region is created" : "its parent records it as written"));
        }
        int magic = PageHeader.magic(b);
        if (magic != MAGIC) throw new CorruptPoolException(describe(p.level, p.index) + ": bad bitmap page magic 0x" + Integer.toHexString(magic));
        int version = PageHeader.version(b);
        if (version != VERSION) throw new CorruptPoolException(describe(p.level, p.index) + ": unsupported bitmap page version " + version);
        if (PageHeader.crc(b) != PageHeader.storedCrc(b)) throw new CorruptPoolException(describe(p.level, p.index) + ": checksum mismatch");
        int level = BitmapPageLayout.level(b);
        long index = BitmapPageLayout.index(b);
        if (level != p.level || index != p.index || BitmapPageLayout.reserved(b) != 0) {
            throw new CorruptPoolException(describe(p.level, p.index) + ": holds the bitmap page of level " + level + " index " + index);
        }
        BitmapPageLayout.bits(b, p.bits);
        long n = children(p);
        for (long i = n; i < BITS_PER_PAGE; i++) {
            if (p.get((int) i)) throw new CorruptPoolException(describe(p.level, p.index) + ": bit " + i + " set beyond its " + n + " children");
        }
    }

    /**
     * Repair: the page's bits from its children read directly. A child that is not all zeros is
     * taken as written, valid or not (an invalid one is then reported, and reset or rebuilt, by
     * its own validation when it is read); an all-zero child is a hole.
     */
    private void rebuild(BPage p) throws IOException {
        java.util.Arrays.fill(p.bits, 0L);
        long n = children(p);
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
        for (int i = 0; i < n; i++) {
            b.clear();
            store.read(first[p.level - 1] + p.index * BITS_PER_PAGE + i, b);
            if (!isZero(b)) p.set(i);
        }
        p.dirty = true;
    }

    /** Whether a 4 KiB page is all zeros (a hole). */
    public static boolean isZero(ByteBuffer b) { return Block.isZero(b); }

    public synchronized int cachedPages() { return cache.size(); }

    public long levelStart(int level) { return first[level]; }

    public int levelCount() { return levels; }
}
