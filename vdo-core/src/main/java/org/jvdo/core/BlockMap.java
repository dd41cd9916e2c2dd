package org.jvdo.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One volume's logical → physical map: pages of {@link #ENTRIES_PER_PAGE} 8-byte {@link Mapping}
 * entries in a contiguous region of the pool file, read through a bounded LRU cache of pages.
 * Never one Java object per block: a cached page is one {@code long[]}.
 *
 * <p>Page layout (little-endian, page version 2, pool format 3): CRC32C of bytes [4, 4096) at 0,
 * magic "BM" at 4, version u16 at 6, then {@value #ENTRIES_PER_PAGE} mapping entries (u64 each,
 * from offset 8), then one u32 content checksum per entry (from offset {@value #CHECKSUMS_OFFSET}:
 * 32 bits of the block's XXH3-128 fingerprint, see {@link BlockChecksum}; 0 for unmapped and zero
 * entries), then 8 bytes of zeros. A page that was never written is a hole of zeros in the sparse file
 * and means "all unmapped". Dirty pages are written at a checkpoint, or when evicted, and only
 * after the journal entries that changed them are durable (write-ahead rule).
 */
public final class BlockMap {
    public static final int ENTRIES_PER_PAGE = 340;
    public static final int PAGE_MAGIC = 0x4D42;
    public static final int PAGE_VERSION = 2;
    static final int ENTRIES_OFFSET = 8;
    static final int CHECKSUMS_OFFSET = ENTRIES_OFFSET + 8 * ENTRIES_PER_PAGE;
    static {
        if (CHECKSUMS_OFFSET + 4 * ENTRIES_PER_PAGE > BlockStore.BLOCK_SIZE) throw new AssertionError("block-map page overflows");
    }

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

    public BlockMap(String volumeName, BlockStore store, long mapStart, long mapPages, long logicalBlocks,
                    int cachePages, WriteAheadGate gate) {
        this.volumeName = volumeName;
        this.store = store;
        this.mapStart = mapStart;
        this.mapPages = mapPages;
        this.logicalBlocks = logicalBlocks;
        this.gate = gate;
        this.capacity = Math.max(4, cachePages);
        this.cache = new LinkedHashMap<>(64, 0.75f, true);
    }

    public static long pagesFor(long logicalBlocks) {
        return (logicalBlocks + ENTRIES_PER_PAGE - 1) / ENTRIES_PER_PAGE;
    }

    public synchronized long logicalBlocks() { return logicalBlocks; }

    public synchronized long mapStart() { return mapStart; }

    public synchronized long mapPages() { return mapPages; }

    /**
     * Grows the map to {@code newLogicalBlocks}. When the current region has room it only moves
     * the bound; otherwise every page is copied (cached pages from the cache, the others block
     * for block; never-written pages stay holes) to the fresh region at {@code newStart} of
     * {@code newPages} pages, synced, and the map switches to it. The caller holds the pool's
     * mapping write lock, has made the journal durable, and persists the new region in the
     * super block afterwards; until then the old region stays intact.
     */
    public synchronized void grow(long newLogicalBlocks, long newStart, long newPages) throws IOException {
        if (newLogicalBlocks < logicalBlocks) throw new IllegalArgumentException("a block map cannot shrink");
        if (pagesFor(newLogicalBlocks) <= mapPages) { logicalBlocks = newLogicalBlocks; return; }
        if (newPages < pagesFor(newLogicalBlocks)) throw new IllegalArgumentException("new region too small");
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
        for (long pi = 0; pi < mapPages; pi++) {
            Page p = cache.get(pi);
            if (p != null) {
                store.write(newStart + pi, encodePage(p.entries, p.checksums));
                continue;
            }
            b.clear();
            store.read(mapStart + pi, b);
            b.flip();
            boolean zero = true;
            for (int i = 0; i < BlockStore.BLOCK_SIZE; i += 8) if (b.getLong(i) != 0) { zero = false; break; }
            if (!zero) store.write(newStart + pi, b);
        }
        store.sync();
        for (Page p : cache.values()) p.dirty = false;
        mapStart = newStart;
        mapPages = newPages;
        logicalBlocks = newLogicalBlocks;
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
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        store.read(mapStart + index, b);
        try {
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

    /** Repair mode: a page that fails validation is reset to unmapped and reported to {@code report} instead of refused. */
    synchronized void repairBadPages(java.util.function.Consumer<String> report) { this.badPageRepair = report; }

    /** First block of the region (tests, checks). */
    long regionStart() { return mapStart; }

    private String describePage(long index) {
        return store.describe() + ": volume " + volumeName + " block map page " + index + " (block " + (mapStart + index) + ")";
    }

    /** Decodes a page into {@code entries} and {@code checksums}; an all-zero page is empty. */
    static void decodePage(ByteBuffer b, long[] entries, int[] checksums, String where) {
        decodePage(b, entries, checksums, () -> where);
    }

    /** As above; {@code where} names the page for error messages and is built only on an error. */
    static void decodePage(ByteBuffer b, long[] entries, int[] checksums, java.util.function.Supplier<String> where) {
        b.order(ByteOrder.LITTLE_ENDIAN);
        int crcStored = b.getInt(0);
        int magic = b.getShort(4) & 0xFFFF;
        if (crcStored == 0 && magic == 0) {
            boolean allZero = true;
            for (int i = 0; i < BlockStore.BLOCK_SIZE; i += 8) if (b.getLong(i) != 0) { allZero = false; break; }
            if (allZero) { java.util.Arrays.fill(entries, 0L); java.util.Arrays.fill(checksums, 0); return; }
        }
        if (magic != PAGE_MAGIC) throw new CorruptPoolException(where.get() + ": bad page magic 0x" + Integer.toHexString(magic));
        int version = b.getShort(6) & 0xFFFF;
        if (version != PAGE_VERSION) throw new CorruptPoolException(where.get() + ": unsupported page version " + version);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 4, BlockStore.BLOCK_SIZE - 4);
        if ((int) crc.getValue() != crcStored) throw new CorruptPoolException(where.get() + ": checksum mismatch");
        for (int i = 0; i < ENTRIES_PER_PAGE; i++) {
            long m = b.getLong(ENTRIES_OFFSET + i * 8);
            int sum = b.getInt(CHECKSUMS_OFFSET + i * 4);
            if (!Mapping.isValid(m) || (!Mapping.hasBlock(m) && sum != 0)) {
                throw new CorruptPoolException(where.get() + ": entry " + i + " is invalid " + Mapping.describe(m)
                        + (Mapping.hasBlock(m) ? "" : " with checksum 0x" + Integer.toHexString(sum)));
            }
            entries[i] = m;
            checksums[i] = sum;
        }
    }

    static ByteBuffer encodePage(long[] entries, int[] checksums) {
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(4, (short) PAGE_MAGIC);
        b.putShort(6, (short) PAGE_VERSION);
        for (int i = 0; i < ENTRIES_PER_PAGE; i++) {
            b.putLong(ENTRIES_OFFSET + i * 8, entries[i]);
            b.putInt(CHECKSUMS_OFFSET + i * 4, checksums[i]);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 4, BlockStore.BLOCK_SIZE - 4);
        b.putInt(0, (int) crc.getValue());
        return b;
    }

    private void writePage(long index, Page p) throws IOException {
        store.write(mapStart + index, encodePage(p.entries, p.checksums));
        p.dirty = false;
    }

    /** Writes every dirty page (the caller has made the journal durable first); returns pages written. */
    public synchronized int writeDirtyPages() throws IOException {
        int n = 0;
        for (Map.Entry<Long, Page> e : cache.entrySet()) {
            if (e.getValue().dirty) { writePage(e.getKey(), e.getValue()); n++; }
        }
        return n;
    }


    /** Visits every entry that is not unmapped: {@code visitor.visit(lbn, mapping)}; reads pages not cached without caching them. */
    public void forEachMapped(MappingVisitor visitor) throws IOException {
        forEachEntry((lbn, m, sum) -> visitor.visit(lbn, m));
    }

    /** As {@link #forEachMapped}, with each entry's content checksum. */
    public synchronized void forEachEntry(EntryVisitor visitor) throws IOException {
        long[] tmp = new long[ENTRIES_PER_PAGE];
        int[] tmpSums = new int[ENTRIES_PER_PAGE];
        ByteBuffer b = ByteBuffer.allocate(BlockStore.BLOCK_SIZE);
        for (long pi = 0; pi < mapPages; pi++) {
            long[] entries;
            int[] sums;
            Page p = cache.get(pi);
            if (p != null) {
                entries = p.entries;
                sums = p.checksums;
            } else {
                b.clear();
                store.read(mapStart + pi, b);
                long page = pi;
                try {
                    decodePage(b, tmp, tmpSums, () -> describePage(page));
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
        }
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
