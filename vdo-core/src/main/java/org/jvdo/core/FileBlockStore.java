package org.jvdo.core;

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
                ? FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    @Override
    public void read(long blockNumber, ByteBuffer dst) throws IOException {
        long pos = blockNumber * BLOCK_SIZE;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                // past end of file: a sparse tail reads as zeros
                while (dst.hasRemaining()) dst.put((byte) 0);
                return;
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

    @Override
    public void sync() throws IOException { channel.force(false); }

    @Override
    public long sizeInBlocks() throws IOException { return (channel.size() + BLOCK_SIZE - 1) / BLOCK_SIZE; }

    @Override
    public String describe() { return path.toString(); }

    @Override
    public void close() throws IOException { channel.close(); }
}
