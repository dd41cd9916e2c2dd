package org.jvdo.testsupport;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.random.RandomGenerator;
import java.util.zip.CRC32C;

/**
 * Deterministic 4 KiB block contents for the tests and the benchmarks. Every method draws only
 * from the generator (or seed) it is given, so the same seed gives the same bytes; pass a
 * {@link Random} or a {@link java.util.SplittableRandom}, both are {@link RandomGenerator}s.
 *
 * <p>The kinds, by what the engine can save on them:
 * <ul>
 *   <li>zeros ({@code new byte[BS]}): not stored at all;</li>
 *   <li>{@link #random}: unique and incompressible;</li>
 *   <li>{@link #text}: unique English-like text, about 1000-1500 bytes after LZ4 (two or three
 *       share a packed block);</li>
 *   <li>{@link #sparse}: one non-zero byte, compresses to almost nothing but is not a zero block;</li>
 *   <li>{@link #fill shaped}: a chosen LZ4 size ({@link Shape}), made unique cheaply by {@link #stamp};</li>
 *   <li>duplicates: {@link #dupSet} (the same set for every caller with the same seed), and
 *       {@link #writeMixed} (a file of all kinds, a quarter each, with repeated sources);</li>
 *   <li>{@link #dataset}: a flat image of {@link #text} and {@link #random} blocks in turn.</li>
 * </ul>
 */
public final class Blocks {
    /** The block size. */
    public static final int BS = 4096;
    private static final String[] WORDS = {
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "volume", "block", "device",
        "dedup", "compress", "journal", "slab", "depot", "packer", "fragment", "mapping", "index",
        "recovery", "flush", "write", "read", "trim", "zero", "logical", "physical", "reference",
        "count", "checksum", "super", "generation", "kernel", "userspace", "storage", "pool", "thin",
        "provision", "hash", "lock", "queue", "thread", "future", "complete", "durable", "crash",
        "replay", "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "lambda", "sigma",
        "omega", "north", "south", "east", "west", "river", "mountain", "forest", "ocean", "desert",
    };

    private Blocks() { }

    /**
     * English-like text: a block-specific pool of 24..48 sentences of random words, repeated in
     * random order. LZ4 makes it about 1000-1500 bytes.
     */
    public static byte[] text(RandomGenerator r) {
        int k = 24 + r.nextInt(25);
        String[] sentences = new String[k];
        for (int i = 0; i < k; i++) {
            StringBuilder x = new StringBuilder();
            int n = 3 + r.nextInt(6);
            for (int j = 0; j < n; j++) x.append(WORDS[r.nextInt(WORDS.length)]).append(' ');
            sentences[i] = x.append(r.nextInt(1000)).append(".\n").toString();
        }
        StringBuilder sb = new StringBuilder(BS + 64);
        while (sb.length() < BS) sb.append(sentences[r.nextInt(k)]);
        byte[] b = new byte[BS];
        for (int i = 0; i < BS; i++) b[i] = (byte) sb.charAt(i);
        return b;
    }

    /** Random bytes: unique and incompressible. */
    public static byte[] random(RandomGenerator r) {
        byte[] b = new byte[BS];
        r.nextBytes(b);
        return b;
    }

    /** Zeros but for one random non-zero byte at a random offset. */
    public static byte[] sparse(RandomGenerator r) {
        byte[] b = new byte[BS];
        b[r.nextInt(BS)] = (byte) (1 + r.nextInt(255));
        return b;
    }

    /**
     * {@code blocks} blocks in one array, even ones {@link #text}, odd ones {@link #random}, drawn
     * in order from one {@link java.util.SplittableRandom} of {@code seed}: the same seed gives the
     * same bytes.
     */
    public static byte[] dataset(int blocks, long seed) {
        byte[] data = new byte[blocks * BS];
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < blocks; i++) {
            byte[] b = i % 2 == 0 ? text(r) : random(r);
            System.arraycopy(b, 0, data, i * BS, BS);
        }
        return data;
    }

    /**
     * A fixed set of contents, identical for every caller with the same seed (duplicates):
     * {@link #text}, {@link #random} and {@link #sparse} in turn.
     */
    public static List<byte[]> dupSet(long seed, int n) {
        Random r = new Random(seed);
        List<byte[]> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            switch (i % 3) {
                case 0 -> l.add(text(r));
                case 1 -> l.add(random(r));
                default -> l.add(sparse(r));
            }
        }
        return l;
    }

    /** Shaped blocks: the LZ4 (fast compressor) size is chosen by the number of leading random bytes. */
    public enum Shape {
        /** Compresses to ~2050 bytes: LZ4 halves it, but two do not fit the 4040-byte packed payload, so it is written raw. */
        RAW2050(2030),
        /** Compresses to ~1810 bytes: two fragments share a packed block (the packer's path). */
        PACKED1800(1790);

        final int randomBytes;

        Shape(int randomBytes) { this.randomBytes = randomBytes; }
    }

    /**
     * Fills {@code blocks} consecutive blocks of {@code dst} from its position with the shape: the
     * first random bytes, then a random 8-byte phrase repeated (LZ4 turns it into one long match).
     * Bytes 0..15 of each block are random too, so {@link #stamp} can overwrite them.
     */
    public static void fill(ByteBuffer dst, int blocks, Shape shape, RandomGenerator rnd) {
        byte[] phrase = new byte[8];
        byte[] b = new byte[BS];
        for (int i = 0; i < blocks; i++) {
            for (int j = 0; j < shape.randomBytes; j += 8) {
                long r = rnd.nextLong();
                for (int k = 0; k < 8 && j + k < shape.randomBytes; k++) b[j + k] = (byte) (r >>> (8 * k));
            }
            for (int j = 0; j < phrase.length; j++) phrase[j] = (byte) ('a' + rnd.nextInt(26));
            for (int j = shape.randomBytes; j < BS; j++) b[j] = phrase[(j - shape.randomBytes) & 7];
            dst.put(b);
        }
    }

    /** Makes block {@code i} of {@code buf} (absolute, position ignored) unique: stamps nonce and counter in its first 16 bytes. */
    public static void stamp(ByteBuffer buf, int i, long nonce, long counter) {
        buf.putLong(i * BS, nonce);
        buf.putLong(i * BS + 8, counter);
    }

    /** {@code n} shaped blocks as byte arrays, block {@code i} carrying {@code i} (little-endian) in bytes 8..15. */
    public static byte[][] shaped(int n, Shape shape, long seed) {
        ByteBuffer bb = ByteBuffer.allocate(n * BS);
        fill(bb, n, shape, new java.util.SplittableRandom(seed));
        byte[][] out = new byte[n][BS];
        for (int i = 0; i < n; i++) {
            bb.get(i * BS, out[i]);
            for (int k = 0; k < 8; k++) out[i][8 + k] = (byte) (i >>> (8 * k));
        }
        return out;
    }

    /** How many blocks of each kind {@link #writeMixed} wrote. */
    public static final class Mix {
        public long zeroBlocks;
        /** Blocks that are copies of a source block written before. */
        public long duplicateBlocks;
        /** First occurrences of the dedupable (source) blocks. */
        public long sourceBlocks;
        public long textBlocks;
        public long randomBlocks;

        public long blocks() {
            return zeroBlocks + duplicateBlocks + sourceBlocks + textBlocks + randomBlocks;
        }

        @Override
        public String toString() {
            return "zero=" + zeroBlocks + " duplicate=" + duplicateBlocks + " source=" + sourceBlocks + " text=" + textBlocks
                    + " random=" + randomBlocks;
        }
    }

    /**
     * Writes {@code blocks} blocks to {@code file}, each, in a seeded random order, one of four
     * kinds with equal odds: zeros, a copy of one of {@code sources} random "source" blocks
     * (dedupable from its second occurrence), {@link #text} (compressible, not dedupable) and
     * {@link #random} (neither).
     */
    public static Mix writeMixed(Path file, long blocks, int sources, long seed) throws IOException {
        Mix m = new Mix();
        Random rnd = new Random(seed);
        byte[][] src = new byte[sources][];
        for (int s = 0; s < sources; s++) src[s] = random(rnd);
        BitSet seen = new BitSet(sources);
        byte[] zero = new byte[BS];
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            for (long b = 0; b < blocks; b++) {
                switch (rnd.nextInt(4)) {
                    case 0 -> {
                        out.write(zero);
                        m.zeroBlocks++;
                    }
                    case 1 -> {
                        int s = rnd.nextInt(sources);
                        out.write(src[s]);
                        if (seen.get(s)) {
                            m.duplicateBlocks++;
                        } else {
                            seen.set(s);
                            m.sourceBlocks++;
                        }
                    }
                    case 2 -> {
                        out.write(text(rnd));
                        m.textBlocks++;
                    }
                    default -> {
                        out.write(random(rnd));
                        m.randomBlocks++;
                    }
                }
            }
        }
        return m;
    }

    /** The block at {@code off} of {@code b} in a few characters, for messages: {@code <zeros>} or its first bytes and CRC. */
    public static String describe(byte[] b, int off) {
        boolean zero = true;
        for (int i = 0; i < BS; i++) if (b[off + i] != 0) { zero = false; break; }
        if (zero) return "<zeros>";
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < 12; i++) sb.append(String.format("%02x", b[off + i]));
        return sb.append("... crc ").append(crc(b, off)).append("]").toString();
    }

    /** CRC-32C of the block at {@code off} of {@code b}. */
    public static long crc(byte[] b, int off) {
        CRC32C c = new CRC32C();
        c.update(b, off, BS);
        return c.getValue();
    }
}
