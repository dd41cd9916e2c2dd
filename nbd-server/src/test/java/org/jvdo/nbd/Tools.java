package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * External tools for tests. A missing tool fails the test when CI=true (a CI run must not pass
 * by skipping) and aborts it as skipped otherwise.
 */
final class Tools {
    private Tools() { }

    static final String PATH = "/usr/bin:/usr/sbin:/bin:/sbin:" + System.getenv().getOrDefault("PATH", "");

    static boolean ci() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** Requires each tool on the PATH (as seen by the child processes). */
    static void require(String... tools) {
        for (String t : tools) {
            requireThat(find(t) != null, "tool '" + t + "' is not installed");
        }
    }

    /** Requires a condition about the environment (a device node, root, ...). */
    static void requireThat(boolean ok, String what) {
        requireThat(ok, what, ci());
    }

    static void requireThat(boolean ok, String what, boolean ci) {
        if (ok) {
            return;
        }
        if (ci) {
            fail("required by this test under CI=true: " + what);
        }
        Assumptions.abort(what);
    }

    static Path find(String tool) {
        for (String dir : PATH.split(":")) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** Output and exit status of a finished process. */
    record Result(int exit, String output) {
        Result assertOk(String what) {
            if (exit != 0) {
                fail(what + " exited " + exit + ":\n" + output);
            }
            return this;
        }
    }

    static ProcessBuilder builder(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("PATH", PATH);
        pb.environment().remove("LIBNBD_DEBUG");
        return pb;
    }

    /** Runs a command to completion with a timeout; stdout and stderr go to a temp file. */
    static Result run(Duration timeout, String... cmd) {
        return run(timeout, List.of(cmd));
    }

    static Result run(Duration timeout, List<String> cmd) {
        File out = null;
        Process p = null;
        try {
            out = File.createTempFile("nbd-tool", ".log");
            p = builder(cmd).redirectErrorStream(true).redirectOutput(out)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(p);
                fail("timed out after " + timeout + ": " + String.join(" ", cmd) + "\n" + read(out));
            }
            return new Result(p.exitValue(), read(out));
        } catch (IOException e) {
            throw new RuntimeException("cannot run " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        } finally {
            if (p != null && p.isAlive()) {
                kill(p);
            }
            if (out != null) {
                out.delete();
            }
        }
    }

    /** Runs a command that may fail (cleanup steps): never throws, bounded by a timeout. */
    static Result quiet(Duration timeout, String... cmd) {
        try {
            return run(timeout, cmd);
        } catch (Throwable t) {
            return new Result(-1, String.valueOf(t));
        }
    }

    private static String read(File f) throws IOException {
        String s = Files.readString(f.toPath(), StandardCharsets.UTF_8);
        return s.length() > 20000 ? s.substring(0, 20000) + "\n...(cut)" : s;
    }

    /** Kills a process and its descendants, waiting briefly for them to go. */
    static void kill(Process p) {
        ProcessHandle h = p.toHandle();
        h.descendants().forEach(ProcessHandle::destroyForcibly);
        h.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
