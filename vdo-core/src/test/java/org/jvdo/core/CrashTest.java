package org.jvdo.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Kill -9 of a writing JVM: a child ({@link CrashWriter}) writes rounds and reports each
 * completed flush; it is killed at a random moment; every block of a reported round must read
 * back exactly, blocks of later rounds hold their old or one of their new contents.
 */
class CrashTest {
    @TempDir Path tmp;

    @Test
    void sigkillDuringWritesLosesNothingFlushed() throws Exception {
        long seed = Long.getLong("jvdo.seed", System.nanoTime() & 0xFFFFFF);
        int cycles = Integer.getInteger("jvdo.crashCycles", 5);
        int maxRounds = 300;
        String ctx0 = "seed " + seed + " (rerun with -Djvdo.seed=" + seed + ")";
        System.out.println("CrashTest " + ctx0);
        Random r = new Random(seed);
        Path dir = tmp.resolve("pool");
        byte[] model = new byte[CrashWriter.VOLUME_BLOCKS * BS];
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int cycle = 1; cycle <= cycles; cycle++) {
            String ctx = ctx0 + " cycle " + cycle;
            int wantRounds = 1 + r.nextInt(8);
            Path err = tmp.resolve("child-" + cycle + ".err");
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                    CrashWriter.class.getName(), dir.toString(), Long.toString(seed), Integer.toString(cycle), Integer.toString(maxRounds));
            pb.redirectError(err.toFile());
            Process p = pb.start();
            AtomicInteger lastFlushed = new AtomicInteger(0);
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (line.startsWith("FLUSHED ")) lastFlushed.set(Integer.parseInt(line.substring(8).trim()));
                    }
                } catch (Exception ignored) {
                    // the child died
                }
            });
            reader.setDaemon(true);
            reader.start();
            int seen;
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (lastFlushed.get() < wantRounds && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(2);
                if (lastFlushed.get() < wantRounds) {
                    fail(ctx + ": the child reported " + lastFlushed.get() + " flushed rounds of " + wantRounds
                            + " (alive " + p.isAlive() + "); its stderr: " + Files.readString(err));
                }
                Thread.sleep(r.nextInt(120));
            } finally {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
            reader.join(10_000);
            seen = lastFlushed.get();
            System.out.println(ctx + ": killed after " + seen + " reported flushed rounds");

            // the model at the last reported flush, and what later rounds may have left
            List<List<byte[]>> later = new ArrayList<>();
            for (int b = 0; b < CrashWriter.VOLUME_BLOCKS; b++) later.add(null);
            for (int round = 1; round <= maxRounds; round++) {
                for (int b : CrashWriter.blocksOf(seed, cycle, round)) {
                    if (round <= seen) {
                        System.arraycopy(CrashWriter.content(seed, cycle, round, b), 0, model, b * BS, BS);
                    } else {
                        if (later.get(b) == null) later.set(b, new ArrayList<>());
                        later.get(b).add(CrashWriter.content(seed, cycle, round, b));
                    }
                }
            }
            try (Pool pool = Pool.open(dir, CrashWriter.config())) {
                Volume v = pool.volume(CrashWriter.VOLUME);
                byte[] got = Volumes.read(v, 0, model.length);
                int changed = 0;
                for (int b = 0; b < CrashWriter.VOLUME_BLOCKS; b++) {
                    boolean ok = Arrays.equals(got, b * BS, (b + 1) * BS, model, b * BS, (b + 1) * BS);
                    if (!ok && later.get(b) != null) {
                        for (byte[] c : later.get(b)) if (Arrays.equals(got, b * BS, (b + 1) * BS, c, 0, BS)) { ok = true; changed++; break; }
                    }
                    if (!ok) {
                        fail(ctx + ": block " + b + " reads " + Blocks.describe(got, b * BS) + ", expected "
                                + Blocks.describe(model, b * BS) + " (as of flushed round " + seen + ")"
                                + (later.get(b) == null ? "; no later round wrote it" : " or one of " + later.get(b).size() + " later writes")
                                + "; open report: " + pool.openReport());
                    }
                }
                List<String> problems = pool.verifyReferenceCounts();
                assertTrue(problems.isEmpty(), ctx + ": reference counts after recovery: " + problems);
                System.out.println(ctx + ": " + changed + " blocks hold writes of unreported rounds; " + pool.openReport());
                System.arraycopy(got, 0, model, 0, model.length);
                if (r.nextBoolean()) pool.crash(); // the next child then recovers a pool that was recovered but not closed
            }
        }
    }
}
