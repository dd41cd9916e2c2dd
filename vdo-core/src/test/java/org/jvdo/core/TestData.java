package org.jvdo.core;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Block contents and small helpers shared by the engine tests. */
final class TestData {
    static final int BS = 4096;
    private static final String[] WORDS = {
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "volume", "block", "device",
        "dedup", "compress", "journal", "slab", "depot", "packer", "fragment", "mapping", "index",
        "recovery", "flush", "write", "read", "trim", "zero", "logical", "physical", "reference",
        "count", "checksum", "super", "generation", "kernel", "userspace", "storage", "pool", "thin",
        "provision", "hash", "lock", "queue", "thread", "future", "complete", "durable", "crash",
        "replay", "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "lambda", "sigma",
        "omega", "north", "south", "east", "west", "river", "mountain", "forest", "ocean", "desert",
    };

    private TestData() { }

    /**
     * English-like text: a block-specific pool of 24..48 sentences of random words, repeated in
     * random order. LZ4 makes it about 1000-1500 bytes.
     */
    static byte[] text(Random r) {
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

    static byte[] random(Random r) {
        byte[] b = new byte[BS];
        r.nextBytes(b);
        return b;
    }

    /** A fixed set of contents, identical for every caller with the same seed (duplicates). */
    static List<byte[]> dupSet(long seed, int n) {
        Random r = new Random(seed);
        List<byte[]> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            switch (i % 3) {
                case 0 -> l.add(text(r));
                case 1 -> l.add(random(r));
                default -> {
                    byte[] b = new byte[BS];
                    b[r.nextInt(BS)] = (byte) (1 + r.nextInt(255));
                    l.add(b);
                }
            }
        }
        return l;
    }

    static <T> T await(CompletableFuture<T> f, String what) throws Exception {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError(what + ": not completed within 60 s", e);
        }
    }

    static byte[] read(Volume v, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        await(v.read(offset, b), "read of " + length + " bytes at " + offset);
        if (b.hasRemaining()) throw new AssertionError("read of " + length + " at " + offset + " left " + b.remaining() + " bytes unfilled");
        return b.array();
    }

    /** First bytes of a block as text, for messages. */
    static String describe(byte[] b, int off) {
        boolean zero = true;
        for (int i = 0; i < BS; i++) if (b[off + i] != 0) { zero = false; break; }
        if (zero) return "<zeros>";
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < 12; i++) sb.append(String.format("%02x", b[off + i]));
        return sb.append("... crc ").append(crc(b, off)).append("]").toString();
    }

    static long crc(byte[] b, int off) {
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(b, off, BS);
        return c.getValue();
    }
}
