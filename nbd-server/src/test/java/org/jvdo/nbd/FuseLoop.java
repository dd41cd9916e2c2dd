package org.jvdo.nbd;

import org.jvdo.testsupport.Await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An NBD export as a block device without kernel NBD: nbdfuse exposes it as a file in a FUSE
 * mount, a direct-I/O loop device makes that a disk. {@link #close()} unmounts, detaches the loop
 * device, unmounts FUSE and stops nbdfuse, ignoring failures; it is safe to call twice.
 */
final class FuseLoop implements AutoCloseable {
    static final Duration T = Duration.ofSeconds(60);

    private final Path work;
    private Process nbdfuse;
    private Path fuseDir;
    private String loop;
    private Path mountPoint;

    private FuseLoop(Path work) {
        this.work = work;
    }

    static void requireEnvironment() {
        Tools.require("nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "fsck.ext4", "mount", "umount", "cp", "sync");
        Tools.requireThat(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing");
        Tools.requireThat(Files.exists(Path.of("/dev/loop-control")), "/dev/loop-control is missing");
        Tools.requireThat("root".equals(System.getProperty("user.name")), "must run as root for losetup/mount");
    }

    /** Attaches {@code uri}, expecting an export of {@code size} bytes. */
    static FuseLoop attach(Path work, String uri, long size) throws Exception {
        FuseLoop f = new FuseLoop(Files.createDirectories(work));
        try {
            f.start(uri, size);
            return f;
        } catch (Throwable t) {
            f.close();
            throw t;
        }
    }

    private void start(String uri, long size) throws Exception {
        fuseDir = Files.createDirectories(work.resolve("fuse"));
        Path pidFile = work.resolve("nbdfuse.pid");
        Files.deleteIfExists(pidFile);
        Path log = work.resolve("nbdfuse.log");
        nbdfuse = Tools.builder(List.of("nbdfuse", "-P", pidFile.toString(), fuseDir.resolve("disk").toString(), uri))
                .redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        Await.until(Conditions.checked(() -> {
            if (Files.exists(pidFile) && Files.size(pidFile) > 0) return true;
            if (!nbdfuse.isAlive()) fail("nbdfuse exited " + nbdfuse.exitValue() + ": " + Files.readString(log));
            return false;
        }), 20, Conditions.text(() -> "nbdfuse did not become ready: " + Files.readString(log)));
        Path file = fuseDir.resolve("disk");
        assertEquals(size, Files.size(file));
        loop = Tools.run(T, "losetup", "-f", "--show", "--direct-io=on", file.toString())
                .assertOk("losetup").output().trim();
        assertTrue(loop.startsWith("/dev/loop"), loop);
    }

    String device() {
        return loop;
    }

    void mkfs() {
        Tools.run(T, "mkfs.ext4", "-q", "-F", loop).assertOk("mkfs.ext4");
    }

    Path mount() throws IOException {
        mountPoint = Files.createDirectories(work.resolve("mnt"));
        Tools.run(T, "mount", "-t", "ext4", loop, mountPoint.toString()).assertOk("mount");
        return mountPoint;
    }

    void unmount() {
        if (mountPoint != null) {
            Tools.Result r = Tools.quiet(T, "umount", mountPoint.toString());
            if (r.exit() != 0) {
                Tools.quiet(T, "umount", "-l", mountPoint.toString());
                mountPoint = null;
                fail("umount failed: " + r.output());
            }
            mountPoint = null;
        }
    }

    void fsckClean() {
        Tools.Result r = Tools.run(T, "fsck.ext4", "-fn", loop);
        assertEquals(0, r.exit(), "fsck.ext4 -fn found problems:\n" + r.output());
    }

    @Override
    public void close() {
        if (mountPoint != null) {
            if (Tools.quiet(T, "umount", mountPoint.toString()).exit() != 0) {
                Tools.quiet(T, "umount", "-l", mountPoint.toString());
            }
            mountPoint = null;
        }
        if (loop != null) {
            Tools.quiet(T, "losetup", "-d", loop);
            loop = null;
        }
        if (fuseDir != null) {
            if (Tools.quiet(T, "fusermount3", "-u", fuseDir.toString()).exit() != 0) {
                Tools.quiet(T, "fusermount3", "-u", "-z", fuseDir.toString());
            }
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
}
