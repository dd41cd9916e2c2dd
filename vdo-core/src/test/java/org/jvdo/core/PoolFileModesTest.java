package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pool's files are private: every file jvdo creates in the folder (the pool file and its
 * segments, the lock, the saved index) is 0600 whatever the umask, and a folder it creates is
 * 0700; a folder that was there already keeps its mode.
 */
@Timeout(60)
class PoolFileModesTest {
    @TempDir Path tmp;

    static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    /** Formats, writes, closes (saving the index) and reopens, then lists the folder. */
    static List<Path> makePool(Path dir) throws Exception {
        PoolConfig c = PoolConfig.small(32L << 20);
        c.segmentShift = 10; // 4 MiB segments: the pool spans several files
        try (Pool p = Pool.create(dir, c)) {
            Volume v = p.createVolume("v", 1L << 24);
            Random r = new Random(1);
            for (int i = 0; i < 64; i++) {
                Await.value(v.write((long) i * Blocks.BS, ByteBuffer.wrap(Blocks.text(r)), false), "write " + i);
            }
            Await.value(v.flush(), "flush");
        }
        try (Pool p = Pool.open(dir, c)) {
            p.volume("v");
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void aNewPoolFolderIs0700AndEveryFileIn0600() throws Exception {
        Path dir = tmp.resolve("made/by/jvdo");
        List<Path> files = makePool(dir);
        assertEquals("rwx------", mode(dir), "the pool folder jvdo made");
        assertTrue(files.contains(dir.resolve(Pool.DATA_FILE)), "files: " + files);
        assertTrue(files.contains(dir.resolve(Pool.LOCK_FILE)), "files: " + files);
        assertTrue(files.stream().anyMatch(f -> f.getFileName().toString().startsWith("index")), "files: " + files);
        assertTrue(files.stream().filter(f -> f.getFileName().toString().startsWith(Pool.DATA_FILE)).count() > 2,
                "segments: " + files);
        for (Path f : files) assertEquals("rw-------", mode(f), f.toString());
    }

    @Test
    void anExistingFolderKeepsItsModeButTheFilesAre0600() throws Exception {
        Path dir = tmp.resolve("given");
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x---"));
        for (Path f : makePool(dir)) assertEquals("rw-------", mode(f), f.toString());
        assertEquals("rwxr-x---", mode(dir), "a folder the operator made keeps its mode");
    }
}
