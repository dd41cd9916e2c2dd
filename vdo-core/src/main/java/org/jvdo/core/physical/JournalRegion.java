package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;

import org.jvdo.journal.JournalStore;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The journal's ring inside the pool file, so journal I/O goes through the same {@link BlockStore}. */
public final class JournalRegion implements JournalStore {
    private final BlockStore store;
    private final long start;
    private final int blocks;

    public JournalRegion(BlockStore store, long start, int blocks) {
        this.store = store;
        this.start = start;
        this.blocks = blocks;
    }

    @Override
    public int blockCount() { return blocks; }

    @Override
    public void readBlock(long index, ByteBuffer dst) throws IOException { store.read(start + index, dst); }

    @Override
    public void writeBlock(long index, ByteBuffer src) throws IOException { store.write(start + index, src); }

    @Override
    public void sync() throws IOException { store.sync(); }
}
