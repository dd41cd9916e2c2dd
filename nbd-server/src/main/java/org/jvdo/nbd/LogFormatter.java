package org.jvdo.nbd;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/**
 * jvdo's log line: one line per record, {@code 2026-12-02T13:57:54.123Z INFO org.jvdo.admin: message},
 * that is the time (ISO-8601, UTC, milliseconds), the level, the logger's name and the message, so
 * journald, grep and log shippers see one record per line with its time and origin (the JDK's
 * default spreads a record over two lines and prints local time without a zone). A stack trace,
 * and any further lines of a multi-line message, follow on lines that start with a tab.
 */
public final class LogFormatter extends Formatter {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    @Override
    public String format(LogRecord r) {
        StringBuilder b = new StringBuilder(128);
        b.append(TIME.format(r.getInstant())).append(' ').append(r.getLevel().getName()).append(' ')
                .append(r.getLoggerName() == null ? "-" : r.getLoggerName()).append(": ");
        String msg = formatMessage(r);
        appendIndented(b, msg == null ? "" : msg);
        b.append('\n');
        if (r.getThrown() != null) {
            StringWriter w = new StringWriter();
            try (PrintWriter p = new PrintWriter(w)) {
                r.getThrown().printStackTrace(p);
            }
            for (String line : w.toString().split("\\R")) {
                if (line.isEmpty()) continue;
                b.append('\t').append(line.startsWith("\t") ? line.substring(1) : line).append('\n');
            }
        }
        return b.toString();
    }

    /** The message with each line break followed by a tab, so no line of it looks like a new record. */
    private static void appendIndented(StringBuilder b, String msg) {
        String[] lines = msg.split("\\R", -1);
        for (int i = 0; i < lines.length; i++) {
            if (i > 0) b.append("\n\t");
            b.append(lines[i]);
        }
    }
}
