package org.jvdo.nbd;

import org.jvdo.testsupport.Await;
import static org.jvdo.nbd.NbdProtocol.CMD_FLUSH;
import static org.jvdo.nbd.NbdProtocol.CMD_WRITE;
import static org.jvdo.nbd.NbdProtocol.ENOSPC;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real {@code jvdo serve} whose pool lives on a small tmpfs that fills up: NBD clients get
 * ENOSPC (28), not EPERM; every block acknowledged before the last successful flush reads back;
 * once a filler file on the tmpfs is deleted, writes succeed again without a restart; after
 * SIGTERM, {@code jvdo check} is clean. Needs root to mount the tmpfs (a failure under CI=true).
 */
@Timeout(300)
class HostFilesystemFullTest {
    static final int BS = 4096;
    static final int BLOCKS_PER_WRITE = 8;

    @TempDir Path tmp;
    private Path mnt;
    private boolean mounted;

    @BeforeEach
    void mountTmpfs() throws Exception {
        mnt = tmp.resolve("mnt");
        Files.createDirectories(mnt);
        String why;
        try {
            Tools.Result r = Tools.run(Duration.ofSeconds(30), "mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mnt.toString());
            mounted = r.exit() == 0;
            why = r.output();
        } catch (RuntimeException e) {
            why = e.toString();
        }
        Tools.requireThat(mounted, "cannot mount a tmpfs (root needed): " + why);
    }

    @AfterEach
    void unmount() throws Exception {
        if (!mounted) return;
        Tools.Result r = Tools.run(Duration.ofSeconds(30), "umount", mnt.toString());
        if (r.exit() != 0) {
            // a process still holding a file (a server that did not exit): detach it so nothing stays mounted
            Tools.run(Duration.ofSeconds(30), "umount", "-l", mnt.toString());
            fail("umount " + mnt + " failed: " + r.output());
        }
    }

    /** One request with a simple reply; its error. */
    private static int request(RawClient c, long handle, int type, long offset, byte[] payload) throws IOException {
        c.request(0, type, handle, offset, payload == null ? 0 : payload.length, payload);
        RawClient.Simple s = c.simple();
        assertEquals(handle, s.handle(), "reply handle");
        return s.error();
    }

    private static void verify(RawClient c, Map<Long, byte[]> durable, String when) throws IOException {
        long h = 1_000_000;
        for (Map.Entry<Long, byte[]> e : durable.entrySet()) {
            byte[] got = c.read(h++, e.getKey() * BS, BS);
            if (!java.util.Arrays.equals(e.getValue(), got)) fail(when + ": block " + e.getKey() + " does not read back what was flushed");
        }
    }

    @Test
    void fullHostFilesystemGivesEnospcAndWritesResumeWhenSpaceIsFreed() throws Exception {
        Path filler = mnt.resolve("filler");
        try (OutputStream o = Files.newOutputStream(filler)) {
            byte[] mb = new byte[1 << 20];
            new Random(1).nextBytes(mb);
            for (int i = 0; i < 8; i++) o.write(mb);
        }
        Path data = mnt.resolve("pool");
        int port = ServeProcess.freePort();
        Random r = new Random(20261202);
        Map<Long, byte[]> durable = new LinkedHashMap<>();
        try (ServeProcess s = ServeProcess.serve(tmp, "serve", data, port, "--physical-size", "1G", "--logical-size", "256M",
                "--slab-size", "1M", "--journal-size", "1M", "--engine", "none")) {
            s.awaitServing("vdo0", Duration.ofSeconds(60));
            try (RawClient c = RawClient.open(port)) {
                c.go("vdo0");
                long handle = 1, block = 0;
                Map<Long, byte[]> sinceFlush = new LinkedHashMap<>();
                List<Integer> errors = new ArrayList<>();
                int writesAfterFull = 0;
                long maxBlocks = 40L * 256;     // more than the tmpfs holds
                while (block < maxBlocks && writesAfterFull < 30) {
                    byte[] payload = new byte[BLOCKS_PER_WRITE * BS];
                    r.nextBytes(payload);
                    int err = request(c, handle++, CMD_WRITE, block * BS, payload);
                    if (err == 0) {
                        for (int i = 0; i < BLOCKS_PER_WRITE; i++) {
                            sinceFlush.put(block + i, java.util.Arrays.copyOfRange(payload, i * BS, (i + 1) * BS));
                        }
                    } else {
                        errors.add(err);
                    }
                    if (!errors.isEmpty()) writesAfterFull++;
                    block += BLOCKS_PER_WRITE;
                    if (block % (4 * BLOCKS_PER_WRITE) == 0 || err != 0) {
                        int ferr = request(c, handle++, CMD_FLUSH, 0, null);
                        if (ferr == 0) {
                            durable.putAll(sinceFlush);
                            sinceFlush.clear();
                        } else {
                            errors.add(ferr);
                        }
                    }
                }
                assertTrue(!errors.isEmpty(), "writing " + block + " blocks to a 40 MiB tmpfs never failed");
                for (int e : errors) assertEquals(ENOSPC, e, "errors on a full host filesystem: " + errors);
                assertTrue(durable.size() > 1000, "blocks stored before the tmpfs filled: " + durable.size());
                verify(c, durable, "on the full filesystem");

                Files.delete(filler);
                long[] next = {handle, block};
                Await.until(Conditions.checked(() -> {
                    byte[] d = new byte[BS];
                    r.nextBytes(d);
                    int err = request(c, next[0]++, CMD_WRITE, next[1] * BS, d);
                    if (err == 0) err = request(c, next[0]++, CMD_FLUSH, 0, null);
                    if (err == 0) { durable.put(next[1]++, d); return true; }
                    assertEquals(ENOSPC, err, "while space comes back");
                    return false;
                }), 30, () -> "writes did not resume after freeing space, without a restart");
                handle = next[0];
                block = next[1];
                for (int i = 0; i < 64; i++, block++) {
                    byte[] d = new byte[BS];
                    r.nextBytes(d);
                    assertEquals(0, request(c, handle++, CMD_WRITE, block * BS, d), "write after space came back");
                    durable.put(block, d);
                }
                assertEquals(0, request(c, handle++, CMD_FLUSH, 0, null), "flush after space came back");
                verify(c, durable, "after space came back");
                System.out.println("HostFilesystemFullTest: " + durable.size() + " blocks durable, errors " + errors);
                c.disconnect();
            }
            assertEquals(0, s.terminate(Duration.ofSeconds(60)), "jvdo serve exit code after SIGTERM\n" + s.err());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"check", data.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, rc, "jvdo check after the filesystem filled and space came back\n"
                + out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8));
    }
}
