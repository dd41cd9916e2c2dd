package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.BlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ext4 filesystem on the export, the way a real disk is made here without kernel NBD:
 * nbdfuse exposes the export as a file, a direct-I/O loop device turns it into a block device.
 * The filesystem must survive a server restart on the same device.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class FilesystemTest {
    static final Duration T = Duration.ofSeconds(60);
    static final long SIZE = 256L << 20;

    @TempDir
    Path tmp;

    TestServers.Handle server;
    Process nbdfuse;
    Path fuseDir;
    String loop;
    Path mountPoint;

    private void requireEnvironment() {
        Tools.require("nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "fsck.ext4", "mount", "umount", "diff", "cp");
        Tools.requireThat(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing");
        Tools.requireThat(Files.exists(Path.of("/dev/loop-control")), "/dev/loop-control is missing");
        Tools.requireThat("root".equals(System.getProperty("user.name")), "must run as root for losetup/mount");
    }

    /** Exposes the export through nbdfuse and a loop device; returns the loop device. */
    private String attach(String export) throws Exception {
        fuseDir = Files.createDirectories(tmp.resolve("fuse"));
        Path pidFile = tmp.resolve("nbdfuse.pid");
        Files.deleteIfExists(pidFile);
        Path log = tmp.resolve("nbdfuse.log");
        nbdfuse = Tools.builder(List.of("nbdfuse", "-P", pidFile.toString(), fuseDir.resolve("disk").toString(),
                server.uri(export))).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        long deadline = System.currentTimeMillis() + 20_000;
        while (!(Files.exists(pidFile) && Files.size(pidFile) > 0)) {
            if (!nbdfuse.isAlive()) {
                fail("nbdfuse exited " + nbdfuse.exitValue() + ": " + Files.readString(log));
            }
            if (System.currentTimeMillis() > deadline) {
                fail("nbdfuse did not become ready: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        Path file = fuseDir.resolve("disk");
        assertEquals(SIZE, Files.size(file));
        loop = Tools.run(T, "losetup", "-f", "--show", "--direct-io=on", file.toString())
                .assertOk("losetup").output().trim();
        assertTrue(loop.startsWith("/dev/loop"), loop);
        return loop;
    }

    private void mount() throws IOException {
        mountPoint = Files.createDirectories(tmp.resolve("mnt"));
        Tools.run(T, "mount", "-t", "ext4", loop, mountPoint.toString()).assertOk("mount");
    }

    private void unmount() {
        if (mountPoint != null) {
            Tools.Result r = Tools.quiet(T, "umount", mountPoint.toString());
            if (r.exit() != 0) {
                Tools.quiet(T, "umount", "-l", mountPoint.toString());
            }
            mountPoint = null;
        }
    }

    /** Undoes everything attach() and mount() did, ignoring failures; safe to call twice. */
    private void detach() {
        unmount();
        if (loop != null) {
            Tools.quiet(T, "losetup", "-d", loop);
            loop = null;
        }
        if (fuseDir != null) {
            Tools.quiet(T, "fusermount3", "-u", fuseDir.toString());
            fuseDir = null;
        }
        if (nbdfuse != null) {
            try {
                if (!nbdfuse.waitFor(10, TimeUnit.SECONDS)) {
                    Tools.kill(nbdfuse);
                }
            } catch (InterruptedException e) {
                Tools.kill(nbdfuse);
                Thread.currentThread().interrupt();
            }
            nbdfuse = null;
        }
    }

    @AfterEach
    void cleanUp() {
        try {
            detach();
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    private static void generateTree(Path root) throws IOException {
        Random rnd = new Random(7);
        byte[] shared = new byte[64 << 10];
        rnd.nextBytes(shared);
        for (int d = 0; d < 12; d++) {
            Path dir = Files.createDirectories(root.resolve("dir" + d).resolve("sub" + (d % 3)));
            for (int f = 0; f < 10; f++) {
                int size = switch (f % 4) {
                    case 0 -> 0;
                    case 1 -> rnd.nextInt(5000);
                    case 2 -> rnd.nextInt(300_000);
                    default -> shared.length;
                };
                byte[] data = new byte[size];
                if (f % 4 == 3) {
                    System.arraycopy(shared, 0, data, 0, size); // duplicate content
                } else {
                    rnd.nextBytes(data);
                }
                Files.write(dir.resolve("file" + f + ".bin"), data);
            }
            Files.writeString(dir.resolve("notes.txt"), ("line of text " + d + "\n").repeat(500));
        }
    }

    private void fsckClean() {
        Tools.Result r = Tools.run(T, "fsck.ext4", "-fn", loop);
        assertEquals(0, r.exit(), "fsck.ext4 -fn found problems:\n" + r.output());
    }

    @Test
    void ext4SurvivesServerRestart() throws Exception {
        requireEnvironment();
        BlockDevice device = TestServers.device("fs", SIZE);
        server = TestServers.start(List.of(device));
        Path source = Files.createDirectories(tmp.resolve("src"));
        generateTree(source);

        attach("fs");
        Tools.run(T, "mkfs.ext4", "-q", "-F", loop).assertOk("mkfs.ext4");
        mount();
        Tools.run(T, "cp", "-a", source + "/.", mountPoint.resolve("tree").toString()).assertOk("cp");
        Tools.run(T, "sync", "-f", mountPoint.toString()).assertOk("sync");
        Tools.run(T, "diff", "-r", source.toString(), mountPoint.resolve("tree").toString()).assertOk("diff");
        unmount();
        fsckClean();
        detach();
        long allocated = 0;
        for (long off = 0; off < SIZE; ) {
            for (BlockDevice.Extent e : device.blockStatus(off, SIZE - off)) {
                allocated += e.hole() ? 0 : e.length();
                off += e.length();
            }
        }
        System.out.println("filesystem test: loop-backed ext4 mapped " + allocated + " bytes");
        assertTrue(allocated > (2L << 20), "the filesystem reached the device: " + allocated + " bytes mapped");

        // restart the server on the same device object and mount again
        server.close();
        server = TestServers.start(List.of(device));
        attach("fs");
        mount();
        Tools.run(T, "diff", "-r", source.toString(), mountPoint.resolve("tree").toString())
                .assertOk("tree after restart");
        unmount();
        fsckClean();
        detach();
    }
}
