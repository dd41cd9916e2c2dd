package org.jvdo.packer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A group of compressed fragments destined for one physical block, plus the request that owns
 * each fragment.
 *
 * <p>It exists so that the {@link BinWriter} gets, in one object, everything it needs to write a
 * packed block and then update the block map: the fragment bytes ({@link #encode} produces the
 * {@link PackedBlock}), and for each slot the owning request ({@link #owner}), so that each owner
 * can be pointed at (physical block, slot).
 *
 * <p>A bin is filled only by its {@link Packer}, under the packer's lock; once handed to the writer
 * it never changes again and may be read from any thread. Owners are compared by identity.
 *
 * <p><b>A bin with a single fragment must never be written compressed</b>: it would occupy a whole
 * physical block for one logical block and save nothing. The writer should write that owner's data
 * uncompressed instead.
 *
 * @param <T> the request type that owns each fragment
 */
public final class Bin<T> {
    private final byte[] payload = new byte[PackedBlock.MAX_PAYLOAD];
    private final int[] offsets = new int[PackedBlock.MAX_FRAGMENTS];
    private final int[] sizes = new int[PackedBlock.MAX_FRAGMENTS];
    private final int[] encodings = new int[PackedBlock.MAX_FRAGMENTS];
    private final List<T> owners = new ArrayList<>(PackedBlock.MAX_FRAGMENTS);
    private int used;
    private long oldestNanos;

    Bin() {
    }

    /** Copies a fragment in; the caller (the packer) has checked that it fits. */
    void append(T owner, ByteBuffer compressed, int encoding, long nowNanos) {
        int slot = owners.size();
        int size = compressed.remaining();
        if (slot >= PackedBlock.MAX_FRAGMENTS || !PackedBlock.fits(used, size)) {
            throw new IllegalStateException("fragment of " + size + " bytes does not fit bin with "
                    + slot + " fragments and " + used + " bytes used");
        }
        compressed.get(compressed.position(), payload, used, size);
        if (slot == 0) {
            oldestNanos = nowNanos;
        }
        offsets[slot] = used;
        sizes[slot] = size;
        encodings[slot] = encoding;
        owners.add(owner);
        used += size;
    }

    /** @return the number of fragments, 0..{@value PackedBlock#MAX_FRAGMENTS} */
    public int size() {
        return owners.size();
    }

    /**
     * @param slot a slot, 0..size()-1
     * @return the owner of the fragment in that slot
     * @throws IndexOutOfBoundsException if the slot is not used
     */
    public T owner(int slot) {
        return owners.get(slot);
    }

    /**
     * @param owner a request
     * @return the slot holding {@code owner}'s fragment (identity comparison), or -1 if absent
     */
    public int slot(T owner) {
        for (int i = 0; i < owners.size(); i++) {
            if (owners.get(i) == owner) {
                return i;
            }
        }
        return -1;
    }

    /** @return the owners in slot order (unmodifiable view) */
    public List<T> owners() {
        return Collections.unmodifiableList(owners);
    }

    /**
     * @param slot a slot, 0..size()-1
     * @return the encoding byte recorded for that slot's fragment
     */
    public int encoding(int slot) {
        checkSlot(slot);
        return encodings[slot];
    }

    /**
     * @param slot a slot, 0..size()-1
     * @return a read-only view of that slot's compressed bytes
     */
    public ByteBuffer fragment(int slot) {
        checkSlot(slot);
        return ByteBuffer.wrap(payload, offsets[slot], sizes[slot]).slice().asReadOnlyBuffer();
    }

    /** @return payload bytes used by all fragments together */
    public int usedBytes() {
        return used;
    }

    /** @return payload bytes still free, {@code MAX_PAYLOAD - usedBytes()} */
    public int freeBytes() {
        return PackedBlock.MAX_PAYLOAD - used;
    }

    /** @return the {@link System#nanoTime()} (or packer clock) reading when the first fragment was added */
    public long oldestNanos() {
        return oldestNanos;
    }

    /**
     * Writes this bin as a {@value PackedBlock#BLOCK_SIZE}-byte {@link PackedBlock} at {@code out}'s
     * position and advances it. Slot {@code i} of the block is {@link #owner(int) owner(i)}.
     *
     * @param out destination with at least {@value PackedBlock#BLOCK_SIZE} bytes remaining
     * @throws IllegalArgumentException if the bin is empty or {@code out} is too small
     */
    public void encode(ByteBuffer out) {
        int count = owners.size();
        ByteBuffer[] fragments = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            fragments[i] = ByteBuffer.wrap(payload, offsets[i], sizes[i]);
        }
        PackedBlock.encode(out, count, fragments, encodings);
    }

    private void checkSlot(int slot) {
        if (slot < 0 || slot >= owners.size()) {
            throw new IndexOutOfBoundsException("slot " + slot + " not in 0.." + (owners.size() - 1));
        }
    }

    @Override
    public String toString() {
        return "Bin[" + owners.size() + " fragments, " + used + " bytes]";
    }
}
