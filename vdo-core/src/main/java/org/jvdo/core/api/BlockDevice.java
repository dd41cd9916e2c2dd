package org.jvdo.core.api;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A byte-addressed virtual disk, the contract between the engine and the protocol servers.
 *
 * <p>Every operation is asynchronous: it returns at once and its future completes when the
 * operation is acknowledged. Failures complete the future exceptionally with a
 * {@link VdoException} whose {@link Errno} the protocol layer maps to its own error codes.
 * Offsets and lengths may be any byte values inside {@code [0, size())}; sub-block and
 * unaligned requests are handled by the device (read-modify-write).
 *
 * <p>Write-cache semantics, like a disk: a completed {@link #write} is visible to every later
 * read on any connection but is durable only after a later {@link #flush} completes, or at once
 * when written with {@code fua}.
 */
public interface BlockDevice {

    /** The export name. */
    String name();

    /** Size in bytes; a multiple of {@link #blockSize()}. */
    long size();

    /** The device's natural block size (4096). */
    default int blockSize() { return 4096; }

    boolean readOnly();

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst} (its position advances). */
    CompletableFuture<Void> read(long offset, ByteBuffer dst);

    /** Writes {@code src.remaining()} bytes at {@code offset}. The buffer may be reused once the future completes. */
    CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua);

    /** Makes every write completed before this call durable. */
    CompletableFuture<Void> flush();

    /** Discards a range: later reads return zeros; whole blocks release their storage. */
    CompletableFuture<Void> trim(long offset, long length, boolean fua);

    /**
     * Writes zeros. With {@code noHole} the range reads back as zeros but stays "allocated" in
     * {@link #blockStatus}; without it whole blocks may be unmapped. Both are mapping-only
     * operations here, so they are always fast.
     */
    CompletableFuture<Void> writeZeroes(long offset, long length, boolean noHole, boolean fua);

    /**
     * Allocation status of {@code [offset, offset+length)} as consecutive extents covering at
     * least the first byte and at most the range, aligned to {@link #blockSize()} except at the
     * range's edges.
     */
    List<Extent> blockStatus(long offset, long length);

    /** One run of blocks with the same status. */
    record Extent(long length, boolean hole, boolean zero) { }
}
