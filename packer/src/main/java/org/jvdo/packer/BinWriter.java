package org.jvdo.packer;

/**
 * Receives bins that the {@link Packer} has finished filling.
 *
 * <p>It exists to decouple the packing policy from I/O: the packer decides which compressed
 * fragments share a physical block, the writer allocates that block, writes it and updates the
 * block map of every owner in the bin. The packer calls the writer without holding its lock, so a
 * slow write never blocks other threads adding fragments; the writer may therefore be called by
 * several threads at once, and may itself call back into the packer.
 *
 * <p>A bin handed to {@link #write} belongs to the writer from then on; the packer never touches
 * it again, so the writer may keep it (for an asynchronous write) as long as it likes.
 *
 * <p><b>Single-fragment bins:</b> a bin with {@link Bin#size()} {@code == 1} is still handed over
 * (for example after a flush or a timeout). Such a bin must never be written compressed: one
 * fragment per physical block saves no space and only adds decompression cost, so the writer
 * should write that owner's data uncompressed instead.
 *
 * @param <T> the request type that owns each fragment
 */
@FunctionalInterface
public interface BinWriter<T> {
    /**
     * Takes ownership of a filled bin and writes it out. Called exactly once per bin.
     *
     * @param bin a bin with 1..{@value PackedBlock#MAX_FRAGMENTS} fragments
     */
    void write(Bin<T> bin);
}
