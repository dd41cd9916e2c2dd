package org.jvdo.nbd;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

/**
 * A file of 4 KiB blocks of four kinds in a seeded random order: zeros, copies of a few
 * "source" blocks (dedupable), unique English-like text (compressible about 3.5:1 by LZ4, not
 * dedupable) and
 * unique random bytes (neither). Records how many blocks of each kind it wrote.
 */
final class MixedData {
    static final int BLOCK = 4096;
    private static final String[] WORDS = ("the of and to in is that for it as was with be by on not he this are or his "
            + "from at which but have an they you were her she there been one all we their has would when if so no "
            + "block device volume journal slab index packer fragment compress duplicate mapping logical physical "
            + "server export request reply flush trim zero write read page cache storage kernel engine pool").split(" ");

    long zeroBlocks;
    long duplicateBlocks;     // blocks that are copies of a source block written before
    long sourceBlocks;        // first occurrences of the dedupable blocks
    long textBlocks;
    long randomBlocks;

    long blocks() {
        return zeroBlocks + duplicateBlocks + sourceBlocks + textBlocks + randomBlocks;
    }

    /** Writes {@code blocks} blocks to {@code file}; {@code sources} distinct dedupable blocks. */
    static MixedData write(Path file, long blocks, int sources, long seed) throws IOException {
        MixedData m = new MixedData();
        Random rnd = new Random(seed);
        byte[][] src = new byte[sources][BLOCK];
        for (byte[] s : src) {
            rnd.nextBytes(s);
        }
        String[] sentences = sentences(rnd, 20);
        Set<Integer> seen = new HashSet<>();
        byte[] zero = new byte[BLOCK];
        byte[] buf = new byte[BLOCK];
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
                        if (seen.add(s)) {
                            m.sourceBlocks++;
                        } else {
                            m.duplicateBlocks++;
                        }
                    }
                    case 2 -> {
                        text(rnd, sentences, b, buf);
                        out.write(buf);
                        m.textBlocks++;
                    }
                    default -> {
                        rnd.nextBytes(buf);
                        out.write(buf);
                        m.randomBlocks++;
                    }
                }
            }
        }
        return m;
    }

    /**
     * A block of sentences drawn from {@code sentences}, with an occasional number, unique
     * through its block number; about 1.1 KiB after LZ4 with 20 sentences.
     */
    static void text(Random rnd, String[] sentences, long blockNumber, byte[] dst) {
        StringBuilder sb = new StringBuilder(BLOCK + 256).append("Block ").append(blockNumber).append(". ");
        while (sb.length() < BLOCK) {
            sb.append(sentences[rnd.nextInt(sentences.length)]);
            if (rnd.nextInt(8) == 0) {
                sb.append(rnd.nextInt(100_000)).append(". ");
            }
        }
        byte[] b = sb.toString().getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, dst, 0, BLOCK);
    }

    /** {@code n} random sentences of 6 to 17 words. */
    static String[] sentences(Random rnd, int n) {
        String[] out = new String[n];
        for (int s = 0; s < n; s++) {
            StringBuilder sb = new StringBuilder();
            int words = 6 + rnd.nextInt(12);
            for (int i = 0; i < words; i++) {
                String w = WORDS[rnd.nextInt(WORDS.length)];
                sb.append(i == 0 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w).append(i + 1 < words ? " " : ". ");
            }
            out[s] = sb.toString();
        }
        return out;
    }

    @Override
    public String toString() {
        return "zero=" + zeroBlocks + " duplicate=" + duplicateBlocks + " source=" + sourceBlocks + " text=" + textBlocks
                + " random=" + randomBlocks;
    }
}
