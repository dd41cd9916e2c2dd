package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.FencedException;
import org.jvdo.core.api.WriteFence;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;

/**
 * The pool file behind a {@link WriteFence}: each write, sync, extension and reservation asks the
 * fence first, so nothing reaches the file once the fence refuses. Reads pass (a fenced member
 * may still read; it must not write). Placed directly around the file, under any other wrapper.
 */
public final class FencedBlockStore implements BlockStore {
    private final BlockStore file;
    private final WriteFence fence;
    private final LongAdder refused = new LongAdder();

    public FencedBlockStore(BlockStore file, WriteFence fence) {
        this.file = file;
        this.fence = fence;
    }

    private void check() throws FencedException {
        try {
            fence.check();
        } catch (FencedException e) {
            refused.increment();
            throw e;
        }
    }

    /** Writes, syncs and extensions the fence refused. */
    public long refused() { return refused.sum(); }

    @Override public void read(long blockNumber, ByteBuffer dst) throws IOException { file.read(blockNumber, dst); }

    @Override
    public void write(long blockNumber, ByteBuffer src) throws IOException {
        check();
        file.write(blockNumber, src);
    }

    @Override
    public void sync() throws IOException {
        check();
        file.sync();
    }

    @Override public long sizeInBlocks() throws IOException { return file.sizeInBlocks(); }

    @Override
    public void extendTo(long blocks) throws IOException {
        check();
        file.extendTo(blocks);
    }

    @Override
    public boolean reserve(long firstBlock, long blocks) throws IOException {
        check();
        return file.reserve(firstBlock, blocks);
    }

    @Override public String describe() { return file.describe(); }

    @Override public void close() throws IOException { file.close(); }
}
