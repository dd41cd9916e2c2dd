package org.jvdo.format;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The super block (pool format 3.1; 3.0 lacks the owner fields): two copies, blocks {@code 0..7} and {@code 8..15}, written
 * alternately with a generation number (odd: copy 1, even: copy 0). Layout of a copy
 * ({@value #COPY_BYTES} bytes, little-endian):
 * <pre>
 *   0 magic "JVDOPOOL"      8 major u16 (3), minor u16   12 used length u32   16 generation u64
 *  24 uuid (16)            40 nonce u64             48 block size u32    52 journal blocks u32
 *  56 journal start u64    64 slab data blocks u32  68 slab ref blocks u32
 *  72 physical limit (data blocks) u64              80 next region block (layout end) u64
 *  88 journal head block seq u64                    96 journal head entry seq u64
 * 104 clean u8  105 read-only u8  106 volume count u16
 * 108 slabs in use u32 (slabs whose reference blocks the last clean close saved)
 * 112 refcount CRC u32 (see {@link RefCountLayout#update})
 * 116 read-only reason length u16, reason (up to 200 bytes, UTF-8) at 118
 * 320 slab area start u64  328 slab count u32  332 segment shift u32  336 map area start u64
 * 344 owner epoch u64  352 owner member UUID (16; zero: none)   (format 3.1; zero in 3.0)
 * 384 volumes: id u16, name length u8, name (64), engine u8 ({@link Codes}), logical blocks u64,
 *     map start u64, map pages u64, used blocks u64, zero blocks u64
 *     CRC32C u32 of everything before it (the used length ends after it)
 * </pre>
 */
public final class SuperBlockLayout {
    public static final long MAGIC = 0x4C4F4F504F44564AL; // "JVDOPOOL" little-endian
    public static final int MAJOR = 3;
    /** 1: the owner epoch and owner member (3.0 pools have zeros there and are read as epoch 0, no owner). */
    public static final int MINOR = 1;
    /**
     * Format 4.0: a cluster member's pool, whose block maps may hold foreign mappings
     * ({@link MappingEntry#isForeign}) naming pools of its {@code foreign-pools.jvdo} table. The
     * super block's layout is 3.1's. A 3.x pool becomes 4.0 when a cluster member first opens it;
     * a jvdo that reads only 3.x refuses a 4.0 pool. Pools opened without a cluster stay 3.1.
     */
    public static final int FOREIGN_MAJOR = 4;
    /** Copies of the super block, written alternately. */
    public static final int COPIES = 2;
    /** Blocks per copy; copy {@code c} starts at block {@code c * COPY_BLOCKS} ({@link #copyBlock}). */
    public static final int COPY_BLOCKS = 8;
    public static final int COPY_BYTES = COPY_BLOCKS * Block.SIZE;
    /** The journal follows the two copies. */
    public static final long JOURNAL_START = (long) COPIES * COPY_BLOCKS;

    public static final int MAGIC_OFFSET = 0;
    public static final int MAJOR_OFFSET = 8;
    public static final int MINOR_OFFSET = 10;
    public static final int USED_LENGTH = 12;
    public static final int GENERATION = 16;
    public static final int UUID_HIGH = 24;
    public static final int UUID_LOW = 32;
    public static final int NONCE = 40;
    public static final int BLOCK_SIZE_OFFSET = 48;
    public static final int JOURNAL_BLOCKS = 52;
    public static final int JOURNAL_START_OFFSET = 56;
    public static final int SLAB_DATA_BLOCKS = 64;
    public static final int SLAB_REF_BLOCKS = 68;
    public static final int PHYSICAL_LIMIT = 72;
    public static final int NEXT_REGION_BLOCK = 80;
    public static final int JOURNAL_HEAD_BLOCK_SEQ = 88;
    public static final int JOURNAL_HEAD_ENTRY_SEQ = 96;
    public static final int CLEAN = 104;
    public static final int READ_ONLY = 105;
    public static final int VOLUME_COUNT = 106;
    public static final int SLABS_IN_USE = 108;
    public static final int REFCOUNT_CRC = 112;
    public static final int REASON_LENGTH = 116;
    public static final int REASON = 118;
    /** Most bytes of the read-only reason (UTF-8, cut there). */
    public static final int MAX_REASON = 200;

    /** The computed geometry. */
    public static final int SLAB_AREA_START = 320;
    public static final int SLAB_COUNT = 328;
    public static final int SEGMENT_SHIFT = 332;
    public static final int MAP_AREA_START = 336;
    /** Format 3.1: bumped by each new owner of a pool on shared storage (docs/cluster.md). */
    public static final int OWNER_EPOCH = 344;
    public static final int OWNER_MEMBER_HIGH = 352;
    public static final int OWNER_MEMBER_LOW = 360;

    /** The volume table: {@link #VOLUME_COUNT} records of {@link #VOLUME_RECORD} bytes, then the CRC. */
    public static final int VOLUMES = 384;
    public static final int MAX_VOLUMES = 64;
    public static final int MAX_NAME = 64;
    /** Offsets within a volume record. */
    public static final int REC_ID = 0;
    public static final int REC_NAME_LENGTH = 2;
    public static final int REC_NAME = 3;
    public static final int REC_ENGINE = REC_NAME + MAX_NAME;
    public static final int REC_LOGICAL_BLOCKS = REC_ENGINE + 1;
    public static final int REC_MAP_START = REC_LOGICAL_BLOCKS + 8;
    public static final int REC_MAP_PAGES = REC_MAP_START + 8;
    public static final int REC_USED_BLOCKS = REC_MAP_PAGES + 8;
    public static final int REC_ZERO_BLOCKS = REC_USED_BLOCKS + 8;
    public static final int VOLUME_RECORD = REC_ZERO_BLOCKS + 8;
    public static final int CHECKSUM_SIZE = 4;

    /** Segment shifts a super block may record (segments hold at least both copies: 2^4 = 16 blocks). */
    public static final int MIN_SEGMENT_SHIFT = 4;
    public static final int MAX_SEGMENT_SHIFT = 40;
    /** Largest physical size: 2^36 data blocks = 256 TiB (dm-vdo's limit). */
    public static final long MAX_PHYSICAL_BLOCKS = 1L << 36;
    /** Most slabs a pool may have. */
    public static final int MAX_SLABS = 1 << 22;
    /** Largest volume: 2^40 blocks = 4 PiB (dm-vdo's logical limit). */
    public static final long MAX_LOGICAL_BLOCKS = 1L << 40;
    /** Largest layout end in blocks (its byte offset must fit a signed long with room to spare). */
    public static final long MAX_LAYOUT_BLOCKS = 1L << 50;

    static {
        if (VOLUME_RECORD != 108 || JOURNAL_START != (1L << MIN_SEGMENT_SHIFT)) throw new AssertionError("super block layout does not add up");
        if (usedLength(MAX_VOLUMES) > COPY_BYTES) throw new AssertionError("volume table does not fit a super block copy");
    }

    private SuperBlockLayout() { }

    /** The copy generation {@code generation} is written to: even generations to copy 0, odd ones to copy 1. */
    public static int copyOf(long generation) { return (int) (generation & 1); }

    /** First block of copy {@code copy}. */
    public static long copyBlock(int copy) { return (long) copy * COPY_BLOCKS; }

    /** Offset of volume record {@code i}. */
    public static int volumeRecord(int i) { return VOLUMES + i * VOLUME_RECORD; }

    /** The used length of a copy with {@code volumes} volume records (up to and including the CRC). */
    public static int usedLength(int volumes) { return volumeRecord(volumes) + CHECKSUM_SIZE; }

    /** CRC32C of the first {@code length} bytes of the copy at index 0 of {@code b}. */
    public static int checksum(ByteBuffer b, int length) {
        byte[] arr = new byte[length];
        b.get(0, arr);
        CRC32C crc = new CRC32C();
        crc.update(arr);
        return (int) crc.getValue();
    }

    /** Ends an encoded copy with {@code volumes} records: stores its used length, then the CRC after the last record. */
    public static void seal(ByteBuffer b, int volumes) {
        int end = volumeRecord(volumes);
        b.putInt(USED_LENGTH, end + CHECKSUM_SIZE);
        b.putInt(end, checksum(b, end));
    }

    /** Whether the CRC of a copy of used length {@code used} matches. */
    public static boolean checksumMatches(ByteBuffer b, int used) {
        return checksum(b, used - CHECKSUM_SIZE) == b.getInt(used - CHECKSUM_SIZE);
    }
}
