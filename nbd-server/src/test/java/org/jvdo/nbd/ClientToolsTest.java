package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvdo.core.api.BlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Real NBD clients (libnbd tools, qemu, fio, nbd-client) against the in-process server. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ClientToolsTest {
    static final long SIZE = 128L << 20;
    static final Duration T = Duration.ofSeconds(60);

    BlockDevice disk;
    BlockDevice spare;
    TestServers.Handle server;
    @TempDir
    Path tmp;

    @BeforeEach
    void start() {
        disk = TestServers.device("disk", SIZE);
        spare = TestServers.device("spare", 8L << 20);
        server = TestServers.start(List.of(disk, spare));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*(\"[^\"]*\"|[^,}\\s]+)").matcher(json);
        assertTrue(m.find(), "nbdinfo output lacks " + name + ":\n" + json);
        return m.group(1);
    }

    @Test
    void nbdinfoReportsSizeBlockSizesFlagsAndContexts() {
        Tools.require("nbdinfo");
        String json = Tools.run(T, "nbdinfo", "--json", "--no-content", server.uri("disk"))
                .assertOk("nbdinfo").output();
        assertEquals(String.valueOf(SIZE), field(json, "export-size"));
        assertEquals("1", field(json, "block_size_minimum"));
        assertEquals("4096", field(json, "block_size_preferred"));
        assertEquals(String.valueOf(32 << 20), field(json, "block_size_maximum"));
        for (String flag : List.of("can_multi_conn", "can_fua", "can_trim", "can_zero", "can_fast_zero", "can_cache",
                "can_df", "can_flush")) {
            assertEquals("true", field(json, flag), flag);
        }
        assertEquals("false", field(json, "is_read_only"));
        assertTrue(json.contains("\"base:allocation\""), json);

        String all = Tools.run(T, "nbdinfo", "--list", "--json", "--no-content", "nbd://127.0.0.1:" + server.port())
                .assertOk("nbdinfo --list").output();
        assertTrue(all.contains("\"disk\"") && all.contains("\"spare\""), all);
    }

    @Test
    void nbdClientListsExports() {
        Tools.require("nbd-client");
        String out = Tools.run(T, "nbd-client", "-l", "127.0.0.1", String.valueOf(server.port()))
                .assertOk("nbd-client -l").output();
        List<String> lines = out.lines().map(String::trim).toList();
        assertTrue(lines.contains("disk") && lines.contains("spare"), out);
    }

    @Test
    void nbdshScriptExercisesEveryCommand() throws IOException {
        Tools.require("nbdsh");
        String script = String.join("\n",
                "import os",
                "h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)",
                "h.connect_uri('" + server.uri("disk") + "')",
                "assert h.get_size() == " + SIZE,
                "assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)",
                "assert h.can_multi_conn() and h.can_fua() and h.can_trim() and h.can_zero() and h.can_cache()",
                "assert h.can_fast_zero() and h.can_df() and h.can_flush()",
                "data = os.urandom(1 << 20)",
                "h.pwrite(data, 1 << 20)",
                "assert h.pread(1 << 20, 1 << 20) == data",
                "h.pwrite(b'x' * 100, 4096 * 10 + 7, nbd.CMD_FLAG_FUA)",
                "assert h.pread(100, 4096 * 10 + 7) == b'x' * 100",
                "h.zero(65536, 1 << 20)",
                "assert h.pread(65536, 1 << 20) == bytes(65536)",
                "h.trim(65536, (1 << 20) + 65536)",
                "assert h.pread(65536, (1 << 20) + 65536) == bytes(65536)",
                "h.flush()",
                "h.cache(4096, 0)",
                "got = []",
                "def cb(metacontext, offset, entries, err):",
                "    assert metacontext == nbd.CONTEXT_BASE_ALLOCATION",
                "    got.append((offset, list(entries)))",
                "    return 0",
                "h.block_status(8 << 20, 0, cb)",
                "offset, entries = got[0]",
                "assert offset == 0, offset",
                "assert sum(entries[0::2]) <= 8 << 20",
                // hole up to the 'x' block, the 'x' block, hole from the trim (64K .. 1M+128K),
                // the rest of the random 1M write, then hole to the end of the range
                "assert entries[:8] == [40960, 3, 4096, 0, (1 << 20) + 131072 - 45056, 3, (1 << 20) - 131072, 0], entries",
                "assert entries[9] == 3 and sum(entries[0::2]) == 8 << 20, entries",
                "got.clear()",
                "h.block_status(8 << 20, 0, cb, nbd.CMD_FLAG_REQ_ONE)",
                "assert len(got[0][1]) == 2, got",
                "chunks = []",
                "def chunk(sub, off, status, err):",
                "    chunks.append((off, status, bytes(sub)))",
                "    return 0",
                // without DF the read mixes data and hole chunks, with DF it is one data chunk
                "buf = h.pread_structured(4096 * 9, 16384, chunk)",
                "assert buf[4096 * 6 + 7:4096 * 6 + 107] == b'x' * 100",
                "assert any(c[1] == nbd.READ_HOLE for c in chunks), chunks",
                "chunks.clear()",
                "buf = h.pread_structured(4096 * 9, 16384, chunk, nbd.CMD_FLAG_DF)",
                "assert len(chunks) == 1 and chunks[0][1] == nbd.READ_DATA, chunks",
                "assert buf[4096 * 6 + 7:4096 * 6 + 107] == b'x' * 100",
                "h.shutdown()",
                "print('NBDSH-SCRIPT-OK')",
                "");
        Path file = tmp.resolve("test.py");
        Files.writeString(file, script);
        Tools.Result r = Tools.run(T, "nbdsh", "-c", "exec(open('" + file + "').read())")
                .assertOk("nbdsh script");
        assertTrue(r.output().contains("NBDSH-SCRIPT-OK"), r.output());
    }

    @Test
    void qemuIoPatternsVerify() {
        Tools.require("qemu-io");
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        String[] cmds = {
            "write -P 0xab 0 1M", "read -P 0xab 0 1M",
            "write -P 0x11 12345 70000", "read -P 0x11 12345 70000",
            "write -z 4096 8192", "read -P 0 4096 8192",
            "discard 1M 1M", "read -P 0 1M 1M",
            "write -P 0x5a -f 2M 64k", "read -P 0x5a 2M 64k",
            "flush",
            "aio_write -P 0x77 4M 256k", "aio_write -P 0x78 5M 256k", "aio_flush",
            "read -P 0x77 4M 256k", "read -P 0x78 5M 256k",
            "read -P 0xab 900000 4096",
        };
        for (String c : cmds) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(server.uri("disk"));
        Tools.Result r = Tools.run(T, cmd).assertOk("qemu-io");
        String out = r.output();
        assertFalse(out.contains("Pattern verification failed"), out);
        assertFalse(out.toLowerCase().contains("failed"), out);
        // every read reports its completion
        assertEquals(8, out.lines().filter(l -> l.startsWith("read ")).count(), out);

        // and a deliberate mismatch is detected, proving the checks work
        Tools.Result bad = Tools.run(T, "qemu-io", "-f", "raw", "-c", "read -P 0xcd 0 4096", server.uri("disk"));
        assertTrue(bad.output().contains("Pattern verification failed"), bad.output());
    }

    @Test
    void nbdcopyRoundTripsMixedData() throws IOException {
        Tools.require("nbdcopy");
        Path in = tmp.resolve("in.img");
        Path out = tmp.resolve("out.img");
        byte[] data = new byte[64 << 20];
        Random rnd = new Random(42);
        for (int mb = 0; mb < 64; mb++) {
            int base = mb << 20;
            switch (mb % 4) {
                case 0 -> { // random
                    byte[] chunk = new byte[1 << 20];
                    rnd.nextBytes(chunk);
                    System.arraycopy(chunk, 0, data, base, chunk.length);
                }
                case 1 -> { } // zeros
                case 2 -> { // repeated 4K pattern (dedupable)
                    for (int i = 0; i < (1 << 20); i++) {
                        data[base + i] = (byte) (i % 4096 * 31);
                    }
                }
                default -> { // text-like, compressible, with a zero tail
                    for (int i = 0; i < (1 << 19); i++) {
                        data[base + i] = (byte) ('a' + rnd.nextInt(4));
                    }
                }
            }
        }
        Files.write(in, data);
        Tools.run(T, "nbdcopy", in.toString(), server.uri("disk")).assertOk("nbdcopy in");
        Tools.run(T, "nbdcopy", "--flush", server.uri("disk"), out.toString()).assertOk("nbdcopy out");
        byte[] back = Files.readAllBytes(out);
        assertEquals(SIZE, back.length);
        assertArrayEquals(data, java.util.Arrays.copyOf(back, data.length));
        for (int i = data.length; i < back.length; i++) {
            if (back[i] != 0) {
                throw new AssertionError("non-zero byte past the copied data at " + i);
            }
        }
    }

    @Test
    void fioVerifiesWithTwoConnections() {
        Tools.require("fio");
        Path log = tmp.resolve("fio.log");
        Tools.Result r = Tools.run(Duration.ofSeconds(100), "fio",
                "--name=nbd", "--ioengine=nbd", "--uri=" + server.uri("disk"),
                "--rw=randwrite", "--bs=4k", "--bsrange=4k-64k", "--iodepth=16",
                "--numjobs=2", "--size=16M", "--offset_increment=16M",
                "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0",
                "--dedupe_percentage=50", "--buffer_compress_percentage=50",
                "--output=" + log).assertOk("fio");
        String out;
        try {
            out = Files.readString(log);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        assertFalse(out.contains("verify:") && out.contains("bad"), out);
        assertTrue(out.contains("err= 0"), out + r.output());
        assertEquals(2, out.lines().filter(l -> l.contains("err= 0")).count(), out);
    }
}
