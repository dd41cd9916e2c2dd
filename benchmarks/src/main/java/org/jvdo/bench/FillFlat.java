package org.jvdo.bench;

import org.jvdo.testsupport.Blocks;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * Flatness from empty to full (issue 12): fills a pool with unique data (written raw, one data
 * block per logical block) until it is 90% full, in nine segments of 10% of the physical space,
 * printing each segment's throughput; then overwrites random blocks of the written range with
 * unique data (each overwrite frees one block and allocates another, so the allocator works
 * after its cursor wrapped, among scattered free blocks), in segments of 5% of the blocks or
 * {@value #MIN_OVERWRITES} overwrites, whichever is more (a segment of well under a second
 * measures a checkpoint or a GC pause more than the allocator). A plain
 * {@code main}, not JMH: each segment runs once, in order, on one pool.
 *
 * <p>{@code java -cp benchmarks.jar:lib/* org.jvdo.bench.FillFlat [physicalMiB] [overwriteSegments]}
 * (bench/fill-flat builds and runs it). The pool lives under $JVDO_BENCH_DIR or java.io.tmpdir.
 */
public final class FillFlat {
    private static final int FILL_CALL_BLOCKS = 32;
    private static final int DEPTH = 64;
    private static final long MIN_OVERWRITES = 200_000;

    public static void main(String[] args) throws Exception {
        long physicalMiB = args.length > 0 ? Long.parseLong(args[0]) : 2048;
        int overwriteSegments = args.length > 1 ? Integer.parseInt(args[1]) : 6;
        long physicalBytes = physicalMiB << 20;
        long blocks = physicalBytes / Blocks.BS;
        long segment = blocks / 10;
        long nonce = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(7);
        try (PoolFixture fx = new PoolFixture(physicalBytes, physicalBytes)) {
            ByteBuffer[] fill = new ByteBuffer[DEPTH];
            ByteBuffer[] one = new ByteBuffer[DEPTH];
            for (int i = 0; i < DEPTH; i++) {
                fill[i] = ByteBuffer.allocate(FILL_CALL_BLOCKS * Blocks.BS);
                Blocks.fill(fill[i], FILL_CALL_BLOCKS, Blocks.Shape.RAW2050, rnd);
                one[i] = ByteBuffer.allocate(Blocks.BS);
                Blocks.fill(one[i], 1, Blocks.Shape.RAW2050, rnd);
            }
            long counter = 0;
            System.out.printf("pool: %d MiB physical (%d blocks), fill segments of %d blocks, then %d random-overwrite segments of %d blocks%n",
                    physicalMiB, blocks, segment, overwriteSegments, Math.max(segment / 2, MIN_OVERWRITES));
            double first = 0, last = 0;
            long lbn = 0;
            for (int seg = 0; seg < 9; seg++) {
                InFlight in = new InFlight(DEPTH, 0, physicalBytes);
                long t0 = System.nanoTime();
                long end = lbn + segment;
                for (; lbn + FILL_CALL_BLOCKS <= end; lbn += FILL_CALL_BLOCKS) {
                    int s = in.next();
                    ByteBuffer b = fill[s];
                    for (int i = 0; i < FILL_CALL_BLOCKS; i++) Blocks.stamp(b, i, nonce, counter++);
                    b.clear();
                    in.started(s, fx.volume.write(lbn * Blocks.BS, b, false));
                }
                in.awaitAll();
                double mbs = segment * (double) Blocks.BS / 1e6 / ((System.nanoTime() - t0) / 1e9);
                if (seg == 0) first = mbs;
                last = mbs;
                System.out.printf("fill %d0%%..%d0%%: %.0f MB/s (data_blocks_used=%d)%n", seg, seg + 1, mbs, fx.pool.stats().get("data_blocks_used"));
            }
            System.out.printf("fill: last/first = %.2f%n", last / first);
            long written = lbn;
            double ofirst = 0, olast = 0;
            for (int seg = 0; seg < overwriteSegments; seg++) {
                InFlight in = new InFlight(DEPTH, 0, Long.MAX_VALUE);
                long n = Math.max(segment / 2, MIN_OVERWRITES);
                long t0 = System.nanoTime();
                for (long k = 0; k < n; k++) {
                    int s = in.next();
                    ByteBuffer b = one[s];
                    Blocks.stamp(b, 0, nonce, counter++);
                    b.clear();
                    in.started(s, fx.volume.write(rnd.nextLong(written) * Blocks.BS, b, false));
                }
                in.awaitAll();
                double iops = n / ((System.nanoTime() - t0) / 1e9);
                if (seg == 0) ofirst = iops;
                olast = iops;
                System.out.printf("random overwrite %d: %.0f IOPS 4k (data_blocks_used=%d)%n", seg, iops, fx.pool.stats().get("data_blocks_used"));
            }
            if (overwriteSegments > 0) System.out.printf("random overwrite: last/first = %.2f%n", olast / ofirst);
            System.out.println(fx.summary());
        }
        System.exit(0);
    }
}
