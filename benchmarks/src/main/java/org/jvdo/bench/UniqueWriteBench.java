package org.jvdo.bench;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import org.jvdo.testsupport.Blocks;
import org.openjdk.jmh.annotations.Param;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * Write throughput of unique (never deduplicated) data through the whole engine: hash, index
 * lookup, LZ4, packer, slab allocation, journal. One operation is one 4 KiB block; each call
 * writes 128 KiB (32 blocks) and keeps {@code depth} calls in flight. Writes go sequentially
 * through a 1 GiB volume and wrap (overwrites free the old blocks). MB/s = ops/s * 4096 / 1e6.
 */
public class UniqueWriteBench extends SequentialWriteBench {
    @Param({"RAW2050", "PACKED1800"})
    public Blocks.Shape shape;

    private ByteBuffer[] bufs;
    private long counter;
    private long nonce;

    @Override
    void prepare() {
        SplittableRandom rnd = new SplittableRandom(42);
        nonce = System.nanoTime();
        bufs = new ByteBuffer[depth];
        for (int i = 0; i < depth; i++) {
            bufs[i] = ByteBuffer.allocate(CALL_BYTES);
            Blocks.fill(bufs[i], BLOCKS_PER_CALL, shape, rnd);
        }
        System.out.printf("%n%s: average LZ4 size %.0f bytes per 4 KiB block, depth %d x 128 KiB%n",
                shape, averageLz4Size(bufs[0], BLOCKS_PER_CALL), depth);
    }

    @Override
    long firstOffset() { return 0; }

    @Override
    ByteBuffer next(int slot) {
        ByteBuffer b = bufs[slot];
        for (int i = 0; i < BLOCKS_PER_CALL; i++) Blocks.stamp(b, i, nonce, counter++);
        b.clear();
        return b;
    }

    @Override
    String label() { return shape.toString(); }

    /** Average LZ4 (fast compressor) size of the first {@code n} blocks of {@code buf}, to print what the data really is. */
    static double averageLz4Size(ByteBuffer buf, int n) {
        LZ4Compressor c = LZ4Factory.fastestInstance().fastCompressor();
        byte[] src = new byte[Blocks.BS];
        byte[] dst = new byte[c.maxCompressedLength(Blocks.BS)];
        long total = 0;
        for (int i = 0; i < n; i++) {
            buf.get(i * Blocks.BS, src);
            total += c.compress(src, 0, Blocks.BS, dst, 0, dst.length);
        }
        return (double) total / n;
    }
}
