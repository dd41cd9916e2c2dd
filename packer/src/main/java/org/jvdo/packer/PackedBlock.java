package org.jvdo.packer;

import org.jvdo.format.Codes;
import org.jvdo.format.PackedBlockLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Writes and reads packed (compressed) physical blocks: up to {@value #MAX_FRAGMENTS}
 * compressed fragments stored back to back in one {@value #BLOCK_SIZE}-byte block.
 *
 * <p>It exists because compressing a 4 KiB logical block only saves space if several compressed
 * blocks share one physical block; the block map then points each logical block at
 * (physical block, slot). Its byte layout (header, fragment table of sizes and encodings, header
 * CRC, payload) and version rule (any minor of major 1) are declared by {@link PackedBlockLayout}
 * (format module); this class is the one that writes ({@link Bin#encode} calls it) and reads ({@link
 * #locate}) it, so writers and readers cannot disagree. It is modelled on dm-vdo's
 * compressed block, plus a per-fragment encoding byte (so several compression engines can coexist)
 * and a CRC32C over the header (so a torn or foreign block is detected before any fragment is
 * handed to a decompressor).
 *
 * <p>All methods are static and stateless; buffers are read and written with absolute accesses
 * relative to their {@code position()} at the time of the call, whatever their byte order.
 */
public final class PackedBlock {

    /** Size of a physical block, the unit this format fills exactly. */
    public static final int BLOCK_SIZE = PackedBlockLayout.BLOCK_SIZE;
    /** Most fragments one packed block can hold. */
    public static final int MAX_FRAGMENTS = PackedBlockLayout.MAX_FRAGMENTS;

    /** Magic number at offset 0: the bytes 'J','V','P','K' as a little-endian u32. */
    public static final int MAGIC = PackedBlockLayout.MAGIC;
    /** Major version written and the only major version accepted. */
    public static final int VERSION_MAJOR = PackedBlockLayout.VERSION_MAJOR;
    /** Minor version written; readers accept any minor version. */
    public static final int VERSION_MINOR = PackedBlockLayout.VERSION_MINOR;

    /** Offsets of the header fields (see {@link PackedBlockLayout}). */
    public static final int OFFSET_MAGIC = PackedBlockLayout.MAGIC_OFFSET;
    public static final int OFFSET_VERSION_MAJOR = PackedBlockLayout.MAJOR_OFFSET;
    public static final int OFFSET_VERSION_MINOR = PackedBlockLayout.MINOR_OFFSET;
    public static final int OFFSET_COUNT = PackedBlockLayout.COUNT;
    public static final int OFFSET_FLAGS = PackedBlockLayout.FLAGS;
    public static final int OFFSET_SIZES = PackedBlockLayout.SIZES;
    public static final int OFFSET_ENCODINGS = PackedBlockLayout.ENCODINGS;
    public static final int OFFSET_RESERVED = PackedBlockLayout.RESERVED;
    public static final int OFFSET_CHECKSUM = PackedBlockLayout.CHECKSUM;
    /** Size of the header; the payload starts here. */
    public static final int HEADER_SIZE = PackedBlockLayout.HEADER_SIZE;
    /** Bytes available for fragments. */
    public static final int MAX_PAYLOAD = PackedBlockLayout.MAX_PAYLOAD;

    /** Encoding 0: a raw LZ4 block (no frame). */
    public static final int ENCODING_LZ4_BLOCK = Codes.FRAGMENT_LZ4_BLOCK;
    /** Encoding 1: an LZ4 frame (QATzip's {@code QZ_LZ4}, written by the qat engine). */
    public static final int ENCODING_LZ4_FRAME = Codes.FRAGMENT_LZ4_FRAME;
    /** Encoding 2: deflate, raw or gzip-wrapped (QATzip's deflate formats). */
    public static final int ENCODING_DEFLATE = Codes.FRAGMENT_DEFLATE;
    /** Largest encoding value storable in the u8 encoding field. */
    public static final int MAX_ENCODING = PackedBlockLayout.MAX_ENCODING;

    /**
     * Where one fragment lives inside a packed block.
     *
     * @param offset   byte offset of the fragment from the start of the block (not of the payload)
     * @param length   length of the fragment in bytes, at least 1
     * @param encoding the fragment's encoding byte, e.g. {@link #ENCODING_LZ4_BLOCK}
     */
    public record Fragment(int offset, int length, int encoding) {
    }

    private PackedBlock() {
    }

    /**
     * Whether a fragment of {@code size} bytes still fits after {@code totalSoFar} payload bytes.
     *
     * @param totalSoFar payload bytes already used (0..{@link #MAX_PAYLOAD})
     * @param size       size of the candidate fragment
     * @return true if {@code size > 0} and the total stays within {@link #MAX_PAYLOAD}
     */
    public static boolean fits(int totalSoFar, int size) {
        return size > 0 && totalSoFar >= 0 && totalSoFar <= MAX_PAYLOAD
                && size <= MAX_PAYLOAD - totalSoFar;
    }

    /**
     * Writes one complete packed block of exactly {@value #BLOCK_SIZE} bytes at {@code out}'s
     * position and advances that position by {@value #BLOCK_SIZE}. Unused payload bytes are
     * zero-filled. Each fragment's remaining bytes are copied; the fragment buffers' positions are
     * not changed. Nothing is written if an argument is rejected.
     *
     * @param out       destination with at least {@value #BLOCK_SIZE} bytes remaining
     * @param count     number of fragments, 1..{@value #MAX_FRAGMENTS}
     * @param fragments at least {@code count} buffers, each with 1 or more bytes remaining
     * @param encodings at least {@code count} encoding values, each 0..{@value #MAX_ENCODING}
     * @throws IllegalArgumentException if count is out of range, an array is too short, a fragment
     *                                  is empty, an encoding does not fit a byte, the fragments
     *                                  total more than {@link #MAX_PAYLOAD} bytes, or {@code out}
     *                                  has fewer than {@value #BLOCK_SIZE} bytes remaining
     */
    public static void encode(ByteBuffer out, int count, ByteBuffer[] fragments, int[] encodings) {
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(fragments, "fragments");
        Objects.requireNonNull(encodings, "encodings");
        if (count < 1 || count > MAX_FRAGMENTS) {
            throw new IllegalArgumentException(
                    "fragment count " + count + " not in 1.." + MAX_FRAGMENTS);
        }
        if (fragments.length < count || encodings.length < count) {
            throw new IllegalArgumentException("count " + count + " but " + fragments.length
                    + " fragments and " + encodings.length + " encodings given");
        }
        if (out.remaining() < BLOCK_SIZE) {
            throw new IllegalArgumentException(
                    "output has " + out.remaining() + " bytes remaining, need " + BLOCK_SIZE);
        }
        int total = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer f = Objects.requireNonNull(fragments[i], "fragment " + i);
            int size = f.remaining();
            if (size == 0) {
                throw new IllegalArgumentException("fragment " + i + " is empty");
            }
            if (encodings[i] < 0 || encodings[i] > MAX_ENCODING) {
                throw new IllegalArgumentException(
                        "fragment " + i + " encoding " + encodings[i] + " not in 0.." + MAX_ENCODING);
            }
            total += Math.min(size, BLOCK_SIZE); // clamp: no int overflow with huge buffers
            if (total > MAX_PAYLOAD) {
                throw new IllegalArgumentException("fragments total more than " + MAX_PAYLOAD
                        + " bytes (fragment " + i + " of " + size + " bytes)");
            }
        }

        int base = out.position();
        ByteBuffer le = out.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        PackedBlockLayout.putHeader(le, base, count);
        int at = base + HEADER_SIZE;
        for (int i = 0; i < MAX_FRAGMENTS; i++) {
            boolean used = i < count;
            int size = used ? fragments[i].remaining() : 0;
            PackedBlockLayout.putFragment(le, base, i, size, used ? encodings[i] : 0);
            if (used) {
                le.put(at, fragments[i], fragments[i].position(), size);
                at += size;
            }
        }
        PackedBlockLayout.sealHeader(le, base);
        for (int end = base + BLOCK_SIZE; at < end; at++) {
            le.put(at, (byte) 0);
        }
        out.position(base + BLOCK_SIZE);
    }

    /**
     * Validates the block's header and returns where fragment {@code slot} lives.
     *
     * <p>Checks, in order: the block is {@value #BLOCK_SIZE} bytes long, the magic, the version
     * (major must be {@value #VERSION_MAJOR}; any minor is accepted), the header checksum, the
     * fragment count, that every used slot has a non-zero size, that the sizes sum to at most
     * {@link #MAX_PAYLOAD}, and finally the slot. Magic and version are checked before the
     * checksum because another format version might place its checksum elsewhere. Only bytes
     * {@code [position, position + 4096)} of {@code block} are read; its position is unchanged.
     *
     * @param block the packed block, starting at its position
     * @param slot  the fragment slot the caller's block map points at
     * @return the fragment's offset (from the start of the block), length and encoding
     * @throws CorruptPackedBlockException if any check fails
     */
    public static Fragment locate(ByteBuffer block, int slot) {
        ByteBuffer le = littleEndianView(block);
        int base = block.position();
        int count = validateHeader(le, base);
        if (slot < 0 || slot >= count) {
            throw new CorruptPackedBlockException(
                    "slot " + slot + " >= fragment count " + count);
        }
        int offset = HEADER_SIZE;
        for (int i = 0; i < slot; i++) {
            offset += size(le, base, i);
        }
        return new Fragment(offset, size(le, base, slot), PackedBlockLayout.encoding(le, base, slot));
    }

    /**
     * Returns a read-only view of fragment {@code slot}'s bytes inside {@code block}, after the same
     * validation as {@link #locate}. The view shares content with {@code block}.
     *
     * @param block the packed block, starting at its position
     * @param slot  the fragment slot
     * @return a read-only buffer positioned at 0 with exactly the fragment's bytes remaining
     * @throws CorruptPackedBlockException if validation fails
     */
    public static ByteBuffer fragment(ByteBuffer block, int slot) {
        Fragment f = locate(block, slot);
        return block.slice(block.position() + f.offset(), f.length()).asReadOnlyBuffer();
    }

    /**
     * Validates the block's header (as {@link #locate} does, without a slot) and returns its
     * fragment count.
     *
     * @param block the packed block, starting at its position
     * @return the number of fragments, 1..{@value #MAX_FRAGMENTS}
     * @throws CorruptPackedBlockException if validation fails
     */
    public static int fragmentCount(ByteBuffer block) {
        return validateHeader(littleEndianView(block), block.position());
    }

    private static ByteBuffer littleEndianView(ByteBuffer block) {
        Objects.requireNonNull(block, "block");
        if (block.remaining() < BLOCK_SIZE) {
            throw new CorruptPackedBlockException("packed block truncated: "
                    + block.remaining() + " bytes < " + BLOCK_SIZE);
        }
        return block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Returns the fragment count after checking everything but a slot. */
    private static int validateHeader(ByteBuffer le, int base) {
        int magic = PackedBlockLayout.magic(le, base);
        if (magic != MAGIC) {
            throw new CorruptPackedBlockException(String.format(
                    "bad magic 0x%08X (expected 0x%08X)", magic, MAGIC));
        }
        int major = PackedBlockLayout.major(le, base);
        int minor = PackedBlockLayout.minor(le, base);
        if (major != VERSION_MAJOR) {
            throw new CorruptPackedBlockException(
                    "unsupported packed-block version " + major + "." + minor);
        }
        int stored = PackedBlockLayout.storedChecksum(le, base);
        int computed = PackedBlockLayout.headerChecksum(le, base);
        if (stored != computed) {
            throw new CorruptPackedBlockException(String.format(
                    "header checksum mismatch (stored 0x%08X, computed 0x%08X)", stored, computed));
        }
        int count = PackedBlockLayout.count(le, base);
        if (count < 1 || count > MAX_FRAGMENTS) {
            throw new CorruptPackedBlockException(
                    "bad fragment count " + count + " (must be 1.." + MAX_FRAGMENTS + ")");
        }
        int total = 0;
        for (int i = 0; i < count; i++) {
            int size = size(le, base, i);
            if (size == 0) {
                throw new CorruptPackedBlockException("fragment " + i + " has size 0");
            }
            total += size;
        }
        if (total > MAX_PAYLOAD) {
            throw new CorruptPackedBlockException(
                    "fragment sizes sum " + total + " > " + MAX_PAYLOAD);
        }
        return count;
    }

    private static int size(ByteBuffer le, int base, int slot) {
        return PackedBlockLayout.size(le, base, slot);
    }
}
