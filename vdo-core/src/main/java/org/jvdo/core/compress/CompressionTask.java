package org.jvdo.core.compress;

/** One block to compress, with the callback that receives the result (like a data_vio's completion). */
public interface CompressionTask {
    /** Input: {@code source().length == 4096}. */
    byte[] source();

    /** Output buffer, at least {@link FragmentCodec#MAX_OUTPUT} bytes. */
    byte[] target();

    /**
     * The block compressed into {@code size} bytes of {@link #target()} in {@code encoding}
     * (see {@link FragmentCodec}); {@code size <= 0} means incompressible (store raw).
     */
    void compressed(int size, int encoding);

    /** The engine failed; the block is stored raw and the failure counted. */
    void failed(Throwable error);
}
