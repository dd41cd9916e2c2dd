package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.Volume;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The {@code jvdo} command line: help, usage errors, and a clean shutdown on SIGTERM. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MainTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    /** Exit code, stdout and stderr of an in-process run. */
    record Run(int exit, String out, String err) { }

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A usage error: exit 2, nothing on stdout, one line on stderr naming {@code mentions}. */
    private static void assertUsageError(Run r, String mentions) {
        assertEquals(2, r.exit(), r.toString());
        assertEquals("", r.out(), r.toString());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "one line on stderr: " + r.err());
        assertTrue(lines.get(0).startsWith("jvdo: "), r.err());
        assertTrue(lines.get(0).contains(mentions), r.err() + " should mention " + mentions);
    }

    @Test
    void versionPrintsTheBuildVersion() throws Exception {
        String expected = new String(Main.class.getResourceAsStream("jvdo-version.properties").readAllBytes(),
                StandardCharsets.UTF_8).trim().substring("version=".length());
        assertFalse(expected.contains("${"), "the resource was filtered at build time: " + expected);
        for (String flag : List.of("--version", "-V")) {
            Run r = run(flag);
            assertEquals(0, r.exit(), r.toString());
            assertEquals("jvdo " + expected + "\n", r.out());
            assertEquals("", r.err());
        }
    }

    @Test
    void ipv6ListenAddressesAreBracketedInUris() {
        assertEquals("[::1]", Main.uriHost("::1"));
        assertEquals("[fe80::1%lo]", Main.uriHost("fe80::1%lo"));
        assertEquals("[::1]", Main.uriHost("[::1]"));
        assertEquals("127.0.0.1", Main.uriHost("127.0.0.1"));
        assertEquals("localhost", Main.uriHost("localhost"));
    }

    @Test
    void ipv6BannerUrlIsOneNbdinfoParses() throws Exception {
        Tools.require("nbdinfo");
        int port = ServeProcess.freePort();
        try (ServeProcess p = ServeProcess.serve(tmp, "v6", tmp.resolve("v6"), port, "--listen", "::1",
                "--logical-size", "64M", "--physical-size", "256M")) {
            p.awaitServing("vdo0", T);
            String url = "nbd://[::1]:" + port + "/vdo0";
            assertTrue(p.out().contains("at " + url + "\n"), p.out());
            Tools.Result info = Tools.run(T, "nbdinfo", url);
            assertEquals(0, info.exit(), info.output());
            assertTrue(info.output().contains("67108864"), info.output());
        }
    }

    /**
     * The serve flags wired to TLS and logging, through a real process: {@code --tls=require}
     * serves {@code nbds://} to nbdinfo with certificates and refuses a plaintext nbdinfo, and
     * {@code --log-level debug} writes one line per record (ISO time, level, logger) on stderr.
     */
    @Test
    void tlsRequireAndLogLevelFlagsThroughServe() throws Exception {
        Tools.require("nbdinfo", "openssl");
        TestCertificates certs = TestCertificates.make(tmp.resolve("certs"));
        int port = ServeProcess.freePort();
        try (ServeProcess p = ServeProcess.serve(tmp, "tls", tmp.resolve("tls"), port, "--tls=require",
                "--tls-certificates", certs.server.toString(), "--log-level", "debug",
                "--logical-size", "64M", "--physical-size", "256M")) {
            p.awaitServing("vdo0", T);
            assertTrue(p.out().contains("at nbds://127.0.0.1:" + port + "/vdo0\n"), p.out());
            Tools.Result tls = Tools.run(T, "nbdinfo", "nbds://127.0.0.1:" + port + "/vdo0?tls-certificates=" + certs.client);
            assertEquals(0, tls.exit(), tls.output());
            assertTrue(tls.output().contains("67108864"), tls.output());
            Tools.Result plain = Tools.run(T, "nbdinfo", "nbd://127.0.0.1:" + port + "/vdo0");
            assertTrue(plain.exit() != 0, "a plaintext client is refused under --tls=require: " + plain.output());
            List<String> lines = p.err().lines().filter(l -> !l.isEmpty() && !l.startsWith("\t")).toList();
            assertFalse(lines.isEmpty(), "debug logging wrote nothing");
            java.util.regex.Pattern record = java.util.regex.Pattern.compile(
                    "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (SEVERE|WARNING|INFO|CONFIG|FINE|FINER|FINEST) \\S+: .*");
            for (String l : lines) assertTrue(record.matcher(l).matches(), "not one record per line: " + l);
            assertTrue(lines.stream().anyMatch(l -> l.contains(" FINE ")), "--log-level debug shows FINE records:\n" + p.err());
            assertTrue(lines.stream().anyMatch(l -> l.contains(" INFO ") && l.contains("serves export 'vdo0'")),
                    "a connection's export is logged at INFO:\n" + p.err());
            // the close is logged once the server has seen it, which may be after nbdinfo exited
            org.jvdo.testsupport.Await.until(Conditions.checked(() -> p.err().lines()
                    .anyMatch(l -> l.contains(" INFO ") && l.contains("closed"))), 30,
                    Conditions.text(() -> "a closed connection is logged at INFO:\n" + p.err()));
        }
    }

    @Test
    void aFailedStartLeavesNothingBehind() throws Exception {
        try (java.net.ServerSocket busy = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            Path data = tmp.resolve("busy-admin");
            Run r = run("serve", "--data", data.toString(), "--port", "0", "--admin-port", String.valueOf(busy.getLocalPort()));
            assertEquals(1, r.exit(), r.toString());
            assertFalse(Files.exists(data.resolve("admin.token")), "no admin.token after a failed start");
            assertFalse(Files.exists(data), "no pool folder after a failed start");
        }
        Path data = tmp.resolve("bad-listen");
        Run r = run("serve", "--data", data.toString(), "--port", "0", "--admin-port", "0", "--listen", "203.0.113.7");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("cannot listen for NBD on 203.0.113.7"), r.err());
        assertFalse(Files.exists(data), "a bad --listen formats nothing");
    }

    @Test
    void serveHelpPrintsUsageAndExitsZero() throws Exception {
        for (String flag : List.of("--help", "-h")) {
            Run r = run("serve", flag);
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().startsWith("usage: jvdo serve"), r.out());
            for (String opt : List.of("--data", "--port", "--logical-size", "--physical-size", "--volume", "--engine")) {
                assertTrue(r.out().contains(opt), "usage mentions " + opt);
            }
            assertEquals("", r.err());
        }
        // and as a real process: the exit code is the JVM's
        try (ServeProcess p = ServeProcess.start(tmp, "help", 0, "serve", "--help")) {
            assertEquals(0, p.awaitExit(T), p.err());
            assertTrue(p.out().startsWith("usage: jvdo serve"), p.out());
            assertEquals("", p.err());
        }
    }

    @Test
    void badFlagIsAOneLineErrorWithExitCode2() throws Exception {
        Path data = tmp.resolve("never");
        assertUsageError(run("serve", "--data", data.toString(), "--bogus"), "--bogus");
        assertUsageError(run("serve", "--port"), "--port");
        assertUsageError(run("serve", "--port", "70000"), "70000");
        assertUsageError(run("serve", "--port", "ten"), "ten");
        assertUsageError(run("serve", "--engine", "zstd"), "zstd");
        assertUsageError(run("serve", "--volume", "../etc"), "../etc");
        assertUsageError(run("frobnicate"), "frobnicate");
        assertFalse(Files.exists(data), "a usage error must not create the pool folder");

        try (ServeProcess p = ServeProcess.start(tmp, "bogus", 0, "serve", "--data", data.toString(), "--bogus")) {
            int rc = p.awaitExit(T);
            assertUsageError(new Run(rc, p.out(), p.err()), "--bogus");
        }
        assertFalse(Files.exists(data));
    }

    @Test
    void badSizeIsAUsageError() throws Exception {
        assertUsageError(run("serve", "--logical-size", "12Q"), "12Q");
        assertUsageError(run("serve", "--physical-size", "-1G"), "-1G");
        assertUsageError(run("serve", "--logical-size=0"), "0");
        assertUsageError(run("serve", "--logical-size", ""), "size");
        assertUsageError(run("serve", "--physical-size", "99999999999T"), "99999999999T");
        try (ServeProcess p = ServeProcess.start(tmp, "size", 0, "serve", "--data", tmp.resolve("d").toString(),
                "--logical-size", "lots")) {
            int rc = p.awaitExit(T);
            assertUsageError(new Run(rc, p.out(), p.err()), "lots");
        }
    }

    @Test
    void sigtermShutsDownCleanlyAndThePoolReopensWithoutRecovery() throws Exception {
        Path data = tmp.resolve("pool");
        int port = ServeProcess.freePort();
        byte[] block = new byte[64 << 10];
        new Random(5).nextBytes(block);
        byte[] text = "written just before SIGTERM, never flushed by the client".getBytes(StandardCharsets.UTF_8);
        try (ServeProcess p = ServeProcess.serve(tmp, "serve", data, port, "--logical-size", "64M",
                "--physical-size", "256M", "--volume", "a", "--volume", "b")) {
            p.awaitServing("a", T).awaitServing("b", T);
            assertTrue(p.out().contains("(formatted)"), p.out());
            String token = Files.readString(data.resolve("admin.token")).trim();
            assertFalse(token.isEmpty());
            assertFalse(p.out().contains(token) || p.err().contains(token), "the token itself is never printed:\n" + p.out());
            // the admin line follows the serving lines: wait for it rather than race it
            org.jvdo.testsupport.Await.until(Conditions.checked(() -> p.out().contains("token in ")), 30,
                    Conditions.text(() -> "no admin API line:\n" + p.out()));
            assertTrue(p.out().contains("token in " + data.resolve("admin.token")), p.out());
            assertFalse(ServeProcess.lockIsFree(data), "the running server holds the pool lock");
            RawClient c = RawClient.open(port);
            try {
                c.go("b");
                assertEquals(64L << 20, c.exportSize);
                assertEquals(0, c.write(1, 1 << 20, block));
                assertEquals(0, c.write(2, 5 * 4096 + 100, text));
                assertEquals(0, c.write(3, 8 << 20, block)); // a duplicate
                // SIGTERM with the client still connected: its acknowledged writes must be kept
                int rc = p.terminate(T);
                assertEquals(0, rc, "exit code after SIGTERM\nstdout:\n" + p.out() + "\nstderr:\n" + p.err());
                assertTrue(c.closedByServer(), "the server closed the connection");
            } finally {
                c.close();
            }
            assertTrue(p.out().contains("jvdo: shutting down") && p.out().contains("jvdo: stopped"), p.out());
            assertEquals("", p.errBeyondInfo());
        }
        assertTrue(ServeProcess.lockIsFree(data), "the pool lock is released");

        try (Pool pool = Pool.open(data, new PoolConfig())) {
            assertFalse(pool.openReport().contains("recovered"), pool.openReport());
            assertFalse(pool.isReadOnly());
            assertEquals(List.of(), pool.verifyReferenceCounts());
            Volume b = pool.volume("b");
            assertEquals(64L << 20, b.size());
            assertEquals(64L << 20, pool.volume("a").size());
            ByteBuffer got = ByteBuffer.allocate(block.length);
            b.read(1 << 20, got).get(10, TimeUnit.SECONDS);
            assertArrayEquals(block, got.array());
            got.clear();
            b.read(8 << 20, got).get(10, TimeUnit.SECONDS);
            assertArrayEquals(block, got.array());
            ByteBuffer t = ByteBuffer.allocate(text.length);
            b.read(5 * 4096 + 100, t).get(10, TimeUnit.SECONDS);
            assertArrayEquals(text, t.array());
            assertTrue(pool.stats().get("data_blocks_used") <= 17, "the duplicate 64 KiB was stored once: " + pool.stats());
        }
    }

    @Test
    void sighupClosesCleanlyAsSigtermDoes() throws Exception {
        Path data = tmp.resolve("hup");
        int port = ServeProcess.freePort();
        byte[] block = new byte[16 << 10];
        new Random(7).nextBytes(block);
        try (ServeProcess p = ServeProcess.serve(tmp, "hup", data, port, "--logical-size", "64M",
                "--physical-size", "256M")) {
            p.awaitServing("vdo0", T);
            RawClient c = RawClient.open(port);
            try {
                c.go("vdo0");
                assertEquals(0, c.write(1, 1 << 20, block));
                Process kill = new ProcessBuilder("kill", "-HUP", String.valueOf(p.process.pid())).inheritIO().start();
                assertEquals(0, kill.waitFor());
                int rc = p.awaitExit(T);
                assertEquals(0, rc, "exit code after SIGHUP\nstdout:\n" + p.out() + "\nstderr:\n" + p.err());
            } finally {
                c.close();
            }
            assertTrue(p.out().contains("jvdo: stopped"), p.out());
        }
        try (Pool pool = Pool.open(data, new PoolConfig())) {
            assertFalse(pool.openReport().contains("recovered"), "clean close, no journal replay: " + pool.openReport());
            ByteBuffer got = ByteBuffer.allocate(block.length);
            pool.volume("vdo0").read(1 << 20, got).get(10, TimeUnit.SECONDS);
            assertArrayEquals(block, got.array());
        }
    }
}
