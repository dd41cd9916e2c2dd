package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line of issue 13, through real {@code jvdo} processes where it matters:
 * per-subcommand help, usage errors, nbdkit/qemu-nbd style flags ({@code -p -i -r -e -P -U}),
 * format-time flags against an existing pool, {@code --engine qat} without QATzip, and the
 * vdostats flags of {@code jvdo stats}.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CliTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    /** In-process runs, as MainTest's. */
    static MainTest.Run run(String... args) {
        return MainTest.run(args);
    }

    /** exit {@code code}, nothing on stdout, one line on stderr starting "jvdo: " and naming each of {@code mentions}. */
    private static void assertOneLineError(int code, MainTest.Run r, String... mentions) {
        assertEquals(code, r.exit(), r.toString());
        assertEquals("", r.out(), r.toString());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "one line on stderr: " + r.err());
        assertTrue(lines.get(0).startsWith("jvdo: "), r.err());
        for (String m : mentions) assertTrue(lines.get(0).contains(m), r.err() + " should mention " + m);
    }

    private static MainTest.Run ofProcess(ServeProcess p) throws Exception {
        int rc = p.awaitExit(T);
        return new MainTest.Run(rc, p.out(), p.err());
    }

    /** Every regular file under {@code dir} with its SHA-256: equal maps mean nothing there changed. */
    private static Map<String, String> contents(Path dir) throws Exception {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                m.put(dir.relativize(f).toString(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ help and usage errors

    @Test
    void everySubcommandHasItsOwnHelp() throws Exception {
        MainTest.Run serve = run("serve", "--help");
        assertEquals(0, serve.exit(), serve.toString());
        assertTrue(serve.out().startsWith("usage: jvdo serve"), serve.out());
        for (String opt : List.of("-p, --port", "-i, --listen", "-U, --unix", "-r, --read-only", "--read-only-volume",
                "-e, --export-name", "-P, --pid-file", "--physical-size", "--tls-verify-peer", "--log-level")) {
            assertTrue(serve.out().contains(opt), "serve --help names " + opt + ":\n" + serve.out());
        }
        MainTest.Run stats = run("stats", "--help");
        assertEquals(0, stats.exit());
        assertTrue(stats.out().startsWith("usage: jvdo stats"), stats.out());
        for (String opt : List.of("--human-readable", "--si", "--verbose", "--json", "--admin-port", "--data")) {
            assertTrue(stats.out().contains(opt), "stats --help names " + opt);
        }
        assertFalse(stats.out().contains("SIZE"), "stats takes no size:\n" + stats.out());
        assertFalse(stats.out().contains("--physical-size"), stats.out());
        MainTest.Run volume = run("volume", "--help");
        assertEquals(0, volume.exit());
        for (String sub : List.of("create", "list", "delete", "resize")) assertTrue(volume.out().contains(sub), volume.out());
        MainTest.Run create = run("volume", "create", "--help");
        assertTrue(create.out().startsWith("usage: jvdo volume create") && create.out().contains("--engine"), create.out());
        MainTest.Run check = run("check", "--help");
        assertTrue(check.out().startsWith("usage: jvdo check") && check.out().contains("--repair"), check.out());
        assertEquals(serve.out(), run("help", "serve").out(), "jvdo help serve is serve --help");
        MainTest.Run top = run();
        assertEquals(2, top.exit(), "jvdo alone: a command is missing");
        assertTrue(top.out().contains("serve") && top.out().contains("stats") && top.out().contains("check"), top.out());
        String version = run("--version").out();
        assertTrue(version.startsWith("jvdo "), version);
        for (String sub : List.of("serve", "stats", "volume", "check")) {
            assertEquals(version, run(sub, "-V").out(), sub + " -V");
        }
        // as a real process, the exit code is the JVM's
        try (ServeProcess p = ServeProcess.start(tmp, "stats-help", 0, "stats", "--help")) {
            MainTest.Run r = ofProcess(p);
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().startsWith("usage: jvdo stats"), r.out());
            assertEquals("", r.err());
        }
    }

    @Test
    void usageErrorsAreOneLineWithAHint() throws Exception {
        Path data = tmp.resolve("never");
        assertOneLineError(2, run("serve", "--data", data.toString(), "-p", "70000"), "--port", "70000", "jvdo serve --help");
        assertOneLineError(2, run("serve", "--data", data.toString(), "--read-only-volume", "../x"), "../x");
        assertOneLineError(2, run("stats", "--admin-port", "70000"), "70000", "jvdo stats --help");
        assertOneLineError(2, run("stats", "--admin-port", "0"), "--admin-port 0");
        assertOneLineError(2, run("volume", "create", "x", "4M", "--admin-port", "ten"), "ten", "jvdo volume create --help");
        assertOneLineError(2, run("frobnicate"), "unknown command 'frobnicate'");
        assertOneLineError(8, run("check"), "DIR", "jvdo check --help");
        assertOneLineError(8, run("check", "--bogus", tmp.toString()), "--bogus");
        assertOneLineError(2, run("serve", "--data", data.toString(), "-p", "1", "--port", "2"), "--port", "only once");
        MainTest.Run at = run("check", "@" + tmp.resolve("args"));
        assertEquals(8, at.exit(), "@FILE is a folder name, not a file of arguments: " + at);
        assertTrue((at.out() + at.err()).contains("no pool in @"), at.toString());
        assertFalse(Files.exists(data), "a usage error creates nothing");
        try (ServeProcess p = ServeProcess.start(tmp, "bad-port", 0, "serve", "--data", data.toString(), "-p", "-3")) {
            assertOneLineError(2, ofProcess(p), "-3");
        }
        assertFalse(Files.exists(data));
    }

    // ------------------------------------------------------------------ -p, -i, -e, -P

    @Test
    void shortFlagsExportNameAndPidFile() throws Exception {
        Tools.require("nbdinfo");
        Path data = tmp.resolve("pool");
        Path pidFile = tmp.resolve("jvdo.pid");
        int port = ServeProcess.freePort();
        try (ServeProcess p = ServeProcess.start(tmp, "short", port, "serve", "--data", data.toString(), "-p", String.valueOf(port),
                "-i", "127.0.0.1", "--admin-port", "0", "--volume", "a", "--volume", "b", "-e", "b", "-P", pidFile.toString(),
                "--logical-size", "64M", "--physical-size", "256M")) {
            p.awaitServing("a", T).awaitServing("b", T);
            org.jvdo.testsupport.Await.until(Conditions.checked(() -> p.out().contains("jvdo: pid ")), 30,
                    Conditions.text(() -> "no pid line:\n" + p.out()));
            assertTrue(p.out().contains("at nbd://127.0.0.1:" + port + "/b\n"), p.out());
            assertEquals(p.process.pid() + "\n", Files.readString(pidFile), "the pid file names the server");
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(pidFile)));
            // the empty export name gets b, not the first volume
            Tools.Result info = Tools.run(T, "nbdinfo", "nbd://127.0.0.1:" + port);
            assertEquals(0, info.exit(), info.output());
            assertTrue(info.output().contains("jvdo volume b"), info.output());

            // a second server with the same pid file is refused before it formats anything
            Path other = tmp.resolve("other");
            try (ServeProcess q = ServeProcess.serve(tmp, "pid2", other, 0, "-P", pidFile.toString())) {
                assertOneLineError(1, ofProcess(q), "--pid-file", "names process " + p.process.pid());
            }
            assertFalse(Files.exists(other), "a refused pid file formats nothing");
            assertEquals(p.process.pid() + "\n", Files.readString(pidFile), "and the first server's pid file stays");

            assertEquals(0, p.terminate(T), p.err());
        }
        assertFalse(Files.exists(pidFile), "a clean exit removes the pid file");

        // a file that is not a pid file is never overwritten
        Path notPid = tmp.resolve("notes.txt");
        Files.writeString(notPid, "my notes\n");
        try (ServeProcess q = ServeProcess.serve(tmp, "pid3", tmp.resolve("p3"), 0, "-P", notPid.toString())) {
            assertOneLineError(1, ofProcess(q), "does not hold a process id");
        }
        assertEquals("my notes\n", Files.readString(notPid));
        assertFalse(Files.exists(tmp.resolve("p3")));

        // -e naming no volume: refused before formatting
        try (ServeProcess q = ServeProcess.serve(tmp, "e-missing", tmp.resolve("p4"), 0, "-e", "nope")) {
            assertOneLineError(2, ofProcess(q), "--export-name nope", "vdo0");
        }
        assertFalse(Files.exists(tmp.resolve("p4")));
    }

    // ------------------------------------------------------------------ read-only

    /**
     * {@code -r}: NBD_FLAG_READ_ONLY on every export (nbdinfo says so) and WRITE, TRIM and
     * WRITE_ZEROES sent anyway (a raw client ignores the flag) are answered EPERM and change
     * nothing; {@code --read-only-volume b} makes only b read-only.
     */
    @Test
    void readOnlyRefusesEveryWrite() throws Exception {
        Tools.require("nbdinfo");
        Path data = tmp.resolve("ro");
        byte[] block = new byte[8192];
        new Random(3).nextBytes(block);
        int port = ServeProcess.freePort();
        // first a writable start that stores data
        try (ServeProcess p = ServeProcess.serve(tmp, "rw", data, port, "--logical-size", "64M", "--physical-size", "256M",
                "--volume", "a", "--volume", "b")) {
            p.awaitServing("b", T);
            try (RawClient c = RawClient.open(port)) {
                c.go("a");
                assertEquals(0, c.write(1, 0, block));
            }
            assertEquals(0, p.terminate(T), p.err());
        }
        try (ServeProcess p = ServeProcess.serve(tmp, "ro", data, port, "-r")) {
            p.awaitServing("a", T).awaitServing("b", T);
            assertTrue(p.out().contains("(64 MiB, lz4, read-only) at nbd://127.0.0.1:" + port + "/a"), p.out());
            Tools.Result info = Tools.run(T, "nbdinfo", "nbd://127.0.0.1:" + port + "/a");
            assertEquals(0, info.exit(), info.output());
            assertTrue(info.output().contains("is_read_only: true"), info.output());
            try (RawClient c = RawClient.open(port)) {
                c.go("a");
                assertTrue((c.transmissionFlags & NbdProtocol.TF_READ_ONLY) != 0, "NBD_FLAG_READ_ONLY");
                assertEquals(NbdProtocol.EPERM, c.write(2, 0, new byte[4096]), "WRITE on a read-only export");
                c.request(0, NbdProtocol.CMD_TRIM, 3, 0, 8192, null);
                assertEquals(NbdProtocol.EPERM, c.simple().error(), "TRIM on a read-only export");
                c.request(0, NbdProtocol.CMD_WRITE_ZEROES, 4, 0, 8192, null);
                assertEquals(NbdProtocol.EPERM, c.simple().error(), "WRITE_ZEROES on a read-only export");
                assertArrayEquals(block, c.read(5, 0, block.length), "the data is unchanged");
            }
            assertEquals(0, p.terminate(T), p.err());
        }
        try (ServeProcess p = ServeProcess.serve(tmp, "ro-b", data, port, "--read-only-volume", "b")) {
            p.awaitServing("b", T);
            try (RawClient c = RawClient.open(port)) {
                c.go("b");
                assertEquals(NbdProtocol.EPERM, c.write(1, 0, new byte[4096]), "b is read-only");
            }
            try (RawClient c = RawClient.open(port)) {
                c.go("a");
                assertEquals(0, c.transmissionFlags & NbdProtocol.TF_READ_ONLY, "a is not");
                assertEquals(0, c.write(1, 4096 * 4, block), "a takes writes");
            }
            assertEquals(0, p.terminate(T), p.err());
        }
        try (Pool pool = Pool.open(data, new PoolConfig())) {
            ByteBuffer got = ByteBuffer.allocate(block.length);
            pool.volume("a").read(0, got).get(10, TimeUnit.SECONDS);
            assertArrayEquals(block, got.array(), "nothing the read-only server was sent reached the pool");
        }
        try (ServeProcess q = ServeProcess.serve(tmp, "ro-typo", data, 0, "--read-only-volume", "c")) {
            assertOneLineError(2, ofProcess(q), "--read-only-volume c", "a, b");
        }
    }

    // ------------------------------------------------------------------ Unix socket

    @Test
    void unixSocketServesNbdUnixUris() throws Exception {
        Tools.require("nbdinfo", "nbdcopy");
        Path data = tmp.resolve("unix");
        Path sock = tmp.resolve("nbd.sock");
        // a stale socket file (its server gone) is replaced
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock), "the JDK leaves the socket file behind");
        try (ServeProcess p = ServeProcess.start(tmp, "unix", 0, "serve", "--data", data.toString(), "-U", sock.toString(),
                "--admin-port", "0", "--logical-size", "64M", "--physical-size", "256M")) {
            p.awaitServing("vdo0", T);
            String uri = "nbd+unix:///vdo0?socket=" + sock;
            assertTrue(p.out().contains("at " + uri + "\n"), p.out());
            assertFalse(p.out().contains("nbd://"), "-U alone serves no TCP:\n" + p.out());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            MainTest.Run list = run("volume", "list", "--data", data.toString(), "--admin-port", String.valueOf(p.adminPort()));
            assertTrue(list.out().contains(" " + uri + "\n"), "the API gives the socket's URI too:\n" + list);
            Tools.Result info = Tools.run(T, "nbdinfo", uri);
            assertEquals(0, info.exit(), info.output());
            assertTrue(info.output().contains("67108864"), info.output());
            // nbdcopy in and out over the socket
            byte[] image = new byte[1 << 20];
            new Random(9).nextBytes(image);
            Path in = tmp.resolve("in.img");
            Files.write(in, image);
            Tools.run(T, "nbdcopy", in.toString(), uri).assertOk("nbdcopy in");
            Path back = tmp.resolve("back.img");
            Tools.run(T, "nbdcopy", uri, back.toString()).assertOk("nbdcopy out");
            byte[] got = Files.readAllBytes(back);
            assertEquals(64 << 20, got.length);
            assertArrayEquals(image, java.util.Arrays.copyOf(got, image.length));

            // a second server on the live socket is refused and formats nothing
            Path other = tmp.resolve("other");
            try (ServeProcess q = ServeProcess.start(tmp, "unix2", 0, "serve", "--data", other.toString(), "-U", sock.toString(),
                    "--admin-port", "0")) {
                assertOneLineError(1, ofProcess(q), "already listens", sock.toString());
            }
            assertFalse(Files.exists(other));
            assertTrue(Files.exists(sock), "the refused server leaves the live socket alone");
            assertEquals(0, p.terminate(T), p.err());
        }
        assertFalse(Files.exists(sock), "a clean exit removes the socket");

        // with --port too, both
        int port = ServeProcess.freePort();
        try (ServeProcess p = ServeProcess.serve(tmp, "both", data, port, "-U", sock.toString())) {
            p.awaitServing("vdo0", T);
            // one line per address: the second may come a moment after the first (CI saw only the TCP line at first)
            p.awaitOutput("at nbd://127.0.0.1:" + port + "/vdo0\n", T);
            p.awaitOutput("at nbd+unix:///vdo0?socket=" + sock + "\n", T);
            assertEquals(0, p.terminate(T), p.err());
        }
    }

    // ------------------------------------------------------------------ format-time flags, qat

    @Test
    void formatTimeFlagsAgainstAnExistingPoolAreRefusedAndTouchNothing() throws Exception {
        Path data = tmp.resolve("fmt");
        try (ServeProcess p = ServeProcess.serve(tmp, "fmt", data, 0, "--logical-size", "64M", "--physical-size", "256M",
                "--slab-size", "1M", "--journal-size", "1M", "--volume", "a")) {
            p.awaitServing("a", T);
            assertEquals(0, p.terminate(T), p.err());
        }
        Map<String, String> before = contents(data);
        String[][] refused = {
                {"--physical-size", "512M", "256 MiB"},
                {"--slab-size", "2M", "1 MiB"},
                {"--journal-size", "2M", "1 MiB"},
                {"--logical-size", "128M", "64 MiB"},
                {"--volume", "b", "has no volume b"}};
        for (String[] r : refused) {
            try (ServeProcess p = ServeProcess.serve(tmp, "fmt-" + r[0].substring(2), data, 0, r[0], r[1])) {
                assertOneLineError(2, ofProcess(p), r[0], r[2]);
            }
            assertEquals(before, contents(data), r[0] + " " + r[1] + " left the pool as it was");
        }
        // the values it has are fine, silently
        try (ServeProcess p = ServeProcess.serve(tmp, "fmt-same", data, 0, "--logical-size", "64M", "--physical-size", "256M",
                "--slab-size", "1M", "--journal-size", "1M", "--volume", "a")) {
            p.awaitServing("a", T);
            assertEquals(0, p.terminate(T), p.err());
            assertEquals("", p.errBeyondInfo());
        }
    }

    @Test
    void engineQatWithoutQatzipFormatsNothing() throws Exception {
        Path data = tmp.resolve("qat");
        try (ServeProcess p = ServeProcess.startJvm(List.of("-Xmx512m", "-Djvdo.qat.library=libqatzip-missing.so.3"), tmp, "qat", 0,
                "serve", "--data", data.toString(), "--port", "0", "--admin-port", "0", "--engine", "qat")) {
            assertOneLineError(1, ofProcess(p), "--engine qat", "libqatzip-missing.so.3", "--engine lz4");
        }
        assertFalse(Files.exists(data), "no pool folder, no pool file");
    }

    // ------------------------------------------------------------------ stats

    @Test
    void statsRowsPerVolumeHumanReadableSiAndVerboseNames() throws Exception {
        Path data = tmp.resolve("stats");
        int port = ServeProcess.freePort();
        try (ServeProcess p = ServeProcess.serve(tmp, "stats", data, port, "--logical-size", "64M", "--physical-size", "256M",
                "--volume", "a", "--volume", "b")) {
            p.awaitServing("b", T);
            try (RawClient c = RawClient.open(port)) {
                c.go("b");
                byte[] block = new byte[4096 * 4];
                new Random(1).nextBytes(block);
                assertEquals(0, c.write(1, 0, block));
            }
            String[] at = {"--data", data.toString(), "--admin-port", String.valueOf(p.adminPort())};
            MainTest.Run plain = run(concat(new String[] {"stats"}, at));
            assertEquals(0, plain.exit(), plain.err());
            List<String> lines = plain.out().lines().toList();
            assertEquals(4, lines.size(), "header, the pool, a, b:\n" + plain.out());
            assertTrue(lines.get(0).matches("Device\\s+1K-blocks\\s+Used\\s+Available\\s+Use%\\s+Space saving%"), lines.get(0));
            assertEquals("262144", lines.get(1).trim().split("\\s+")[1], "the pool: 256 MiB in 1K-blocks");
            assertArrayEquals(new String[] {"a", "65536", "0", "65536", "0%", "N/A"}, lines.get(2).trim().split("\\s+"));
            assertArrayEquals(new String[] {"b", "65536", "16", "65520", "1%", "N/A"}, lines.get(3).trim().split("\\s+"));

            MainTest.Run human = run(concat(new String[] {"stats", "--human-readable"}, at));
            List<String> h = human.out().lines().toList();
            assertTrue(h.get(0).matches("Device\\s+Size\\s+Used\\s+Available\\s+Use%\\s+Space saving%"), h.get(0));
            assertEquals("256.0M", h.get(1).trim().split("\\s+")[1]);
            assertArrayEquals(new String[] {"b", "64.0M", "16.0K", "64.0M", "1%", "N/A"}, h.get(3).trim().split("\\s+"));
            MainTest.Run si = run(concat(new String[] {"stats", "--human-readable", "--si"}, at));
            assertEquals("268.4M", si.out().lines().toList().get(1).trim().split("\\s+")[1], "256 MiB in powers of 1000");
            assertEquals(plain.out(), run(concat(new String[] {"stats", "--si"}, at)).out(), "--si alone changes nothing (vdostats)");

            MainTest.Run one = run(concat(new String[] {"stats", "b"}, at));
            assertEquals(2, one.out().lines().count(), one.out());

            MainTest.Run verbose = run(concat(new String[] {"stats", "--verbose"}, at));
            assertEquals(0, verbose.exit(), verbose.err());
            for (String name : List.of("version", "operating mode", "1K-blocks used", "1K-blocks available", "used percent",
                    "write policy", "data blocks used", "physical blocks", "block size", "journal disk full count")) {
                assertTrue(verbose.out().lines().anyMatch(l -> l.matches("\\s+" + java.util.regex.Pattern.quote(name) + "\\s+: .*")),
                        "--verbose has vdostats' '" + name + "':\n" + verbose.out());
            }
            assertTrue(verbose.out().lines().anyMatch(l -> l.matches("\\s+write policy\\s+: async")), verbose.out());
            assertTrue(verbose.out().lines().anyMatch(l -> l.matches("\\s+operating mode\\s+: normal")), verbose.out());
            assertTrue(verbose.out().contains("\na : \n") && verbose.out().contains("\nb : \n"), "a section per volume:\n" + verbose.out());
            assertTrue(verbose.out().lines().anyMatch(l -> l.matches("\\s+bios in write\\s+: 1")), verbose.out());
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ------------------------------------------------------------------ admin API over HTTPS

    @Test
    void adminTlsServesHttpsAndTheCommandsFollowWithTheirFlag() throws Exception {
        TestCertificates certs = TestCertificates.make(tmp.resolve("certs"));
        Path data = tmp.resolve("tls-pool");
        try (ServeProcess p = ServeProcess.serve(tmp, "admin-tls", data, 0, "--logical-size", "64M", "--physical-size", "256M",
                "--admin-tls", "--tls-certificates", certs.server.toString())) {
            p.awaitServing("vdo0", T);
            String port = String.valueOf(p.adminPort());
            assertTrue(p.out().contains("admin API at https://"), p.out());
            String dashboard = "dashboard at https://127.0.0.1:" + port + "/ui";
            org.jvdo.testsupport.Await.until(Conditions.checked(() -> p.out().contains(dashboard)), 20,
                    Conditions.text(() -> "no '" + dashboard + "' line in\n" + p.out()));
            MainTest.Run ok = run("stats", "--data", data.toString(), "--admin-port", port, "--admin-tls", "--tls-certificates", certs.server.toString());
            assertEquals(0, ok.exit(), ok.toString());
            assertTrue(ok.out().contains("vdo0"), "a row for the volume: " + ok.out());
            // without the flag the client speaks HTTP to the HTTPS port: one line, and the hint
            MainTest.Run plain = run("stats", "--data", data.toString(), "--admin-port", port);
            assertOneLineError(1, plain, "--admin-tls");
            // a CA that did not sign the server's certificate is refused
            Path otherCa = Files.createDirectories(tmp.resolve("other-ca"));
            Files.copy(tmp.resolve("certs/work/other-ca-cert.pem"), otherCa.resolve("ca-cert.pem"));
            MainTest.Run stranger = run("stats", "--data", data.toString(), "--admin-port", port, "--admin-tls", "--tls-certificates", otherCa.toString());
            assertEquals(1, stranger.exit(), stranger.toString());
            assertEquals("", stranger.out(), stranger.toString());
        }
    }
}
