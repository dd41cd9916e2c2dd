package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jvdo.testsupport.Blocks;

/**
 * The child process of {@link CrashTest}: opens (or creates) the pool, then writes seeded blocks
 * in rounds, flushes after each and prints {@code FLUSHED <round>} once the flush completed, until
 * it is killed. What each round writes is a pure function of (seed, cycle, round, block).
 *
 * <p>Arguments: pool directory, seed, cycle, max rounds.
 */
public final class CrashWriter {
    static final String VOLUME = "crash";
    static final int VOLUME_BLOCKS = 512;
    static final int BLOCKS_PER_ROUND = 24;

    static PoolConfig config() { return PoolConfig.small(64L << 20); }

    /** The distinct blocks round {@code round} of {@code cycle} writes. */
    static List<Integer> blocksOf(long seed, int cycle, int round) {
        Random r = new Random(seed * 1_000_003L + cycle * 10_007L + round);
        Set<Integer> s = new LinkedHashSet<>();
        // half from a small hot set, so later rounds overwrite earlier ones
        while (s.size() < BLOCKS_PER_ROUND) s.add(r.nextBoolean() ? r.nextInt(48) : r.nextInt(VOLUME_BLOCKS));
        return new ArrayList<>(s);
    }

    /** The content round {@code round} of {@code cycle} writes to {@code block}. */
    static byte[] content(long seed, int cycle, int round, int block) {
        Random r = new Random(((seed * 31 + cycle) * 1_000_003L + round) * 65_537L + block);
        int k = r.nextInt(100);
        if (k < 15) return new byte[Blocks.BS];
        if (k < 45) return Blocks.dupSet(seed, 6).get(r.nextInt(6));
        if (k < 80) return Blocks.text(r);
        return Blocks.random(r);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        int cycle = Integer.parseInt(args[2]);
        int maxRounds = Integer.parseInt(args[3]);
        PrintStream out = System.out;
        Pool pool = Pool.openOrCreate(dir, config());
        Volume v = pool.volume(VOLUME);
        if (v == null) v = pool.createVolume(VOLUME, (long) VOLUME_BLOCKS * Blocks.BS);
        out.println("READY");
        out.flush();
        for (int round = 1; round <= maxRounds; round++) {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int b : blocksOf(seed, cycle, round)) {
                fs.add(v.write((long) b * Blocks.BS, ByteBuffer.wrap(content(seed, cycle, round, b)), false));
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
            v.flush().get(60, TimeUnit.SECONDS);
            out.println("FLUSHED " + round);
            out.flush();
        }
        out.println("DONE");
        out.flush();
        Thread.sleep(Long.MAX_VALUE); // wait to be killed
    }
}
