package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

import org.jvdo.format.RefCountLayout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Physical space: slabs of data blocks, one reference-count byte per block (as dm-vdo: 0 free,
 * up to {@link #MAX_REFS} shares), and the allocator.
 *
 * <p>A block whose count drops to zero is not reusable at once: it is parked as
 * {@link #PENDING_FREE} until the journal entry that dropped its last reference is durable, so
 * that after a crash no replayed mapping can point at a block that was rewritten with other data.
 *
 * <p>Counts are held in memory (one byte per 4 KiB block: 256 MiB per TiB of storage) and written
 * to each slab's reference blocks at a clean close; after a crash they are recomputed from the
 * block maps, which are the truth. The reference blocks' layout and their CRC are {@link
 * RefCountLayout}'s (format module).
 *
 * <p>Allocation does not scan (issue 12): each slab keeps a {@link FreeBlockBitmap} of its free
 * blocks (count 0 and not write-locked) and its free count, and a {@link SlabPriorityTable}
 * orders the slabs by free count (dm-vdo's slab summary and priority table). The allocator takes
 * the next free block at or after its cursor in the cursor's slab (wrapping to the slab's start),
 * and once that slab is full, the slab with the most free blocks; both steps cost the same in an
 * empty pool and a full one. A block freed while still write-locked becomes allocatable only at
 * its {@link #endWrite}.
 *
 * <p>Why over 400 lines: counts, parked frees, write locks, reservations and the free-block
 * structures change together under one monitor, and every change of a count to or from zero must
 * update all of them at once; splitting them would spread that invariant over several classes.
 */
public final class SlabDepot {
    public static final int MAX_REFS = RefCountLayout.MAX_REFS;
    public static final byte PENDING_FREE = (byte) 255;

    /** Returns where the next slab starts when the depot grows (computed from the format-2 slab area; nothing is persisted). */
    public interface SlabAllocator {
        long addSlab() throws IOException;
    }

    private final int slabDataBlocks;
    private final int slabRefBlocks;
    private final long physicalLimit;
    private final SlabAllocator slabAllocator;
    /** First block of the computed slab area (slab i at areaStart + i * stride), or -1 for a listed layout. */
    private final long areaStart;
    private final int areaSlabs;
    private long[] starts = new long[0];
    private byte[][] refs = new byte[0][];
    private int[] free = new int[0];
    private int[] usable = new int[0];
    /** Per slab, its free blocks (count 0, not write-locked): where the next free block is, without a scan. */
    private FreeBlockBitmap[] freeMap = new FreeBlockBitmap[0];
    /** The slabs with free blocks by how many: the next slab once the cursor's slab is full. */
    private final SlabPriorityTable priority = new SlabPriorityTable();
    private int cursorSlab;
    private int cursorBlock;
    private long dataBlocksUsed;
    /** Highest {@link #dataBlocksUsed} since made or loaded. */
    private long peakDataBlocksUsed;
    /** Free blocks in attached slabs: what reservations may count on (a slab not attached yet may find no space in the host filesystem). */
    private long freeAttached;
    private long reserved;
    private long pendingCount;
    // pending frees as pairs (pbn, journal seq), in seq order
    private long[] pending = new long[1024];
    private int pendingHead, pendingTail;
    /** Blocks allocated to a write whose data is not on disk yet: not shareable (see {@link PbnWriteLocks}). */
    private final PbnWriteLocks writing = new PbnWriteLocks();

    public SlabDepot(int slabDataBlocks, long physicalLimit, List<Long> slabStarts, SlabAllocator slabAllocator) {
        this.slabDataBlocks = slabDataBlocks;
        this.slabRefBlocks = refBlocksFor(slabDataBlocks);
        this.physicalLimit = physicalLimit;
        this.slabAllocator = slabAllocator;
        this.areaStart = -1;
        this.areaSlabs = 0;
        for (long s : slabStarts) attach(s);
    }

    /**
     * A depot over a computed slab area (format 2): slab {@code i} starts at
     * {@code areaStart + i * (refBlocks + slabDataBlocks)}; the first {@code slabsInUse} are
     * attached now, the others when allocation or a rebuild reaches them.
     */
    public SlabDepot(int slabDataBlocks, long physicalLimit, long areaStart, int slabsInUse, SlabAllocator slabAllocator) {
        this.slabDataBlocks = slabDataBlocks;
        this.slabRefBlocks = refBlocksFor(slabDataBlocks);
        this.physicalLimit = physicalLimit;
        this.slabAllocator = slabAllocator;
        this.areaStart = areaStart;
        this.areaSlabs = (int) ((physicalLimit + slabDataBlocks - 1) / slabDataBlocks);
        if (slabsInUse > areaSlabs) throw new CorruptPoolException(slabsInUse + " slabs in use, more than the " + areaSlabs + " of the slab area");
        attachUpTo(slabsInUse);
    }

    /** Attaches the computed area's slabs up to (not including) {@code count}, growing the arrays once. */
    private void attachUpTo(int count) {
        int n = starts.length;
        if (count <= n) return;
        growTo(count);
        for (int i = n; i < count; i++) initSlab(i, slabStart(i));
    }

    /** Grows the per-slab arrays to {@code count} slabs. */
    private void growTo(int count) {
        starts = java.util.Arrays.copyOf(starts, count);
        refs = java.util.Arrays.copyOf(refs, count);
        free = java.util.Arrays.copyOf(free, count);
        usable = java.util.Arrays.copyOf(usable, count);
        freeMap = java.util.Arrays.copyOf(freeMap, count);
        priority.ensureCapacity(count);
    }

    /** Sets up slab {@code i} at {@code start}, every usable block free. */
    private void initSlab(int i, long start) {
        starts[i] = start;
        long remaining = physicalLimit - (long) i * slabDataBlocks;
        usable[i] = (int) Math.max(0, Math.min(slabDataBlocks, remaining));
        refs[i] = new byte[slabDataBlocks];
        freeMap[i] = new FreeBlockBitmap(slabDataBlocks);
        freeMap[i].resetTo(usable[i]);
        free[i] = usable[i];
        freeAttached += usable[i];
        priority.update(i, free[i]);
    }

    /** Where slab {@code i} of the computed area starts. */
    public long slabStart(int i) {
        if (areaStart < 0 || i < 0 || i >= areaSlabs) throw new IllegalStateException("slab " + i + " outside the slab area of " + areaSlabs + " slabs");
        return areaStart + (long) i * (slabRefBlocks + slabDataBlocks);
    }

    /**
     * Attaches the slabs of the computed area up to the one holding {@code pbn} (a rebuild after
     * a crash may meet blocks of slabs attached after the last clean close). False when
     * {@code pbn} is outside the area.
     */
    private boolean attachThrough(long pbn) {
        if (areaStart < 0 || pbn < areaStart) return false;
        long i = (pbn - areaStart) / (slabRefBlocks + (long) slabDataBlocks);
        if (i >= areaSlabs || i < starts.length) return false;
        attachUpTo((int) i + 1);
        return true;
    }

    public static int refBlocksFor(int slabDataBlocks) { return RefCountLayout.refBlocksFor(slabDataBlocks); }

    private void attach(long start) {
        int n = starts.length;
        growTo(n + 1);
        initSlab(n, start);
    }

    public int slabDataBlocks() { return slabDataBlocks; }

    public int slabRefBlocks() { return slabRefBlocks; }

    public int slabCount() { return starts.length; }

    public long physicalLimit() { return physicalLimit; }

    private int slabOf(long pbn) {
        int lo = 0, hi = starts.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long first = starts[mid] + slabRefBlocks;
            if (pbn < first) hi = mid - 1;
            else if (pbn >= first + usable[mid]) lo = mid + 1;
            else return mid;
        }
        return -1;
    }

    /** True when {@code pbn} is a data block of this depot. */
    public synchronized boolean isDataBlock(long pbn) { return slabOf(pbn) >= 0; }

    private int indexIn(int slab, long pbn) { return (int) (pbn - starts[slab] - slabRefBlocks); }

    private long available() { return physicalLimit - dataBlocksUsed - pendingCount - reserved; }

    /**
     * Sets one free block aside for a write that is acknowledged before it is stored, so that
     * the write cannot later fail for want of space. False when none is free in an attached
     * slab: attaching one needs space in the host filesystem, which may be full, so only blocks
     * of attached slabs (whose file range is reserved) are promised.
     */
    public synchronized boolean tryReserve() {
        if (available() <= 0 || freeAttached - reserved <= 0) return false;
        reserved++;
        return true;
    }

    public synchronized void unreserve() {
        if (reserved <= 0) throw new IllegalStateException("no reservation to release");
        reserved--;
    }

    /** Allocates the block a reservation set aside. */
    public synchronized long allocateReserved(int initialRefs) throws IOException {
        unreserve();
        long pbn = allocateBlock(initialRefs, true);
        writing.add(pbn);
        return pbn;
    }

    public synchronized long reservedBlocks() { return reserved; }

    /**
     * Allocates a free block with {@code initialRefs} references and takes its write lock, which
     * the caller releases with {@link #endWrite} once the block's data write has finished;
     * ENOSPC when the pool is full.
     */
    public synchronized long allocate(int initialRefs) throws IOException {
        long pbn = allocateBlock(initialRefs, false);
        writing.add(pbn);
        return pbn;
    }

    /** The block's data write has finished (or failed): from now on a read returns what it holds, so dedup may share it. */
    public synchronized void endWrite(long pbn) {
        if (!writing.remove(pbn)) throw new IllegalStateException("block " + pbn + " was not being written");
        int s = slabOf(pbn);
        if (s >= 0 && refs[s][indexIn(s, pbn)] == 0) markFree(s, indexIn(s, pbn));   // freed while locked: free from now on
    }

    /** One more data block in use (allocated or shared from count 0); keeps the peak. */
    private void oneMoreUsed() {
        if (++dataBlocksUsed > peakDataBlocksUsed) peakDataBlocksUsed = dataBlocksUsed;
    }

    /** Block {@code b} of slab {@code s} (count 0, not write-locked) becomes allocatable. */
    private void markFree(int s, int b) {
        if (freeMap[s].get(b)) return;
        freeMap[s].set(b);
        free[s]++;
        freeAttached++;
        priority.update(s, free[s]);
    }

    /** Block {@code b} of slab {@code s} is taken; false when it was not free (a count-0 block still write-locked). */
    private boolean markTaken(int s, int b) {
        if (!freeMap[s].get(b)) return false;
        freeMap[s].clear(b);
        free[s]--;
        freeAttached--;
        priority.update(s, free[s]);
        return true;
    }

    /** True while {@code pbn} is allocated but its data is not written (tests, checks). */
    public synchronized boolean isBeingWritten(long pbn) { return writing.contains(pbn); }

    /**
     * Takes a free block. An allocation without a reservation leaves the attached slabs' free
     * blocks that reservations count on: when only those are left it attaches a new slab first
     * (whose space {@link SlabAllocator#addSlab} may find unavailable: then ENOSPC and nothing
     * changed, and a later allocation tries again).
     */
    private long allocateBlock(int initialRefs, boolean fromReservation) throws IOException {
        if (available() <= 0) {
            throw new VdoException(Errno.ENOSPC, "pool is out of physical space: " + dataBlocksUsed + " of " + physicalLimit
                    + " data blocks used, " + reserved + " reserved" + (pendingCount > 0 ? ", " + pendingCount + " waiting for a journal commit" : ""));
        }
        if (freeAttached - (fromReservation ? 0 : reserved) <= 0) {
            if ((long) starts.length * slabDataBlocks >= physicalLimit) {
                throw new VdoException(Errno.ENOSPC, "pool is out of physical space: " + dataBlocksUsed + " of " + physicalLimit
                        + " data blocks used, " + reserved + " reserved" + (pendingCount > 0 ? ", " + pendingCount + " waiting for a journal commit" : ""));
            }
            long start = slabAllocator.addSlab();
            attach(start);
            cursorSlab = starts.length - 1;
            cursorBlock = 0;
        }
        // the cursor's slab while it has free blocks (from the cursor on, then from its start),
        // else the slab with the most free blocks: no scan of counts or of slabs
        int s = cursorSlab < starts.length && free[cursorSlab] > 0 ? cursorSlab : priority.best();
        if (s >= 0) {
            FreeBlockBitmap map = freeMap[s];
            int b = map.nextSet(s == cursorSlab ? cursorBlock : 0);
            if (b < 0) b = map.nextSet(0);
            if (b >= 0 && b < usable[s] && refs[s][b] == 0) {
                markTaken(s, b);
                refs[s][b] = (byte) initialRefs;
                oneMoreUsed();
                cursorSlab = s;
                cursorBlock = b + 1;
                return starts[s] + slabRefBlocks + b;
            }
        }
        throw new IllegalStateException("slab depot: " + freeAttached + " free blocks counted in attached slabs, none found");
    }

    /**
     * Adds a reference if the block is live, below the maximum, and not being written (dedup
     * sharing): a block allocated to a new write still holds its previous user's bytes until
     * that write lands, and a verify that read them would share the wrong block.
     */
    public synchronized boolean incrementIfLive(long pbn) {
        if (writing.contains(pbn)) return false;
        int s = slabOf(pbn);
        if (s < 0) return false;
        int i = indexIn(s, pbn);
        int v = refs[s][i] & 0xFF;
        if (v == 0 || v >= MAX_REFS) return false;
        refs[s][i] = (byte) (v + 1);
        return true;
    }

    /** Adds a reference unconditionally (rebuilding counts); false when the block is not in the depot or overflows. */
    public synchronized boolean increment(long pbn) {
        int s = slabOf(pbn);
        if (s < 0 && attachThrough(pbn)) s = slabOf(pbn);
        if (s < 0) return false;
        int i = indexIn(s, pbn);
        int v = refs[s][i] & 0xFF;
        if (v >= MAX_REFS) return false;
        if (v == 0) {
            markTaken(s, i);
            oneMoreUsed();
        }
        refs[s][i] = (byte) (v + 1);
        return true;
    }

    /** Drops a reference; at zero the block waits for journal entry {@code journalSeq} to be durable. */
    public synchronized void decrement(long pbn, long journalSeq) {
        int s = slabOf(pbn);
        if (s < 0) throw new CorruptPoolException("decrement of block " + pbn + " outside the slab depot");
        int i = indexIn(s, pbn);
        int v = refs[s][i] & 0xFF;
        if (v == 0 || v == 0xFF) throw new CorruptPoolException("reference count underflow on block " + pbn);
        if (v > 1) { refs[s][i] = (byte) (v - 1); return; }
        refs[s][i] = PENDING_FREE;
        dataBlocksUsed--;
        pendingCount++;
        if (pendingTail + 2 > pending.length) {
            if (pendingHead > 0) {
                System.arraycopy(pending, pendingHead, pending, 0, pendingTail - pendingHead);
                pendingTail -= pendingHead;
                pendingHead = 0;
            }
            if (pendingTail + 2 > pending.length) pending = java.util.Arrays.copyOf(pending, pending.length * 2);
        }
        pending[pendingTail++] = pbn;
        pending[pendingTail++] = journalSeq;
    }

    /** Frees parked blocks whose releasing journal entry is now durable. */
    public synchronized void releaseFreed(long durableSeq) {
        while (pendingHead < pendingTail && pending[pendingHead + 1] <= durableSeq) {
            long pbn = pending[pendingHead];
            int s = slabOf(pbn);
            int i = indexIn(s, pbn);
            if (refs[s][i] == PENDING_FREE) {
                refs[s][i] = 0;
                if (!writing.contains(pbn)) markFree(s, i);   // else at its endWrite
            }
            pendingCount--;
            pendingHead += 2;
        }
        if (pendingHead == pendingTail) { pendingHead = 0; pendingTail = 0; }
    }

    /** The count of {@code pbn}: 0 for free or parked blocks, -1 outside the depot. */
    public synchronized int refcount(long pbn) {
        int s = slabOf(pbn);
        if (s < 0) return -1;
        int v = refs[s][indexIn(s, pbn)] & 0xFF;
        return v == 0xFF ? 0 : v;
    }

    public synchronized long dataBlocksUsed() { return dataBlocksUsed; }

    /** The most data blocks in use at once since this depot was made or loaded (zram's mem_used_max). */
    public synchronized long peakDataBlocksUsed() { return peakDataBlocksUsed; }

    public synchronized long pendingFree() { return pendingCount; }

    /** Forgets every count (before recomputing them from the block maps). */
    public synchronized void clear() {
        freeAttached = 0;
        for (int s = 0; s < refs.length; s++) {
            java.util.Arrays.fill(refs[s], (byte) 0);
            free[s] = usable[s];
            freeAttached += usable[s];
            freeMap[s].resetTo(usable[s]);
            priority.update(s, free[s]);
        }
        dataBlocksUsed = 0;
        pendingHead = pendingTail = 0;
        pendingCount = 0;
        reserved = 0;
        writing.clear();
    }

    /** Every slab's counts, for checks: calls {@code visitor(pbn, count)} for each non-free block. */
    public synchronized void forEachUsed(java.util.function.ObjLongConsumer<Integer> visitor) {
        for (int s = 0; s < refs.length; s++) {
            for (int b = 0; b < usable[s]; b++) {
                int v = refs[s][b] & 0xFF;
                if (v != 0 && v != 0xFF) visitor.accept(v, starts[s] + slabRefBlocks + b);
            }
        }
    }

    /** Writes every slab's counts to its reference blocks; returns the CRC32C of all of them. */
    public synchronized int save(BlockStore store) throws IOException {
        CRC32C crc = new CRC32C();
        for (int s = 0; s < refs.length; s++) {
            ByteBuffer b = RefCountLayout.encode(refs[s], slabRefBlocks);   // PENDING_FREE is stored as free
            RefCountLayout.update(crc, b, slabDataBlocks);
            store.write(starts[s], b);
        }
        return (int) crc.getValue();
    }

    /** Loads counts written by {@link #save}; false when their checksum does not match (then recompute). */
    public synchronized boolean load(BlockStore store, int expectedCrc) throws IOException {
        CRC32C crc = new CRC32C();
        byte[][] loaded = new byte[refs.length][];
        for (int s = 0; s < refs.length; s++) {
            ByteBuffer b = ByteBuffer.allocate(slabRefBlocks * BlockStore.BLOCK_SIZE);
            store.read(starts[s], b);
            RefCountLayout.update(crc, b, slabDataBlocks);
            loaded[s] = java.util.Arrays.copyOf(b.array(), slabDataBlocks);
        }
        if ((int) crc.getValue() != expectedCrc) return false;
        dataBlocksUsed = 0;
        freeAttached = 0;
        for (int s = 0; s < refs.length; s++) {
            refs[s] = loaded[s];
            int used = 0;
            freeMap[s].resetTo(usable[s]);
            for (int b = 0; b < usable[s]; b++) if (refs[s][b] != 0) { used++; freeMap[s].clear(b); }
            for (int b = usable[s]; b < slabDataBlocks; b++) refs[s][b] = 0;
            free[s] = usable[s] - used;
            freeAttached += free[s];
            dataBlocksUsed += used;
            priority.update(s, free[s]);
        }
        peakDataBlocksUsed = Math.max(peakDataBlocksUsed, dataBlocksUsed);
        return true;
    }

    /**
     * Attaches the next slab ahead of need (its space reserved by {@link SlabAllocator#addSlab})
     * when the attached slabs have fewer than {@code low} free blocks not promised to a
     * reservation, so writes can keep being acknowledged early across slab boundaries. False
     * when none was needed or none is left; the allocator's ENOSPC when there is no space for it.
     */
    public synchronized boolean attachAhead(long low) throws IOException {
        if (freeAttached - reserved >= low || (long) starts.length * slabDataBlocks >= physicalLimit) return false;
        attach(slabAllocator.addSlab());
        return true;
    }

    /** First block and length of slab {@code s}'s file range (its reference blocks and usable data blocks). */
    public synchronized long[] slabRange(int s) { return new long[]{starts[s], slabRefBlocks + usable[s]}; }

    public long overheadBlocks() { return (long) starts.length * slabRefBlocks; }
}
