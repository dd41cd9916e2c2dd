package org.jvdo.nbd;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

/**
 * A sparse in-memory {@link BlockDevice} for protocol tests: 4 KiB blocks in a map, never
 * written (or trimmed) blocks report as holes, blocks holding only zeros report as zero.
 * Every call completes at once; all methods are synchronized, so it is thread-safe.
 */
public final class MemoryBlockDevice implements BlockDevice {
    static final int BS = 4096;
    /** Marks a block that is allocated and reads as zeros. */
    private static final byte[] ALLOCATED_ZERO = new byte[0];

    private final String name;
    private final long size;
    private final boolean readOnly;
    private final Map<Long, byte[]> blocks = new HashMap<>();
    final AtomicLong flushes = new AtomicLong();

    public MemoryBlockDevice(String name, long size) {
        this(name, size, false);
    }

    public MemoryBlockDevice(String name, long size, boolean readOnly) {
        if (size % BS != 0) {
            throw new IllegalArgumentException("size must be a multiple of 4096");
        }
        this.name = name;
        this.size = size;
        this.readOnly = readOnly;
    }

    @Override public String name() { return name; }
    @Override public long size() { return size; }
    @Override public boolean readOnly() { return readOnly; }

    private void check(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new VdoException(Errno.EINVAL, name + ": range " + offset + "+" + length + " outside device");
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new VdoException(Errno.EROFS, name + " is read-only");
        }
    }

    private static <T> CompletableFuture<T> run(java.util.function.Supplier<T> op) {
        try {
            return CompletableFuture.completedFuture(op.get());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public synchronized CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return run(() -> {
            check(offset, dst.remaining());
            long pos = offset;
            while (dst.hasRemaining()) {
                long blk = pos / BS;
                int in = (int) (pos % BS);
                int n = Math.min(BS - in, dst.remaining());
                byte[] b = blocks.get(blk);
                if (b == null || b == ALLOCATED_ZERO) {
                    for (int i = 0; i < n; i++) {
                        dst.put((byte) 0);
                    }
                } else {
                    dst.put(b, in, n);
                }
                pos += n;
            }
            return null;
        });
    }

    @Override
    public synchronized CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return run(() -> {
            checkWritable();
            check(offset, src.remaining());
            long pos = offset;
            while (src.hasRemaining()) {
                long blk = pos / BS;
                int in = (int) (pos % BS);
                int n = Math.min(BS - in, src.remaining());
                byte[] b = blocks.get(blk);
                byte[] nb = (b == null || b == ALLOCATED_ZERO) ? new byte[BS] : b;
                src.get(nb, in, n);
                blocks.put(blk, nb);
                pos += n;
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> flush() {
        flushes.incrementAndGet();
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return run(() -> {
            checkWritable();
            check(offset, length);
            zeroRange(offset, length, false);
            return null;
        });
    }

    @Override
    public synchronized CompletableFuture<Void> writeZeroes(long offset, long length, boolean noHole, boolean fua) {
        return run(() -> {
            checkWritable();
            check(offset, length);
            zeroRange(offset, length, noHole);
            return null;
        });
    }

    private void zeroRange(long offset, long length, boolean keepAllocated) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long blk = pos / BS;
            int in = (int) (pos % BS);
            int n = (int) Math.min(BS - in, end - pos);
            if (n == BS) {
                if (keepAllocated) {
                    blocks.put(blk, ALLOCATED_ZERO);
                } else {
                    blocks.remove(blk);
                }
            } else {
                byte[] b = blocks.get(blk);
                if (b != null && b != ALLOCATED_ZERO) {
                    Arrays.fill(b, in, in + n, (byte) 0);
                }
            }
            pos += n;
        }
    }

    /** 0 = data, 1 = allocated zero, 2 = hole. */
    private int kind(long blk) {
        byte[] b = blocks.get(blk);
        if (b == null) {
            return 2;
        }
        if (b == ALLOCATED_ZERO) {
            return 1;
        }
        for (byte x : b) {
            if (x != 0) {
                return 0;
            }
        }
        return 1;
    }

    @Override
    public synchronized List<Extent> blockStatus(long offset, long length) {
        check(offset, length);
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        int lastKind = -1;
        long runStart = pos;
        while (pos < end) {
            long blk = pos / BS;
            long next = Math.min((blk + 1) * BS, end);
            int k = kind(blk);
            if (k != lastKind && lastKind >= 0) {
                out.add(extent(pos - runStart, lastKind));
                runStart = pos;
            }
            lastKind = k;
            pos = next;
        }
        if (lastKind >= 0) {
            out.add(extent(pos - runStart, lastKind));
        }
        return out;
    }

    private static Extent extent(long len, int kind) {
        return new Extent(len, kind == 2, kind >= 1);
    }

    /** Number of blocks holding data or allocated zeros. */
    public synchronized int allocatedBlocks() {
        return blocks.size();
    }
}
