package org.jvdo.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** In-memory {@link JournalStore} for tests; records written indexes and counts syncs. */
class MemoryJournalStore implements JournalStore {

    private final byte[][] blocks;
    private final List<Long> writeLog = new ArrayList<>();
    private int syncCount;
    private volatile long syncDelayMillis;

    MemoryJournalStore(int blockCount) {
        blocks = new byte[blockCount][JournalBlockFormat.BLOCK_SIZE];
    }

    void setSyncDelayMillis(long millis) {
        syncDelayMillis = millis;
    }

    @Override
    public int blockCount() {
        return blocks.length;
    }

    @Override
    public synchronized void readBlock(long index, ByteBuffer dst) throws IOException {
        check(index, dst);
        dst.put(blocks[(int) index]);
    }

    @Override
    public synchronized void writeBlock(long index, ByteBuffer src) throws IOException {
        check(index, src);
        src.get(blocks[(int) index]);
        writeLog.add(index);
    }

    @Override
    public void sync() throws IOException {
        long delay = syncDelayMillis;
        if (delay > 0) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        synchronized (this) {
            syncCount++;
        }
    }

    /** The live bytes of a block, for corrupting it. */
    synchronized byte[] raw(int index) {
        return blocks[index];
    }

    synchronized List<Long> writeLog() {
        return new ArrayList<>(writeLog);
    }

    synchronized int syncCount() {
        return syncCount;
    }

    private void check(long index, ByteBuffer buf) {
        if (index < 0 || index >= blocks.length) {
            throw new IndexOutOfBoundsException("index " + index);
        }
        if (buf.remaining() != JournalBlockFormat.BLOCK_SIZE) {
            throw new IllegalArgumentException("buffer has " + buf.remaining() + " bytes");
        }
    }
}
