package org.jvdo.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * Installs jvdo's logging at start: java.util.logging with one {@link LogFormatter} line per
 * record on stderr (under systemd: the journal), from the {@code logging.properties} shipped in
 * this package, at the level {@code --log-level} asks for. An operator's own configuration
 * ({@code -Djava.util.logging.config.file=...}) is kept; only the level is set then.
 */
public final class LogSetup {
    private LogSetup() { }

    /** The configuration read by {@link #configure}: a stderr handler with {@link LogFormatter}. */
    public static final String PROPERTIES = "logging.properties";

    /** The names {@link #level} accepts besides the java.util.logging ones. */
    public static final List<String> NAMES = List.of("error", "warn", "info", "debug", "trace");

    /** Configures logging: every record at {@code level} or above, one line each, on stderr. */
    public static void configure(Level level) {
        LogManager manager = LogManager.getLogManager();
        if (System.getProperty("java.util.logging.config.file") == null
                && System.getProperty("java.util.logging.config.class") == null) {
            try (InputStream in = LogSetup.class.getResourceAsStream(PROPERTIES)) {
                if (in == null) throw new IllegalStateException("no " + PROPERTIES + " beside " + LogSetup.class.getName());
                manager.readConfiguration(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + PROPERTIES, e);
            }
        }
        Logger root = Logger.getLogger("");
        root.setLevel(level);
        for (Handler h : root.getHandlers()) {
            if (h.getLevel().intValue() > level.intValue()) h.setLevel(level);
        }
    }

    /**
     * A level from its name: the java.util.logging names ({@code SEVERE}, {@code WARNING},
     * {@code INFO}, {@code FINE}, ...) or the usual {@code error}, {@code warn}, {@code info},
     * {@code debug}, {@code trace}, in any case.
     */
    public static Level level(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "error" -> Level.SEVERE;
            case "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> {
                try {
                    yield Level.parse(name.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown log level '" + name + "' (use one of error, warn, info, debug, trace,"
                            + " or SEVERE, WARNING, INFO, CONFIG, FINE, FINER, FINEST, ALL, OFF)");
                }
            }
        };
    }
}
