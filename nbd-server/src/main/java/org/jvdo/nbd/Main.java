package org.jvdo.nbd;

import java.io.PrintStream;
import org.jvdo.nbd.cli.Cli;

/**
 * The {@code jvdo} command: {@code serve}, {@code stats}, {@code volume ...}, {@code check}.
 * The command line (every option, help, usage errors, exit codes) is {@link Cli}'s, in
 * {@code org.jvdo.nbd.cli}; this class is the JVM's entry point.
 */
public final class Main {
    private Main() { }

    /** Set by {@link #main}: only a real process installs jvdo's log format (in-process tests keep theirs). */
    public static volatile boolean configureLogging;

    public static void main(String[] args) {
        configureLogging = true;
        System.exit(run(args, System.out, System.err));
    }

    /** Runs {@code jvdo args...}; returns the exit code (0 done, 1 failed, 2 usage error; check: as fsck). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return Cli.run(args, out, err);
    }

    /**
     * The host as a URI writes it: an IPv6 literal ({@code ::1}) in brackets ({@code [::1]}), so
     * {@code nbd://[::1]:10809/vdo0} parses in nbdinfo; names and IPv4 addresses as they are.
     */
    public static String uriHost(String host) {
        return host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /** {@code s} as a JSON string literal. */
    public static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> { if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c); }
            }
        }
        return b.append('"').toString();
    }
}
