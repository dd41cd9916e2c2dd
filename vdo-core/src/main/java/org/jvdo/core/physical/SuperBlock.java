package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.UnsupportedFormatException;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;


import org.jvdo.format.SuperBlockLayout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.jvdo.format.SuperBlockLayout.*;

/**
 * The pool's super block: what a pool is (magic, format version, UUID, geometry) and where
 * everything lives (journal, slab area, volume block maps). Its byte layout is declared by
 * {@link SuperBlockLayout} (format module); this class holds the values, encodes and decodes
 * them with those offsets, and checks that a decoded copy adds up.
 *
 * <p>Format 3 (format 2 plus the block-map tree): the layout is computed, not listed. At format time the slab area is sized for the
 * whole physical size: slab {@code i} starts at {@code slabAreaStart + i * (slabRefBlocks +
 * slabDataBlocks)}, {@code slabCount = ceil(physicalLimit / slabDataBlocks)}, and block-map
 * regions are taken from {@code mapAreaStart} (the slab area's end) upwards, up to
 * {@code nextRegionBlock}, which is also the layout's end: the pool file is extended to it
 * whenever it grows, so a shorter file means truncation. Adding a slab at run time changes no
 * persistent layout.
 *
 * <p>A volume's block-map region starts at its {@code map start} and is {@link
 * BlockMap#regionBlocks}{@code (map pages)} blocks long: {@code map pages} leaf pages (the leaf
 * capacity), then the bitmap pages of its {@link BlockMapTree} level by level, the single top
 * page last. The top page is written (and synced) before the record that refers to the region.
 *
 * <p>Pools of format 1 (a listed slab table of at most 3191 slabs) and format 2 (regions of
 * leaf pages only, where a zeroed page could not be told from a never-written one) are refused
 * untouched, with advice; they are not converted.
 *
 * <p>Two copies (blocks 0..7 and 8..15) are written alternately with a generation number, each
 * write synced before the next may start, so a write torn by power loss leaves the previous
 * copy valid. The layout of a copy is {@link SuperBlockLayout}'s; the segment shift says the
 * pool's blocks are in files of 2^shift blocks each (see {@link SegmentedBlockStore}), the volume
 * records' used and zero blocks are statistics, exact after a clean close.
 */
public final class SuperBlock {
    public static final long MAGIC = SuperBlockLayout.MAGIC;
    public static final int MAJOR = SuperBlockLayout.MAJOR;
    /** Format 4.0 (a cluster member's pool: foreign mappings); this jvdo reads 3.x and 4.0. */
    public static final int FOREIGN_MAJOR = SuperBlockLayout.FOREIGN_MAJOR;
    public static final int MINOR = SuperBlockLayout.MINOR;
    public static final int COPY_BLOCKS = SuperBlockLayout.COPY_BLOCKS;
    public static final int COPY_BYTES = SuperBlockLayout.COPY_BYTES;
    public static final long JOURNAL_START = SuperBlockLayout.JOURNAL_START;
    /** Segments hold at least the super block copies (2^4 = 16 blocks) so both are in segment 0. */
    public static final int JOURNAL_START_SHIFT = SuperBlockLayout.MIN_SEGMENT_SHIFT;
    public static final int MAX_NAME = SuperBlockLayout.MAX_NAME;
    public static final int MAX_VOLUMES = SuperBlockLayout.MAX_VOLUMES;
    /** Largest physical size: 2^36 data blocks = 256 TiB (dm-vdo's limit). */
    public static final long MAX_PHYSICAL_BLOCKS = SuperBlockLayout.MAX_PHYSICAL_BLOCKS;
    /** Most slabs a pool may have (the in-memory slab arrays are indexed by int). */
    public static final int MAX_SLABS = SuperBlockLayout.MAX_SLABS;
    /**
     * Largest volume: 2^40 blocks = 4 PiB (dm-vdo's logical limit). The write path's LBN lock
     * key is {@code (volumeId << LBN_KEY_BITS) | lbn}, so every LBN must stay below
     * 2^{@value #LBN_KEY_BITS}; the static check below keeps this limit under it.
     */
    public static final long MAX_LOGICAL_BLOCKS = SuperBlockLayout.MAX_LOGICAL_BLOCKS;
    /** Bits of the LBN in the write path's lock key ({@code WritePath.key}). */
    public static final int LBN_KEY_BITS = 48;
    /** Largest layout end in blocks (its byte offset must fit a signed long with room to spare). */
    public static final long MAX_LAYOUT_BLOCKS = SuperBlockLayout.MAX_LAYOUT_BLOCKS;

    static {
        if (MAX_LOGICAL_BLOCKS > 1L << LBN_KEY_BITS) throw new AssertionError("MAX_LOGICAL_BLOCKS must stay below the lock key's LBN field");
    }

    /** One volume's record. */
    public static final class VolumeRecord {
        public int id;
        public String name;
        public int engine;
        public long logicalBlocks;
        public long mapStart;
        public long mapPages;
        public long usedBlocks;
        public long zeroBlocks;

        public VolumeRecord(int id, String name, int engine, long logicalBlocks, long mapStart, long mapPages) {
            this.id = id; this.name = name; this.engine = engine;
            this.logicalBlocks = logicalBlocks; this.mapStart = mapStart; this.mapPages = mapPages;
        }
    }

    public int major = MAJOR;
    public int minor = MINOR;
    public long generation;
    public UUID uuid;
    public long nonce;
    public int journalBlocks;
    public long journalStart = JOURNAL_START;
    public int slabDataBlocks;
    public int slabRefBlocks;
    public long physicalLimit;
    public long nextRegionBlock;
    public long journalHeadBlockSeq = 1;
    public long journalHeadEntrySeq = 1;
    public boolean clean;
    public boolean readOnly;
    public String readOnlyReason = "";
    public int refcountCrc;
    public final List<VolumeRecord> volumes = new ArrayList<>();
    /** Slabs whose reference blocks the last clean close saved (the depot attaches these at open). */
    public int slabsInUse;
    public long slabAreaStart;
    public int slabCount;
    /** Not stored: when this super block was read, why the other copy was unusable (null: both were valid). */
    public transient String badCopy;
    /** log2 of the blocks per segment file ({@link SegmentedBlockStore}); fixed at format. */
    public int segmentShift = SegmentedBlockStore.MAX_SEGMENT_SHIFT;
    public long mapAreaStart;
    /**
     * Format 3.1: how many times an owner claimed this pool (docs/cluster.md: a cluster member
     * bumps it, synced, before any other write; a member whose epoch is no longer the pool's
     * stops writing). 0 for 3.0 pools and pools never served by a cluster member.
     */
    public long ownerEpoch;
    /** Format 3.1: the cluster member that claimed the pool last, or null. */
    public UUID ownerMember;

    /**
     * Fixes the computed layout for a new pool: the slab area right after the journal, sized for
     * the whole physical size, and the map area after it. Refuses sizes beyond the limits.
     */
    public void formatLayout() {
        if (physicalLimit <= 0 || physicalLimit > MAX_PHYSICAL_BLOCKS) {
            throw new VdoException(Errno.EINVAL, "physical size " + physicalLimit * BlockStore.BLOCK_SIZE + " bytes is beyond the limit of "
                    + (MAX_PHYSICAL_BLOCKS * BlockStore.BLOCK_SIZE >> 40) + " TiB (SuperBlock.MAX_PHYSICAL_BLOCKS = 2^36 blocks)");
        }
        long slabs = (physicalLimit + slabDataBlocks - 1) / slabDataBlocks;
        if (slabs > MAX_SLABS) {
            throw new VdoException(Errno.EINVAL, "physical size " + physicalLimit * BlockStore.BLOCK_SIZE + " bytes needs " + slabs
                    + " slabs of " + slabDataBlocks + " blocks, more than the limit of " + MAX_SLABS + " slabs (SuperBlock.MAX_SLABS); use larger slabs");
        }
        slabAreaStart = journalStart + journalBlocks;
        slabCount = (int) slabs;
        mapAreaStart = slabAreaStart + slabs * (slabRefBlocks + (long) slabDataBlocks);
        nextRegionBlock = mapAreaStart;
    }

    /** Where slab {@code i} (its reference blocks, then its data blocks) starts. */
    public long slabStart(int i) {
        if (i < 0 || i >= slabCount) throw new IllegalArgumentException("slab " + i + " outside the slab area of " + slabCount + " slabs");
        return slabAreaStart + (long) i * (slabRefBlocks + slabDataBlocks);
    }

    /** Refuses a volume size beyond {@link #MAX_LOGICAL_BLOCKS}. */
    public static void checkLogicalSize(String volume, long blocks) {
        if (blocks > MAX_LOGICAL_BLOCKS) {
            throw new VdoException(Errno.EINVAL, "volume " + volume + ": size " + blocks * BlockStore.BLOCK_SIZE + " bytes is beyond the limit of "
                    + (MAX_LOGICAL_BLOCKS * BlockStore.BLOCK_SIZE >> 50) + " PiB (SuperBlock.MAX_LOGICAL_BLOCKS = 2^40 blocks)");
        }
    }

    public ByteBuffer encode() { return encode(generation); }

    private ByteBuffer encode(long gen) {
        if (volumes.size() > MAX_VOLUMES) throw new IllegalStateException("too many volumes: " + volumes.size());
        ByteBuffer b = ByteBuffer.allocate(COPY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC_OFFSET, MAGIC);
        b.putShort(MAJOR_OFFSET, (short) major);
        b.putShort(MINOR_OFFSET, (short) minor);
        b.putLong(GENERATION, gen);
        b.putLong(UUID_HIGH, uuid.getMostSignificantBits());
        b.putLong(UUID_LOW, uuid.getLeastSignificantBits());
        b.putLong(NONCE, nonce);
        b.putInt(BLOCK_SIZE_OFFSET, BlockStore.BLOCK_SIZE);
        b.putInt(JOURNAL_BLOCKS, journalBlocks);
        b.putLong(JOURNAL_START_OFFSET, journalStart);
        b.putInt(SLAB_DATA_BLOCKS, slabDataBlocks);
        b.putInt(SLAB_REF_BLOCKS, slabRefBlocks);
        b.putLong(PHYSICAL_LIMIT, physicalLimit);
        b.putLong(NEXT_REGION_BLOCK, nextRegionBlock);
        b.putLong(JOURNAL_HEAD_BLOCK_SEQ, journalHeadBlockSeq);
        b.putLong(JOURNAL_HEAD_ENTRY_SEQ, journalHeadEntrySeq);
        b.put(CLEAN, (byte) (clean ? 1 : 0));
        b.put(READ_ONLY, (byte) (readOnly ? 1 : 0));
        b.putShort(VOLUME_COUNT, (short) volumes.size());
        b.putInt(SLABS_IN_USE, slabsInUse);
        b.putInt(REFCOUNT_CRC, refcountCrc);
        byte[] reason = truncate(readOnlyReason == null ? "" : readOnlyReason, MAX_REASON);
        b.putShort(REASON_LENGTH, (short) reason.length);
        b.put(REASON, reason);
        b.putLong(SLAB_AREA_START, slabAreaStart);
        b.putInt(SLAB_COUNT, slabCount);
        b.putInt(SEGMENT_SHIFT, segmentShift);
        b.putLong(MAP_AREA_START, mapAreaStart);
        if (major > MAJOR || minor >= 1) {
            b.putLong(OWNER_EPOCH, ownerEpoch);
            b.putLong(OWNER_MEMBER_HIGH, ownerMember == null ? 0 : ownerMember.getMostSignificantBits());
            b.putLong(OWNER_MEMBER_LOW, ownerMember == null ? 0 : ownerMember.getLeastSignificantBits());
        }
        int p = VOLUMES;
        for (VolumeRecord v : volumes) {
            byte[] name = v.name.getBytes(StandardCharsets.UTF_8);
            if (name.length > MAX_NAME) throw new IllegalArgumentException("volume name too long: " + v.name);
            b.putShort(p + REC_ID, (short) v.id);
            b.put(p + REC_NAME_LENGTH, (byte) name.length);
            b.put(p + REC_NAME, name);
            b.put(p + REC_ENGINE, (byte) v.engine);
            b.putLong(p + REC_LOGICAL_BLOCKS, v.logicalBlocks);
            b.putLong(p + REC_MAP_START, v.mapStart);
            b.putLong(p + REC_MAP_PAGES, v.mapPages);
            b.putLong(p + REC_USED_BLOCKS, v.usedBlocks);
            b.putLong(p + REC_ZERO_BLOCKS, v.zeroBlocks);
            p += VOLUME_RECORD;
        }
        seal(b, volumes.size());
        return b;
    }

    private static byte[] truncate(String s, int max) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= max) return bytes;
        byte[] t = new byte[max];
        System.arraycopy(bytes, 0, t, 0, max);
        return t;
    }

    /** Decodes one copy; throws {@link CorruptPoolException} with the reason when it is not a valid super block. */
    public static SuperBlock decode(ByteBuffer src, String where) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getLong(MAGIC_OFFSET) != MAGIC) throw new CorruptPoolException(where + ": not a jvdo pool (bad super block magic)");
        int major = b.getShort(MAJOR_OFFSET) & 0xFFFF, minor = b.getShort(MINOR_OFFSET) & 0xFFFF;
        if (major != MAJOR && !(major == FOREIGN_MAJOR && minor == 0)) {
            throw new UnsupportedFormatException(where + ": pool format version " + major + "." + minor
                    + " is not supported (this jvdo reads formats " + MAJOR + ".x and " + FOREIGN_MAJOR + ".0 only"
                    + (major < MAJOR ? "; format " + major + " pools are not converted: copy each volume's contents to a new pool"
                            + " with the jvdo release that wrote this one, or re-create the pool)" : ")"));
        }
        int used = b.getInt(USED_LENGTH);
        if (used < usedLength(0) || used > COPY_BYTES) throw new CorruptPoolException(where + ": super block length " + used + " out of range");
        if (!checksumMatches(b, used)) throw new CorruptPoolException(where + ": super block checksum mismatch");
        if (b.getInt(BLOCK_SIZE_OFFSET) != BlockStore.BLOCK_SIZE) throw new CorruptPoolException(where + ": block size " + b.getInt(BLOCK_SIZE_OFFSET) + " unsupported");
        SuperBlock s = new SuperBlock();
        s.major = major; s.minor = minor;
        s.generation = b.getLong(GENERATION);
        s.uuid = new UUID(b.getLong(UUID_HIGH), b.getLong(UUID_LOW));
        s.nonce = b.getLong(NONCE);
        s.journalBlocks = b.getInt(JOURNAL_BLOCKS);
        s.journalStart = b.getLong(JOURNAL_START_OFFSET);
        s.slabDataBlocks = b.getInt(SLAB_DATA_BLOCKS);
        s.slabRefBlocks = b.getInt(SLAB_REF_BLOCKS);
        s.physicalLimit = b.getLong(PHYSICAL_LIMIT);
        s.nextRegionBlock = b.getLong(NEXT_REGION_BLOCK);
        s.journalHeadBlockSeq = b.getLong(JOURNAL_HEAD_BLOCK_SEQ);
        s.journalHeadEntrySeq = b.getLong(JOURNAL_HEAD_ENTRY_SEQ);
        s.clean = b.get(CLEAN) != 0;
        s.readOnly = b.get(READ_ONLY) != 0;
        int nv = b.getShort(VOLUME_COUNT) & 0xFFFF;
        int inUse = b.getInt(SLABS_IN_USE);
        s.refcountCrc = b.getInt(REFCOUNT_CRC);
        int rl = b.getShort(REASON_LENGTH) & 0xFFFF;
        if (rl > MAX_REASON) throw new CorruptPoolException(where + ": read-only reason length " + rl);
        byte[] reason = new byte[rl];
        b.get(REASON, reason);
        s.readOnlyReason = new String(reason, StandardCharsets.UTF_8);
        if (nv > MAX_VOLUMES || usedLength(nv) != used) {
            throw new CorruptPoolException(where + ": super block tables inconsistent (" + nv + " volumes, length " + used + ")");
        }
        s.slabsInUse = inUse;
        s.slabAreaStart = b.getLong(SLAB_AREA_START);
        s.slabCount = b.getInt(SLAB_COUNT);
        s.segmentShift = b.getInt(SEGMENT_SHIFT);
        s.mapAreaStart = b.getLong(MAP_AREA_START);
        if (major > MAJOR || minor >= 1) {
            s.ownerEpoch = b.getLong(OWNER_EPOCH);
            long hi = b.getLong(OWNER_MEMBER_HIGH), lo = b.getLong(OWNER_MEMBER_LOW);
            s.ownerMember = hi == 0 && lo == 0 ? null : new UUID(hi, lo);
            if (s.ownerEpoch < 0) throw new CorruptPoolException(where + ": owner epoch " + s.ownerEpoch);
        }
        long stride = s.slabRefBlocks + (long) s.slabDataBlocks;
        if (s.slabDataBlocks <= 0 || s.journalBlocks <= 0 || s.physicalLimit <= 0 || s.physicalLimit > MAX_PHYSICAL_BLOCKS
                || s.slabCount <= 0 || s.slabCount > MAX_SLABS
                || s.slabCount != (s.physicalLimit + s.slabDataBlocks - 1) / s.slabDataBlocks
                || s.slabAreaStart != s.journalStart + s.journalBlocks
                || s.mapAreaStart != s.slabAreaStart + s.slabCount * stride
                || s.nextRegionBlock < s.mapAreaStart || s.nextRegionBlock > MAX_LAYOUT_BLOCKS
                || inUse < 0 || inUse > s.slabCount
                || s.segmentShift < MIN_SEGMENT_SHIFT || s.segmentShift > SuperBlockLayout.MAX_SEGMENT_SHIFT) {
            throw new CorruptPoolException(where + ": super block layout inconsistent (physical " + s.physicalLimit + " blocks, "
                    + s.slabCount + " slabs of " + s.slabDataBlocks + " at " + s.slabAreaStart + ", map area " + s.mapAreaStart
                    + ", layout end " + s.nextRegionBlock + ", " + inUse + " slabs in use, segments of 2^" + s.segmentShift + " blocks)");
        }
        int p = VOLUMES;
        for (int i = 0; i < nv; i++) {
            int id = b.getShort(p + REC_ID) & 0xFFFF;
            int len = b.get(p + REC_NAME_LENGTH) & 0xFF;
            if (len > MAX_NAME) throw new CorruptPoolException(where + ": volume name length " + len);
            byte[] name = new byte[len];
            b.get(p + REC_NAME, name);
            VolumeRecord v = new VolumeRecord(id, new String(name, StandardCharsets.UTF_8), b.get(p + REC_ENGINE) & 0xFF,
                    b.getLong(p + REC_LOGICAL_BLOCKS), b.getLong(p + REC_MAP_START), b.getLong(p + REC_MAP_PAGES));
            v.usedBlocks = b.getLong(p + REC_USED_BLOCKS);
            v.zeroBlocks = b.getLong(p + REC_ZERO_BLOCKS);
            if (v.logicalBlocks <= 0 || v.logicalBlocks > MAX_LOGICAL_BLOCKS || v.mapPages < BlockMap.pagesFor(v.logicalBlocks)
                    || v.mapPages > MAX_LAYOUT_BLOCKS || v.mapStart < s.mapAreaStart || v.mapStart > s.nextRegionBlock
                    || v.mapStart + BlockMap.regionBlocks(v.mapPages) > s.nextRegionBlock) {
                throw new CorruptPoolException(where + ": volume " + v.name + " record inconsistent (" + v.logicalBlocks
                        + " blocks, map of " + v.mapPages + " pages at " + v.mapStart + ", layout end " + s.nextRegionBlock + ")");
            }
            s.volumes.add(v);
            p += VOLUME_RECORD;
        }
        return s;
    }

    /**
     * Writes the next generation into the copy it selects, then syncs; only when both succeeded
     * does the generation advance. So the other copy, the last one known durable, is never
     * rewritten before this one is durable: a failed write or sync is retried into the same
     * copy.
     */
    public synchronized void write(BlockStore store) throws IOException {
        long next = generation + 1;
        ByteBuffer b = encode(next);
        store.write(copyBlock(copyOf(next)), b);
        store.sync();
        generation = next;
    }

    /** Reads both copies and returns the newest valid one; a version we do not understand is refused outright. */
    public static SuperBlock read(BlockStore store) throws IOException {
        SuperBlock best = null;
        RuntimeException firstError = null;
        for (int copy = 0; copy < COPIES; copy++) {
            ByteBuffer b = ByteBuffer.allocate(COPY_BYTES);
            store.read(copyBlock(copy), b);
            b.flip();
            try {
                SuperBlock s = decode(b, store.describe() + " super block copy " + copy);
                if (best == null || s.generation > best.generation) best = s;
            } catch (UnsupportedFormatException e) {
                throw e;
            } catch (CorruptPoolException e) {
                if (firstError == null) firstError = e;
            }
        }
        if (best == null) throw firstError;
        best.badCopy = firstError == null ? null : firstError.getMessage();
        return best;
    }
}
