package org.jvdo.nbd;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

/**
 * A device as a read-only export shows it ({@code serve --read-only}, {@code --read-only-volume}):
 * reads, flushes and block status go to the device; WRITE, TRIM and WRITE_ZEROES fail with EPERM
 * without reaching it. The handshake sees {@link #readOnly()} and sends NBD_FLAG_READ_ONLY, and
 * the transmission phase already refuses modifying commands of a read-only export; this is the
 * second wall, so a write can never reach the volume through a path that forgot to ask.
 * Runtime only: nothing about it is stored in the pool.
 */
final class ReadOnlyDevice implements BlockDevice {
    private final BlockDevice inner;

    ReadOnlyDevice(BlockDevice inner) {
        this.inner = inner;
    }

    BlockDevice inner() { return inner; }

    @Override public String name() { return inner.name(); }
    @Override public long size() { return inner.size(); }
    @Override public int blockSize() { return inner.blockSize(); }
    @Override public boolean readOnly() { return true; }
    @Override public CompletableFuture<Void> read(long offset, ByteBuffer dst) { return inner.read(offset, dst); }
    @Override public CompletableFuture<Void> flush() { return inner.flush(); }
    @Override public List<Extent> blockStatus(long offset, long length) { return inner.blockStatus(offset, length); }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) { return refused("write"); }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) { return refused("trim"); }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean noHole, boolean fua) {
        return refused("write zeroes");
    }

    private CompletableFuture<Void> refused(String what) {
        return CompletableFuture.failedFuture(new VdoException(Errno.EPERM, "export '" + name() + "' is read-only: " + what + " refused"));
    }
}
