package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Space accounting: zero blocks are free, duplicates are stored once, compressible blocks are packed. */
class SpaceTest {
    static final int MAX_PAYLOAD = 4040, MAX_FRAGMENTS = 14;
    @TempDir Path dir;

    /** First-fit decreasing bin packing: bins of {@value #MAX_PAYLOAD} bytes, at most 14 fragments each. */
    static int ffdBins(List<Integer> sizes) {
        List<Integer> sorted = new ArrayList<>(sizes);
        sorted.sort(Collections.reverseOrder());
        List<int[]> bins = new ArrayList<>(); // {free, count}
        for (int s : sorted) {
            int[] home = null;
            for (int[] b : bins) if (b[0] >= s && b[1] < MAX_FRAGMENTS) { home = b; break; }
            if (home == null) { home = new int[]{MAX_PAYLOAD, 0}; bins.add(home); }
            home[0] -= s;
            home[1]++;
        }
        return bins.size();
    }

    @Test
    void ffdReference() {
        assertEquals(2, ffdBins(List.of(2000, 2000, 2000, 40)));
        assertEquals(2, ffdBins(Collections.nCopies(15, 10)));
        assertEquals(3, ffdBins(List.of(3000, 3000, 3000, 1000, 1000, 1000)));
    }

    @Test
    void dedupAndCompressionReachNearIdealSpace() throws Exception {
        long seed = Long.getLong("jvdo.seed", 4242);
        String ctx = "seed " + seed + " (rerun with -Djvdo.seed=" + seed + ")";
        Random r = new Random(seed);
        LZ4Compressor lz4 = LZ4Factory.fastestInstance().fastCompressor();
        byte[] out = new byte[lz4.maxCompressedLength(BS)];

        // the unique contents: mostly text (fragments of ~1-1.5 KiB), some random (incompressible)
        List<byte[]> unique = new ArrayList<>();
        for (int i = 0; i < 900; i++) unique.add(Blocks.text(r));
        for (int i = 0; i < 100; i++) unique.add(Blocks.random(r));
        int raw = 0;
        List<Integer> fragments = new ArrayList<>();
        for (byte[] u : unique) {
            int n = lz4.compress(u, 0, BS, out, 0, out.length);
            if (n > MAX_PAYLOAD) raw++; else fragments.add(n);
        }
        List<Integer> sortedFrag = new ArrayList<>(fragments);
        Collections.sort(sortedFrag);
        int median = sortedFrag.get(sortedFrag.size() / 2);
        assertTrue(median >= 900 && median <= 1600, ctx + ": the dataset's text should compress to about 1-1.5 KiB, median " + median);
        int bins = ffdBins(fragments);
        int ideal = raw + bins;
        long fragBytes = fragments.stream().mapToLong(Integer::longValue).sum();
        long lowerBound = raw + (fragBytes + MAX_PAYLOAD - 1) / MAX_PAYLOAD;

        // each unique block written 2 or 3 times at shuffled logical blocks, plus zero blocks
        List<byte[]> writes = new ArrayList<>();
        for (byte[] u : unique) { writes.add(u); writes.add(u); if (r.nextInt(3) == 0) writes.add(u); }
        int zeros = 300;
        Collections.shuffle(writes, r);
        int logical = writes.size() + zeros;

        PoolConfig cfg = PoolConfig.small(256L << 20);
        // a bin leaves on its timeout only when the machine is slower than the writer; a loaded
        // CI machine must not turn that into a space failure
        cfg.packerTimeoutMillis = 2_000;
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("data", 4096L * BS);
            Volume w = pool.createVolume("copy", 4096L * BS);

            // zero blocks cost no storage
            byte[] zeroBuf = new byte[zeros * BS];
            Await.value(v.write((long) writes.size() * BS, ByteBuffer.wrap(zeroBuf), false), ctx);
            pool.quiesce();
            assertEquals(0, pool.stats().get("data_blocks_used"), ctx + ": zero blocks must not use storage");
            assertEquals(zeros, pool.stats().get("same_pages"), ctx);

            writeAll(v, writes, r, ctx);
            pool.quiesce();
            Map<String, Long> s = pool.stats();
            System.out.println(ctx + ": " + unique.size() + " unique (" + raw + " incompressible, " + fragments.size()
                    + " fragments, median " + median + " B, FFD " + bins + " bins), ideal " + ideal + ", lower bound " + lowerBound
                    + ", logical " + logical + "; stats " + s);
            long data = s.get("data_blocks_used");
            long limit = (long) Math.floor(ideal * 1.10);
            assertTrue(data <= limit, ctx + ": data_blocks_used " + data + " > ideal " + ideal + " + 10% (" + limit + ")");
            assertTrue(data >= lowerBound, ctx + ": data_blocks_used " + data + " below what the data can possibly need (" + lowerBound + ")");
            assertTrue(s.get("compressed_fragments_written") > 0, ctx + ": nothing was compressed");
            assertEquals(logical, s.get("logical_blocks_used"), ctx);
            long saving = s.get("saving_percent");
            long savingLo = (logical - limit) * 100 / logical, savingHi = (logical - lowerBound) * 100 / logical;
            assertTrue(saving >= savingLo && saving <= savingHi, ctx + ": saving_percent " + saving + " not in " + savingLo + ".." + savingHi);

            // the same data in a second volume of the pool: stored once
            writeAll(w, writes, r, ctx);
            pool.quiesce();
            Map<String, Long> s2 = pool.stats();
            assertEquals(data, s2.get("data_blocks_used"), ctx + ": identical blocks in a second volume took new storage");
            assertEquals(logical - zeros + logical, s2.get("logical_blocks_used"), ctx);
            assertTrue(pool.verifyReferenceCounts().isEmpty(), ctx + ": " + pool.verifyReferenceCounts());

            for (Volume vol : List.of(v, w)) {
                byte[] got = Volumes.read(vol, 0, writes.size() * BS);
                for (int i = 0; i < writes.size(); i++) {
                    assertTrue(Arrays.equals(got, i * BS, (i + 1) * BS, writes.get(i), 0, BS), ctx + ": " + vol + " block " + i + " differs");
                }
            }
        }
    }

    /** Writes block i = writes[i], 64 concurrent requests at a time, in a shuffled order. */
    static void writeAll(Volume v, List<byte[]> writes, Random r, String ctx) throws Exception {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < writes.size(); i++) order.add(i);
        Collections.shuffle(order, r);
        for (int i = 0; i < order.size(); i += 64) {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int j = i; j < Math.min(order.size(), i + 64); j++) {
                int lbn = order.get(j);
                fs.add(v.write((long) lbn * BS, ByteBuffer.wrap(writes.get(lbn)), false));
            }
            Await.value(CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])), ctx);
        }
    }
}
