package org.jvdo.nbd;

import org.jvdo.testsupport.Await;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.Pool;

/**
 * {@code jvdo serve} as a child JVM ({@code java -cp <test classpath> org.jvdo.nbd.Main serve ...}),
 * its stdout and stderr in files. {@link #close()} kills it if it is still running, so a test
 * can always put it in try-with-resources or a finally block.
 */
final class ServeProcess implements AutoCloseable {
    final Process process;
    final Path stdout;
    final Path stderr;
    final int port;

    private ServeProcess(Process process, Path stdout, Path stderr, int port) {
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
        this.port = port;
    }

    /** A port that was free a moment ago (bound to 127.0.0.1 and released). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    /** Starts {@code Main} with {@code args} (e.g. {@code serve --data ...}); does not wait. */
    static ServeProcess start(Path logDir, String logName, int port, String... args) throws IOException {
        return startJvm(List.of("-Xmx512m"), logDir, logName, port, args);
    }

    /** As {@link #start} with these JVM options (e.g. a small {@code -Xmx}) instead of {@code -Xmx512m}. */
    static ServeProcess startJvm(List<String> jvmOptions, Path logDir, String logName, int port, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        // SIGHUP as a terminal or supervisor sends it: a test run under nohup (a CI runner) ignores
        // SIGHUP, children inherit that, and a JVM leaves an ignored SIGHUP ignored (as it should)
        cmd.addAll(List.of("env", "--default-signal=HUP"));
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        Files.createDirectories(logDir);
        Path out = logDir.resolve(logName + ".out");
        Path err = logDir.resolve(logName + ".err");
        Process p = Tools.builder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        return new ServeProcess(p, out, err, port);
    }

    /**
     * Starts any command line that runs jvdo ({@code java -jar jvdo.jar ...}, a launcher script),
     * with these extra environment variables; does not wait.
     */
    static ServeProcess command(Path logDir, String logName, int port, List<String> cmd, java.util.Map<String, String> env)
            throws IOException {
        Files.createDirectories(logDir);
        Path out = logDir.resolve(logName + ".out");
        Path err = logDir.resolve(logName + ".err");
        ProcessBuilder pb = Tools.builder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(env);
        return new ServeProcess(pb.start(), out, err, port);
    }

    /** {@code jvdo serve --data dir --port port} plus {@code extra}. */
    static ServeProcess serve(Path logDir, String logName, Path data, int port, String... extra) throws IOException {
        List<String> a = new ArrayList<>(List.of("serve", "--data", data.toString(), "--port", String.valueOf(port)));
        a.addAll(List.of(extra));
        // the admin API gets a free port of its own, so test servers never collide on 10810
        if (!a.contains("--admin-port")) a.addAll(List.of("--admin-port", "0"));
        return start(logDir, logName, port, a.toArray(new String[0]));
    }

    /** {@code jvdo serve --data dir --port port} plus {@code extra}, in a JVM with these options. */
    static ServeProcess serveJvm(List<String> jvmOptions, Path logDir, String logName, Path data, int port, String... extra)
            throws IOException {
        List<String> a = new ArrayList<>(List.of("serve", "--data", data.toString(), "--port", String.valueOf(port)));
        a.addAll(List.of(extra));
        if (!a.contains("--admin-port")) a.addAll(List.of("--admin-port", "0"));
        return startJvm(jvmOptions, logDir, logName, port, a.toArray(new String[0]));
    }

    /** The admin API port the server printed (after {@link #awaitServing}). */
    int adminPort() throws IOException {
        java.util.regex.Pattern admin = java.util.regex.Pattern.compile("admin API at https?://[^:]+:(\\d+)/");
        java.util.regex.Matcher[] m = {null};
        try {
            Await.until(Conditions.checked(() -> {
                m[0] = admin.matcher(out());
                if (m[0].find()) return true;
                if (!process.isAlive()) fail("no admin API line in\n" + out());
                return false;
            }), 20, Conditions.text(() -> "no admin API line in\n" + out()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
        return Integer.parseInt(m[0].group(1));
    }

    /** Waits until the server prints that it serves {@code volume} (over TCP or a Unix socket); fails if it exits first. */
    ServeProcess awaitServing(String volume, Duration timeout) throws IOException, InterruptedException {
        String want = "/" + volume;
        Await.until(Conditions.checked(() -> {
            String out = out();
            if (out.lines().anyMatch(l -> l.startsWith("jvdo: serving " + volume + " ")
                    && (l.endsWith(want) || l.contains(want + "?socket=")))) {
                return true;
            }
            if (!process.isAlive()) {
                fail("jvdo serve exited " + process.exitValue() + " before serving " + volume + "\nstdout:\n" + out
                        + "\nstderr:\n" + err());
            }
            return false;
        }), Math.max(1, timeout.toSeconds()),
                Conditions.text(() -> "jvdo serve did not serve " + volume + "\nstdout:\n" + out() + "\nstderr:\n" + err()));
        return this;
    }

    /** Waits until the server's output contains {@code text}; fails with the output if it does not within {@code timeout}. */
    ServeProcess awaitOutput(String text, Duration timeout) throws InterruptedException {
        Await.until(Conditions.checked(() -> out().contains(text)), Math.max(1, timeout.toSeconds()),
                Conditions.text(() -> "jvdo serve did not print " + text.strip() + "\nstdout:\n" + out() + "\nstderr:\n" + err()));
        return this;
    }

    /** Waits for the process to exit and returns its exit code; fails (after killing it) on timeout. */
    int awaitExit(Duration timeout) throws IOException, InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            String threads = threadDump();
            Tools.kill(process);
            fail("jvdo did not exit within " + timeout + "\nstdout:\n" + out() + "\nstderr:\n" + err() + "\nthreads:\n" + threads);
        }
        return process.exitValue();
    }

    /**
     * The server's threads (jstack, bounded to 30 s), for a failure message when it hangs; what
     * went wrong instead when it cannot be had.
     */
    String threadDump() {
        try {
            Path dump = Files.createTempFile("jvdo-threads", ".txt");
            try {
                Process j = new ProcessBuilder("jstack", String.valueOf(process.pid())).redirectErrorStream(true)
                        .redirectOutput(dump.toFile()).start();
                if (!j.waitFor(30, TimeUnit.SECONDS)) {
                    j.destroyForcibly();
                    return "(jstack did not answer within 30 s)";
                }
                return Files.readString(dump, StandardCharsets.UTF_8);
            } finally {
                Files.deleteIfExists(dump);
            }
        } catch (IOException e) {
            return "(no thread dump: " + e + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(no thread dump: interrupted)";
        }
    }

    /** SIGTERM (what {@link Process#destroy()} sends) and the exit code. */
    int terminate(Duration timeout) throws IOException, InterruptedException {
        process.destroy();
        return awaitExit(timeout);
    }

    String out() throws IOException {
        return Files.exists(stdout) ? Files.readString(stdout, StandardCharsets.UTF_8) : "";
    }

    /** stderr without the INFO log records (connections opened and closed): what a clean run leaves empty. */
    String errBeyondInfo() throws IOException {
        return err().lines().filter(l -> !l.matches("\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z INFO .*"))
                .map(l -> l + "\n").collect(java.util.stream.Collectors.joining());
    }

    String err() throws IOException {
        return Files.exists(stderr) ? Files.readString(stderr, StandardCharsets.UTF_8) : "";
    }

    String uri(String volume) {
        return "nbd://127.0.0.1:" + port + "/" + volume;
    }

    /** Whether another process could take the pool's lock now (it is released again at once). */
    static boolean lockIsFree(Path data) throws IOException {
        try (FileChannel c = FileChannel.open(data.resolve(Pool.LOCK_FILE), StandardOpenOption.WRITE)) {
            FileLock l = c.tryLock();
            if (l == null) {
                return false;
            }
            l.release();
            return true;
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            Tools.kill(process);
        }
    }
}
