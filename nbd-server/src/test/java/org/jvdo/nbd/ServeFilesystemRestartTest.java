package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.jvdo.testsupport.Blocks;

/**
 * ext4 on a volume of {@code jvdo serve} running as its own process, across a real restart:
 * SIGTERM, a new process on the same pool folder, mount again, every file identical. While the
 * first server runs, a second one on the same folder is refused.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ServeFilesystemRestartTest {
    static final Duration T = Duration.ofSeconds(60);
    static final long SIZE = 256L << 20;

    @TempDir
    Path tmp;

    /** About 25 MiB in 15 folders: text, random, duplicated and empty files, and a sparse one. */
    static void generateTree(Path root) throws IOException {
        Random rnd = new Random(11);
        byte[] shared = new byte[192 << 10];
        rnd.nextBytes(shared);
        for (int d = 0; d < 15; d++) {
            Path dir = Files.createDirectories(root.resolve("d" + d).resolve("s" + (d % 4)));
            for (int f = 0; f < 12; f++) {
                Path file = dir.resolve("f" + f + (f % 4 == 1 ? ".txt" : ".bin"));
                switch (f % 4) {
                    case 0 -> Files.write(file, new byte[f == 0 ? 0 : rnd.nextInt(100_000)]); // empty / zeros
                    case 1 -> {
                        int blocks = 1 + rnd.nextInt(48);
                        try (var out = Files.newOutputStream(file)) {
                            for (int b = 0; b < blocks; b++) {
                                byte[] block = Blocks.text(rnd);
                                out.write(block, 0, b + 1 < blocks ? block.length : 1 + rnd.nextInt(block.length));
                            }
                        }
                    }
                    case 2 -> {
                        byte[] data = new byte[rnd.nextInt(400_000)];
                        rnd.nextBytes(data);
                        Files.write(file, data);
                    }
                    default -> Files.write(file, shared); // duplicate content
                }
            }
        }
    }

    /** Relative path of every file and folder → SHA-256 of its content ("dir" for folders). */
    static SortedMap<String, String> hashes(Path root) throws Exception {
        SortedMap<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String rel = root.relativize(p).toString();
                if (Files.isDirectory(p)) {
                    m.put(rel, "dir");
                } else {
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    try (InputStream in = Files.newInputStream(p)) {
                        byte[] buf = new byte[1 << 16];
                        for (int n; (n = in.read(buf)) > 0; ) {
                            md.update(buf, 0, n);
                        }
                    }
                    m.put(rel, HexFormat.of().formatHex(md.digest()) + " " + Files.size(p));
                }
            }
        }
        return m;
    }

    @Test
    void ext4SurvivesARealServerRestart() throws Exception {
        FuseLoop.requireEnvironment();
        Path data = tmp.resolve("pool");
        Path source = Files.createDirectories(tmp.resolve("src"));
        generateTree(source);
        SortedMap<String, String> expected = hashes(source);
        assertTrue(expected.size() > 150, "tree size " + expected.size());
        String[] sizes = {"--logical-size", "256M", "--physical-size", "1G"};

        try (ServeProcess first = ServeProcess.serve(tmp, "first", data, ServeProcess.freePort(), sizes)) {
            first.awaitServing("vdo0", T);
            assertTrue(first.out().contains("(formatted)"), first.out());

            // a second server on the same folder is refused while the first runs
            try (ServeProcess second = ServeProcess.serve(tmp, "second", data, ServeProcess.freePort(), sizes)) {
                int rc = second.awaitExit(T);
                assertNotEquals(0, rc, "second server on a busy pool must fail\n" + second.out());
                List<String> err = second.err().lines().toList();
                assertEquals(1, err.size(), "one-line error: " + second.err());
                assertTrue(err.get(0).startsWith("jvdo: ") && err.get(0).contains("in use by another jvdo"), second.err());
                assertFalse(second.out().contains("jvdo: serving"), second.out());
            }
            assertTrue(first.process.isAlive(), "the refused second server must not disturb the first");

            try (FuseLoop disk = FuseLoop.attach(tmp.resolve("a1"), first.uri("vdo0"), SIZE)) {
                disk.mkfs();
                Path mnt = disk.mount();
                Tools.run(T, "cp", "-a", source + "/.", mnt.resolve("tree").toString()).assertOk("cp");
                Tools.run(T, "sync", "-f", mnt.toString()).assertOk("sync");
                assertEquals(expected, hashes(mnt.resolve("tree")), "tree before restart");
                disk.unmount();
                disk.fsckClean();
            }
            int rc = first.terminate(T);
            assertEquals(0, rc, "exit code after SIGTERM\nstdout:\n" + first.out() + "\nstderr:\n" + first.err());
            assertEquals("", first.errBeyondInfo());
        }
        assertTrue(ServeProcess.lockIsFree(data), "the pool lock is released after the server exits");

        try (ServeProcess again = ServeProcess.serve(tmp, "again", data, ServeProcess.freePort(), sizes)) {
            again.awaitServing("vdo0", T);
            assertFalse(again.out().contains("(formatted)"), again.out());
            assertFalse(again.out().contains("recovered"), "a clean shutdown needs no recovery:\n" + again.out());
            try (FuseLoop disk = FuseLoop.attach(tmp.resolve("a2"), again.uri("vdo0"), SIZE)) {
                Path mnt = disk.mount();
                assertEquals(expected, hashes(mnt.resolve("tree")), "tree after restart");
                disk.unmount();
                disk.fsckClean();
            }
            assertEquals(0, again.terminate(T), again.err());
        }
        assertTrue(ServeProcess.lockIsFree(data));
    }
}
