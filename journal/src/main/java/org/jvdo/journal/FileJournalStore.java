package org.jvdo.journal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A {@link JournalStore} over a slice of a file: {@code blockCount} blocks starting at byte
 * {@code offset} of a {@link FileChannel}. It exists so the pool file can host the journal
 * region directly. Uses positional I/O only, so it never moves the channel's position; reads past
 * the end of a (sparse or short) file return zeros. The channel is owned by the caller.
 */
public final class FileJournalStore implements JournalStore {

    private final FileChannel channel;
    private final long offset;
    private final int blockCount;

    public FileJournalStore(FileChannel channel, long offset, int blockCount) {
        if (channel == null) {
            throw new NullPointerException("channel");
        }
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        if (blockCount <= 0) {
            throw new IllegalArgumentException("blockCount must be positive, got " + blockCount);
        }
        this.channel = channel;
        this.offset = offset;
        this.blockCount = blockCount;
    }

    @Override
    public int blockCount() {
        return blockCount;
    }

    @Override
    public void readBlock(long index, ByteBuffer dst) throws IOException {
        long pos = position(index, dst);
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                // beyond the end of the file: the region was never written there
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            pos += n;
        }
    }

    @Override
    public void writeBlock(long index, ByteBuffer src) throws IOException {
        long pos = position(index, src);
        while (src.hasRemaining()) {
            int n = channel.write(src, pos);
            if (n <= 0 && src.hasRemaining()) {
                throw new EOFException("no progress writing journal block " + index);
            }
            pos += n;
        }
    }

    @Override
    public void sync() throws IOException {
        channel.force(false);
    }

    private long position(long index, ByteBuffer buf) {
        if (index < 0 || index >= blockCount) {
            throw new IndexOutOfBoundsException("journal block index " + index + " not in [0, " + blockCount + ")");
        }
        if (buf.remaining() != JournalBlockFormat.BLOCK_SIZE) {
            throw new IllegalArgumentException("buffer must have " + JournalBlockFormat.BLOCK_SIZE
                    + " bytes remaining, has " + buf.remaining());
        }
        return offset + index * JournalBlockFormat.BLOCK_SIZE;
    }
}
