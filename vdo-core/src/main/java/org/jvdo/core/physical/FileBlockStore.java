package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.FileModes;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A {@link BlockStore} over one (sparse) file, with positional I/O so threads never share a file position. */
public final class FileBlockStore implements BlockStore {
    private final Path path;
    private final FileChannel channel;

    public FileBlockStore(Path path, boolean create) throws IOException {
        this.path = path;
        this.channel = create
                ? FileModes.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    @Override
    public void read(long blockNumber, ByteBuffer dst) throws IOException {
        long pos = blockNumber * BLOCK_SIZE;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                // the pool keeps its file extended to its layout end, so this is truncation
                throw new EOFException("read of block " + blockNumber + " past the end of " + path + " ("
                        + channel.size() + " bytes): the file is truncated");
            }
            pos += n;
        }
    }

    @Override
    public void write(long blockNumber, ByteBuffer src) throws IOException {
        if (src.remaining() % BLOCK_SIZE != 0) throw new IOException("unaligned write of " + src.remaining() + " bytes to " + path);
        long pos = blockNumber * BLOCK_SIZE;
        while (src.hasRemaining()) {
            int n = channel.write(src, pos);
            if (n <= 0) throw new EOFException("short write at block " + blockNumber + " of " + path);
            pos += n;
        }
    }

    /** Sparse extension: one zero byte at the new last position (only when the file is shorter, so no data is touched). */
    @Override
    public void extendTo(long blocks) throws IOException {
        long bytes = blocks * BLOCK_SIZE;
        if (blocks <= 0 || channel.size() >= bytes) return;
        if (channel.write(ByteBuffer.allocate(1), bytes - 1) != 1) throw new EOFException("could not extend " + path + " to " + bytes + " bytes");
    }

    /** posix_fallocate of the range (see {@link FileSpace}). */
    @Override
    public boolean reserve(long firstBlock, long blocks) throws IOException {
        return FileSpace.allocate(path, firstBlock * BLOCK_SIZE, blocks * BLOCK_SIZE);
    }

    @Override
    public void sync() throws IOException { channel.force(false); }

    @Override
    public long sizeInBlocks() throws IOException { return (channel.size() + BLOCK_SIZE - 1) / BLOCK_SIZE; }

    @Override
    public String describe() { return path.toString(); }

    @Override
    public void close() throws IOException { channel.close(); }
}
