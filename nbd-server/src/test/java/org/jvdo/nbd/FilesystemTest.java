package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.api.BlockDevice;
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
    FuseLoop disk;

    @AfterEach
    void cleanUp() {
        try {
            if (disk != null) disk.close();
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

    @Test
    void ext4SurvivesServerRestart() throws Exception {
        FuseLoop.requireEnvironment();
        Tools.require("diff");
        BlockDevice device = TestServers.device("fs", SIZE);
        server = TestServers.start(List.of(device));
        Path source = Files.createDirectories(tmp.resolve("src"));
        generateTree(source);

        disk = FuseLoop.attach(tmp.resolve("disk1"), server.uri("fs"), SIZE);
        disk.mkfs();
        Path mountPoint = disk.mount();
        Tools.run(T, "cp", "-a", source + "/.", mountPoint.resolve("tree").toString()).assertOk("cp");
        Tools.run(T, "sync", "-f", mountPoint.toString()).assertOk("sync");
        Tools.run(T, "diff", "-r", source.toString(), mountPoint.resolve("tree").toString()).assertOk("diff");
        disk.unmount();
        disk.fsckClean();
        disk.close();
        disk = null;
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
        disk = FuseLoop.attach(tmp.resolve("disk2"), server.uri("fs"), SIZE);
        mountPoint = disk.mount();
        Tools.run(T, "diff", "-r", source.toString(), mountPoint.resolve("tree").toString())
                .assertOk("tree after restart");
        disk.unmount();
        disk.fsckClean();
        disk.close();
        disk = null;
    }
}
