package org.jvdo.core.compress;

/** The {@code none} engine: every block is stored raw (dedup still applies). Answers inline. */
public final class NoCompressionEngine implements CompressionEngine {
    @Override
    public String name() { return "none"; }

    @Override
    public void submit(CompressionTask task) { task.compressed(0, FragmentCodec.LZ4_BLOCK); }

    @Override
    public int queued() { return 0; }

    @Override
    public void close() { }
}
