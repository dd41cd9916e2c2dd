package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.UnsupportedFormatException;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;


import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The pool's super block: what a pool is (magic, format version, UUID, geometry) and where
 * everything lives (journal, slab area, volume block maps). It is the single place the on-disk
 * layout is declared.
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
 * copy valid. Layout of a copy (little-endian):
 * <pre>
 *   0 magic "JVDOPOOL"      8 major u16 (3), minor u16   12 used length u32   16 generation u64
 *  24 uuid (16)            40 nonce u64             48 block size u32    52 journal blocks u32
 *  56 journal start u64    64 slab data blocks u32  68 slab ref blocks u32
 *  72 physical limit (data blocks) u64              80 next region block (layout end) u64
 *  88 journal head block seq u64                    96 journal head entry seq u64
 * 104 clean u8  105 read-only u8  106 volume count u16
 * 108 slabs in use u32 (slabs whose reference blocks the last clean close saved)
 * 112 refcount CRC u32
 * 116 read-only reason length u16, reason (up to 200 bytes, UTF-8) at 118
 * 320 slab area start u64  328 slab count u32  332 segment shift u32  336 map area start u64
 *     (the pool's blocks are in files of 2^shift blocks each, see {@link SegmentedBlockStore})
 * 384 volumes: id u16, name length u8, name (64), engine u8, logical blocks u64, map start u64, map pages u64
 *     used blocks u64, zero blocks u64 (statistics, exact after a clean close)
 *     CRC32C u32 of everything before it
 * </pre>
 */
public final class SuperBlock {
    public static final long MAGIC = 0x4C4F4F504F44564AL; // "JVDOPOOL" little-endian
    public static final int MAJOR = 3;
    public static final int MINOR = 0;
    public static final int COPY_BLOCKS = 8;
    public static final int COPY_BYTES = COPY_BLOCKS * BlockStore.BLOCK_SIZE;
    public static final long JOURNAL_START = 2L * COPY_BLOCKS;
    /** Segments hold at least the super block copies (2^4 = 16 blocks) so both are in segment 0. */
    public static final int JOURNAL_START_SHIFT = 4;
    public static final int MAX_NAME = 64;
    private static final int GEOMETRY_OFFSET = 320;
    private static final int VOLUMES_OFFSET = 384;
    private static final int VOLUME_RECORD = 2 + 1 + MAX_NAME + 1 + 8 + 8 + 8 + 8 + 8;
    public static final int MAX_VOLUMES = 64;
    /** Largest physical size: 2^36 data blocks = 256 TiB (dm-vdo's limit). */
    public static final long MAX_PHYSICAL_BLOCKS = 1L << 36;
    /** Most slabs a pool may have (the in-memory slab arrays are indexed by int). */
    public static final int MAX_SLABS = 1 << 22;
    /**
     * Largest volume: 2^40 blocks = 4 PiB (dm-vdo's logical limit). The write path's LBN lock
     * key is {@code (volumeId << LBN_KEY_BITS) | lbn}, so every LBN must stay below
     * 2^{@value #LBN_KEY_BITS}; the static check below keeps this limit under it.
     */
    public static final long MAX_LOGICAL_BLOCKS = 1L << 40;
    /** Bits of the LBN in the write path's lock key ({@code WritePath.key}). */
    public static final int LBN_KEY_BITS = 48;
    /** Largest layout end in blocks (its byte offset must fit a signed long with room to spare). */
    public static final long MAX_LAYOUT_BLOCKS = 1L << 50;

    static {
        if (MAX_LOGICAL_BLOCKS > 1L << LBN_KEY_BITS) throw new AssertionError("MAX_LOGICAL_BLOCKS must stay below the lock key's LBN field");
        if (VOLUMES_OFFSET + MAX_VOLUMES * VOLUME_RECORD + 4 > COPY_BYTES) throw new AssertionError("volume table does not fit a super block copy");
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
        b.putLong(0, MAGIC);
        b.putShort(8, (short) major);
        b.putShort(10, (short) minor);
        b.putLong(16, gen);
        b.putLong(24, uuid.getMostSignificantBits());
        b.putLong(32, uuid.getLeastSignificantBits());
        b.putLong(40, nonce);
        b.putInt(48, BlockStore.BLOCK_SIZE);
        b.putInt(52, journalBlocks);
        b.putLong(56, journalStart);
        b.putInt(64, slabDataBlocks);
        b.putInt(68, slabRefBlocks);
        b.putLong(72, physicalLimit);
        b.putLong(80, nextRegionBlock);
        b.putLong(88, journalHeadBlockSeq);
        b.putLong(96, journalHeadEntrySeq);
        b.put(104, (byte) (clean ? 1 : 0));
        b.put(105, (byte) (readOnly ? 1 : 0));
        b.putShort(106, (short) volumes.size());
        b.putInt(108, slabsInUse);
        b.putInt(112, refcountCrc);
        byte[] reason = truncate(readOnlyReason == null ? "" : readOnlyReason, 200);
        b.putShort(116, (short) reason.length);
        b.put(118, reason);
        b.putLong(GEOMETRY_OFFSET, slabAreaStart);
        b.putInt(GEOMETRY_OFFSET + 8, slabCount);
        b.putInt(GEOMETRY_OFFSET + 12, segmentShift);
        b.putLong(GEOMETRY_OFFSET + 16, mapAreaStart);
        int p = VOLUMES_OFFSET;
        for (VolumeRecord v : volumes) {
            byte[] name = v.name.getBytes(StandardCharsets.UTF_8);
            if (name.length > MAX_NAME) throw new IllegalArgumentException("volume name too long: " + v.name);
            b.putShort(p, (short) v.id);
            b.put(p + 2, (byte) name.length);
            b.put(p + 3, name);
            b.put(p + 3 + MAX_NAME, (byte) v.engine);
            b.putLong(p + 4 + MAX_NAME, v.logicalBlocks);
            b.putLong(p + 12 + MAX_NAME, v.mapStart);
            b.putLong(p + 20 + MAX_NAME, v.mapPages);
            b.putLong(p + 28 + MAX_NAME, v.usedBlocks);
            b.putLong(p + 36 + MAX_NAME, v.zeroBlocks);
            p += VOLUME_RECORD;
        }
        b.putInt(12, p + 4);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, p);
        b.putInt(p, (int) crc.getValue());
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
        if (b.getLong(0) != MAGIC) throw new CorruptPoolException(where + ": not a jvdo pool (bad super block magic)");
        int major = b.getShort(8) & 0xFFFF, minor = b.getShort(10) & 0xFFFF;
        if (major != MAJOR) {
            throw new UnsupportedFormatException(where + ": pool format version " + major + "." + minor
                    + " is not supported (this jvdo reads format " + MAJOR + ".x only"
                    + (major < MAJOR ? "; format " + major + " pools are not converted: copy each volume's contents to a new pool"
                            + " with the jvdo release that wrote this one, or re-create the pool)" : ")"));
        }
        int used = b.getInt(12);
        if (used < VOLUMES_OFFSET + 4 || used > COPY_BYTES) throw new CorruptPoolException(where + ": super block length " + used + " out of range");
        CRC32C crc = new CRC32C();
        byte[] arr = new byte[used - 4];
        b.get(0, arr);
        crc.update(arr);
        if ((int) crc.getValue() != b.getInt(used - 4)) throw new CorruptPoolException(where + ": super block checksum mismatch");
        if (b.getInt(48) != BlockStore.BLOCK_SIZE) throw new CorruptPoolException(where + ": block size " + b.getInt(48) + " unsupported");
        SuperBlock s = new SuperBlock();
        s.major = major; s.minor = minor;
        s.generation = b.getLong(16);
        s.uuid = new UUID(b.getLong(24), b.getLong(32));
        s.nonce = b.getLong(40);
        s.journalBlocks = b.getInt(52);
        s.journalStart = b.getLong(56);
        s.slabDataBlocks = b.getInt(64);
        s.slabRefBlocks = b.getInt(68);
        s.physicalLimit = b.getLong(72);
        s.nextRegionBlock = b.getLong(80);
        s.journalHeadBlockSeq = b.getLong(88);
        s.journalHeadEntrySeq = b.getLong(96);
        s.clean = b.get(104) != 0;
        s.readOnly = b.get(105) != 0;
        int nv = b.getShort(106) & 0xFFFF;
        int inUse = b.getInt(108);
        s.refcountCrc = b.getInt(112);
        int rl = b.getShort(116) & 0xFFFF;
        if (rl > 200) throw new CorruptPoolException(where + ": read-only reason length " + rl);
        byte[] reason = new byte[rl];
        b.get(118, reason);
        s.readOnlyReason = new String(reason, StandardCharsets.UTF_8);
        if (nv > MAX_VOLUMES || VOLUMES_OFFSET + (long) nv * VOLUME_RECORD + 4 != used) {
            throw new CorruptPoolException(where + ": super block tables inconsistent (" + nv + " volumes, length " + used + ")");
        }
        s.slabsInUse = inUse;
        s.slabAreaStart = b.getLong(GEOMETRY_OFFSET);
        s.slabCount = b.getInt(GEOMETRY_OFFSET + 8);
        s.segmentShift = b.getInt(GEOMETRY_OFFSET + 12);
        s.mapAreaStart = b.getLong(GEOMETRY_OFFSET + 16);
        long stride = s.slabRefBlocks + (long) s.slabDataBlocks;
        if (s.slabDataBlocks <= 0 || s.journalBlocks <= 0 || s.physicalLimit <= 0 || s.physicalLimit > MAX_PHYSICAL_BLOCKS
                || s.slabCount <= 0 || s.slabCount > MAX_SLABS
                || s.slabCount != (s.physicalLimit + s.slabDataBlocks - 1) / s.slabDataBlocks
                || s.slabAreaStart != s.journalStart + s.journalBlocks
                || s.mapAreaStart != s.slabAreaStart + s.slabCount * stride
                || s.nextRegionBlock < s.mapAreaStart || s.nextRegionBlock > MAX_LAYOUT_BLOCKS
                || inUse < 0 || inUse > s.slabCount
                || s.segmentShift < SuperBlock.JOURNAL_START_SHIFT || s.segmentShift > 40) {
            throw new CorruptPoolException(where + ": super block layout inconsistent (physical " + s.physicalLimit + " blocks, "
                    + s.slabCount + " slabs of " + s.slabDataBlocks + " at " + s.slabAreaStart + ", map area " + s.mapAreaStart
                    + ", layout end " + s.nextRegionBlock + ", " + inUse + " slabs in use, segments of 2^" + s.segmentShift + " blocks)");
        }
        int p = VOLUMES_OFFSET;
        for (int i = 0; i < nv; i++) {
            int id = b.getShort(p) & 0xFFFF;
            int len = b.get(p + 2) & 0xFF;
            if (len > MAX_NAME) throw new CorruptPoolException(where + ": volume name length " + len);
            byte[] name = new byte[len];
            b.get(p + 3, name);
            VolumeRecord v = new VolumeRecord(id, new String(name, StandardCharsets.UTF_8), b.get(p + 3 + MAX_NAME) & 0xFF,
                    b.getLong(p + 4 + MAX_NAME), b.getLong(p + 12 + MAX_NAME), b.getLong(p + 20 + MAX_NAME));
            v.usedBlocks = b.getLong(p + 28 + MAX_NAME);
            v.zeroBlocks = b.getLong(p + 36 + MAX_NAME);
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
        store.write((next & 1) * COPY_BLOCKS, b);
        store.sync();
        generation = next;
    }

    /** Reads both copies and returns the newest valid one; a version we do not understand is refused outright. */
    public static SuperBlock read(BlockStore store) throws IOException {
        SuperBlock best = null;
        RuntimeException firstError = null;
        for (int copy = 0; copy < 2; copy++) {
            ByteBuffer b = ByteBuffer.allocate(COPY_BYTES);
            store.read((long) copy * COPY_BLOCKS, b);
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
