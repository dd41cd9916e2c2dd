package org.jvdo.core.read;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The read path: a request runs on the I/O threads, {@value #READ_BATCH} blocks at a time. Each
 * block is either the newest queued write's data or, registered as a reader of its LBN (a write
 * cannot change the mapping meanwhile), what its mapping designates: zeros, a raw block (runs of
 * consecutive raw blocks in one read) or a fragment (a packed block read once for neighbouring
 * fragments of it), every one checked against its stored checksum.
 */
public final class ReadPath {
    static final int READ_BATCH = 64;
    /** How long a read waits for a queued partial write to complete its data. */
    public static final int READ_WAIT_SECONDS = 120;
    private static final ThreadLocal<byte[]> READ_BUF = ThreadLocal.withInitial(() -> new byte[READ_BATCH * 4096]);
    private static final ThreadLocal<byte[]> BLOCK = ThreadLocal.withInitial(() -> new byte[4096]);
    private static final ThreadLocal<byte[]> PLAIN = ThreadLocal.withInitial(() -> new byte[4096]);

    private final StoredBlocks blocks;
    private final LogicalReads logical;
    private final ExecutorService ioThreads;
    private final String poolName;

    public ReadPath(StoredBlocks blocks, LogicalReads logical, ExecutorService ioThreads, String poolName) {
        this.blocks = blocks;
        this.logical = logical;
        this.ioThreads = ioThreads;
        this.poolName = poolName;
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} on the I/O threads. */
    public CompletableFuture<Void> submit(LogicalVolume vol, long offset, ByteBuffer dst) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        try {
            ioThreads.execute(() -> {
                try {
                    readRange(vol, offset, dst);
                    f.complete(null);
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(new VdoException(Errno.ESHUTDOWN, "pool " + poolName + " is shut down"));
        }
        return f;
    }

    private void readRange(LogicalVolume vol, long offset, ByteBuffer dst) throws IOException {
        long end = offset + dst.remaining();
        byte[] buf = READ_BUF.get();
        long pos = offset;
        while (pos < end) {
            long first = pos / 4096;
            long last = Math.min((end - 1) / 4096, first + READ_BATCH - 1);
            int n = (int) (last - first + 1);
            if (dst.hasArray() && pos == first * 4096 && end >= (first + n) * 4096) {
                // whole blocks: straight into the caller's array (no copy through the batch buffer)
                readBlocks(vol, first, n, dst.array(), dst.arrayOffset() + dst.position());
                dst.position(dst.position() + n * 4096);
                pos = (first + n) * 4096;
                continue;
            }
            readBlocks(vol, first, n, buf, 0);
            int from = (int) (pos - first * 4096);
            int to = (int) Math.min((long) n * 4096, end - first * 4096);
            dst.put(buf, from, to - from);
            pos = first * 4096 + to;
        }
    }

    /**
     * Reads {@code n} consecutive blocks into {@code out[base..base+n*4096)}: each block's newest queued
     * write if it has one, else what its mapping designates, with runs of consecutive raw blocks
     * read in one call and a packed block read once for its neighbouring fragments.
     */
    void readBlocks(LogicalVolume vol, long first, int n, byte[] out, int base) throws IOException {
        long[] maps = new long[n];
        int[] sums = new int[n];
        boolean[] registered = new boolean[n];
        try {
            CompletableFuture<?>[] wait = {null};
            for (int i = 0; i < n; i++) {
                while (true) {
                    int mode = logical.enter(vol, first + i, out, base + i * 4096, wait);
                    if (mode == LogicalReads.WAIT) {
                        // the newest write is a partial one still reading what it merges over:
                        // wait (no spinning) until it is complete or has failed, then look again
                        awaitReady(wait[0], vol, first + i);
                        continue;
                    }
                    registered[i] = mode == LogicalReads.REGISTERED;
                    break;
                }
            }
            // registered readers keep the entries still: a write waits for them before it records its mapping
            vol.blockMap().lookup(first, n, registered, maps, sums);
            long lastPacked = -1;
            byte[] block = BLOCK.get();
            byte[] plain = PLAIN.get();
            int i = 0;
            while (i < n) {
                if (!registered[i]) { i++; continue; }
                long m = maps[i];
                int state = Mapping.state(m);
                if (state == Mapping.UNMAPPED || state == Mapping.ZERO) {
                    Arrays.fill(out, base + i * 4096, base + (i + 1) * 4096, (byte) 0);
                    i++;
                } else if (state == Mapping.RAW) {
                    long pbn = Mapping.pbn(m);
                    int j = i + 1;
                    while (j < n && registered[j] && Mapping.state(maps[j]) == Mapping.RAW && Mapping.pbn(maps[j]) == pbn + (j - i)) j++;
                    try {
                        blocks.store().read(pbn, ByteBuffer.wrap(out, base + i * 4096, (j - i) * 4096));
                    } catch (IOException e) {
                        throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of blocks " + pbn + ".." + (pbn + j - i - 1)
                                + " failed: " + e.getMessage(), e);
                    }
                    for (int k = i; k < j; k++) blocks.verify(vol, first + k, maps[k], sums[k], out, base + k * 4096);
                    i = j;
                } else if (Mapping.isPacked(m)) {
                    long pbn = Mapping.pbn(m);
                    if (pbn != lastPacked) {
                        try {
                            blocks.store().read(pbn, ByteBuffer.wrap(block));
                        } catch (IOException e) {
                            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of packed block " + pbn + " failed: " + e.getMessage(), e);
                        }
                        lastPacked = pbn;
                    }
                    // decoded in place (a failed decode or checksum fails the read: nothing of it is sent)
                    StoredBlocks.decodeFragment(vol, m, block, out, base + i * 4096);
                    blocks.verify(vol, first + i, m, sums[i], out, base + i * 4096);
                    i++;
                } else if (Mapping.isForeign(m)) {
                    // a block of another pool on shared storage (docs/cluster.md), read from its file
                    blocks.readStored(vol, first + i, m, sums[i], plain, "read");
                    System.arraycopy(plain, 0, out, base + i * 4096, 4096);
                    i++;
                } else {
                    throw new CorruptPoolException("volume " + vol.name() + ": lbn " + (first + i) + " has invalid mapping " + Mapping.describe(m));
                }
            }
        } finally {
            for (int i = 0; i < n; i++) if (registered[i]) logical.leave(vol, first + i);
        }
    }

    private static void awaitReady(CompletableFuture<?> f, LogicalVolume vol, long lbn) throws IOException {
        try {
            f.get(READ_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of lbn " + lbn + " interrupted", e);
        } catch (ExecutionException e) {
            // woken either way; look again
        } catch (TimeoutException e) {
            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of lbn " + lbn + ": the write queued on it did not complete its data within "
                    + READ_WAIT_SECONDS + " s");
        }
    }
}
