package org.jvdo.bench;

import net.openhft.hashing.LongTupleHashFunction;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.testsupport.Blocks;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Index memory and found duplicates (issue 12), per index mode: a synthetic VM-like image
 * (text, random, nearly empty and zero blocks, with some blocks repeated inside the image) is
 * written to volume "a", then a copy of it with about 2% of its blocks changed in place plus
 * four changed runs of 256 blocks to volume "b". Prints, per phase, the duplicates present
 * (non-zero blocks whose content was written before), the duplicates found (dedupe_advice_valid
 * + concurrent_data_matches), and the index's bytes per entry and per block written.
 *
 * <p>{@code java -cp benchmarks.jar:lib/* org.jvdo.bench.IndexMemory [imageMiB (256)] [modes (dense,sparse)]}
 * (bench/index-memory builds and runs it). Pools live under $JVDO_BENCH_DIR or java.io.tmpdir.
 */
public final class IndexMemory {
    private static final int CHUNK = 32;
    private static final int DEPTH = 16;
    private static final LongTupleHashFunction XX = LongTupleHashFunction.xx128();

    public static void main(String[] args) throws Exception {
        int imageMiB = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        String[] modes = (args.length > 1 ? args[1] : "dense,sparse").split(",");
        int blocks = imageMiB * 256;
        byte[][] image = new byte[blocks][];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < blocks; i++) {
            int k = r.nextInt(100);
            if (k < 35) image[i] = Blocks.text(r);
            else if (k < 80) image[i] = Blocks.random(r);
            else if (k < 88) image[i] = Blocks.sparse(r);
            else if (k < 95) image[i] = new byte[Blocks.BS];
            else image[i] = i > 0 ? image[r.nextInt(i)] : Blocks.random(r);   // repeated inside the image
        }
        byte[][] copy = image.clone();
        int changed = 0;
        for (int i = 0; i < blocks; i++) if (r.nextInt(100) < 2) { copy[i] = Blocks.random(r); changed++; }
        for (int run = 0; run < 4; run++) {
            int s = r.nextInt(blocks - 256);
            for (int i = s; i < s + 256; i++) copy[i] = Blocks.random(r);
        }
        System.out.printf("image: %d MiB (%d blocks); copy: %d blocks changed in place plus 4 changed runs of 256%n", imageMiB, blocks, changed);
        Set<Long> seen = new HashSet<>();
        long[] present = {duplicates(image, seen), duplicates(copy, seen)};
        for (String mode : modes) run(mode.trim(), imageMiB, image, copy, present);
    }

    /** Non-zero blocks of {@code blocks} whose content is in {@code seen} (which learns them all). */
    private static long duplicates(byte[][] blocks, Set<Long> seen) {
        long d = 0;
        for (byte[] b : blocks) {
            if (isZero(b)) continue;
            long[] h = XX.hashBytes(b);
            if (!seen.add(h[0] ^ Long.rotateLeft(h[1], 17))) d++;
        }
        return d;
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    private static long nonZero(byte[][] blocks) {
        long n = 0;
        for (byte[] b : blocks) if (!isZero(b)) n++;
        return n;
    }

    private static void run(String mode, int imageMiB, byte[][] image, byte[][] copy, long[] present) throws Exception {
        String base = System.getenv("JVDO_BENCH_DIR");
        Path dir = base == null ? Files.createTempDirectory("jvdo-index-") : Files.createTempDirectory(Path.of(base), "jvdo-index-");
        PoolConfig cfg = new PoolConfig();
        cfg.physicalBytes = (long) imageMiB * 3 << 20;
        cfg.indexMode = mode;
        try (Pool pool = Pool.create(dir.resolve("pool"), cfg)) {
            long size = (long) image.length * Blocks.BS;
            Volume a = pool.createVolume("a", size);
            Volume b = pool.createVolume("b", size);
            long written = 0;
            String[] phase = {"image -> a", "copy -> b"};
            byte[][][] data = {image, copy};
            Volume[] vols = {a, b};
            for (int p = 0; p < 2; p++) {
                long before = found(pool.stats());
                long t0 = System.nanoTime();
                write(vols[p], data[p]);
                double secs = (System.nanoTime() - t0) / 1e9;
                written += nonZero(data[p]);
                Map<String, Long> s = pool.stats();
                long f = found(s) - before;
                long entries = s.get("index_entries"), mem = s.get("index_memory_bytes");
                System.out.printf("%-6s %-10s present %6d found %6d (%.4f)  index: %d entries, %d bytes, %.2f B/entry, %.3f B/block written  (%.0f MB/s)%n",
                        mode, phase[p], present[p], f, present[p] == 0 ? 1.0 : (double) f / present[p], entries, mem,
                        entries == 0 ? 0.0 : (double) mem / entries, (double) mem / written,
                        data[p].length * (double) Blocks.BS / 1e6 / secs);
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) { s.sorted(Comparator.reverseOrder()).forEach(q -> q.toFile().delete()); }
        }
    }

    private static long found(Map<String, Long> s) { return s.get("dedupe_advice_valid") + s.get("concurrent_data_matches"); }

    private static void write(Volume v, byte[][] blocks) {
        InFlight in = new InFlight(DEPTH, 0, (long) blocks.length * Blocks.BS);
        ByteBuffer[] bufs = new ByteBuffer[DEPTH];
        for (int i = 0; i < DEPTH; i++) bufs[i] = ByteBuffer.allocate(CHUNK * Blocks.BS);
        for (int base = 0; base < blocks.length; base += CHUNK) {
            int s = in.next();
            ByteBuffer buf = bufs[s];
            buf.clear();
            int n = Math.min(CHUNK, blocks.length - base);
            for (int i = 0; i < n; i++) buf.put(blocks[base + i]);
            buf.flip();
            in.started(s, v.write((long) base * Blocks.BS, buf, false));
        }
        in.awaitAll();
        PoolFixture.await(v.flush());
    }
}
