package org.jvdo.bench;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * Synthetic 4 KiB blocks with a chosen LZ4 compressed size: the first {@code randomBytes} bytes are
 * random (incompressible), the rest repeats an 8-byte phrase (LZ4 turns it into one long match).
 * Bytes 0..15 of every block are a stamp (a run nonce and a counter), so restamping a block makes
 * it unique without copying it.
 */
public final class BlockData {
    public static final int BLOCK = 4096;

    /** Data shapes used by the benchmarks. */
    public enum Shape {
        /** Compresses to ~2050 bytes: LZ4 halves it, but two do not fit the 4040-byte packed payload, so it is written raw. */
        RAW2050(2030),
        /** Compresses to ~1810 bytes: two fragments share a packed block (the packer's path). */
        PACKED1800(1790);

        final int randomBytes;

        Shape(int randomBytes) { this.randomBytes = randomBytes; }
    }

    private BlockData() { }

    /** Fills {@code blocks} consecutive 4 KiB blocks of {@code dst} from {@code dst.position()} with the shape. */
    public static void fill(ByteBuffer dst, int blocks, Shape shape, SplittableRandom rnd) {
        byte[] phrase = new byte[8];
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < blocks; i++) {
            for (int j = 0; j < shape.randomBytes; j += 8) {
                long r = rnd.nextLong();
                for (int k = 0; k < 8 && j + k < shape.randomBytes; k++) b[j + k] = (byte) (r >>> (8 * k));
            }
            for (int j = 0; j < phrase.length; j++) phrase[j] = (byte) ('a' + rnd.nextInt(26));
            for (int j = shape.randomBytes; j < BLOCK; j++) b[j] = phrase[(j - shape.randomBytes) & 7];
            dst.put(b);
        }
    }

    /** Makes block {@code i} of {@code buf} (absolute, position ignored) unique: stamps nonce and counter in its first 16 bytes. */
    public static void stamp(ByteBuffer buf, int i, long nonce, long counter) {
        buf.putLong(i * BLOCK, nonce);
        buf.putLong(i * BLOCK + 8, counter);
    }

    /** {@code n} blocks of the shape as byte arrays (for the codec ceilings). */
    public static byte[][] blocks(int n, Shape shape, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        ByteBuffer bb = ByteBuffer.allocate(n * BLOCK);
        fill(bb, n, shape, rnd);
        byte[][] out = new byte[n][BLOCK];
        for (int i = 0; i < n; i++) bb.get(i * BLOCK, out[i]);
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 8; k++) out[i][8 + k] = (byte) (i >>> (8 * k));
        }
        return out;
    }

    /** Average LZ4 (fast compressor) size of the first {@code n} blocks of {@code buf}, to print what the data really is. */
    public static double averageLz4Size(ByteBuffer buf, int n) {
        LZ4Compressor c = LZ4Factory.fastestInstance().fastCompressor();
        byte[] src = new byte[BLOCK];
        byte[] dst = new byte[c.maxCompressedLength(BLOCK)];
        long total = 0;
        for (int i = 0; i < n; i++) {
            buf.get(i * BLOCK, src);
            total += c.compress(src, 0, BLOCK, dst, 0, dst.length);
        }
        return (double) total / n;
    }
}
