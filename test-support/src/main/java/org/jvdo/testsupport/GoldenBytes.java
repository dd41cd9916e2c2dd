package org.jvdo.testsupport;


import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * Golden-byte files for the on-disk format tests: {@code src/test/resources/golden/NAME.hex},
 * lowercase hex, 32 bytes per line, every byte stored (no summarising), read from the test
 * class path of the module whose test calls it. A mismatch is an {@link AssertionError}.
 *
 * <p>With {@code -Djvdo.golden.write=true} the files are (re)written from today's encoders
 * instead of compared. Doing so on purpose means the on-disk format changed: that must bump
 * the pool format version (SuperBlock.MAJOR/MINOR in vdo-core) and be noted in
 * docs/architecture.md.
 */
public final class GoldenBytes {
    public static final boolean WRITE = Boolean.getBoolean("jvdo.golden.write");
    private static final int PER_LINE = 32;

    private GoldenBytes() { }

    /** Compares {@code actual} with the golden file (or writes it in write mode); returns the golden bytes. */
    public static byte[] check(String name, byte[] actual) {
        if (WRITE) {
            write(name, actual);
            return actual;
        }
        byte[] golden = read(name);
        int n = Math.min(golden.length, actual.length);
        for (int i = 0; i < n; i++) {
            if (golden[i] != actual[i]) {
                throw new AssertionError("golden " + name + ": first difference at byte offset " + i + " (0x" + Integer.toHexString(i) + "): golden "
                        + window(golden, i) + " but encoded " + window(actual, i)
                        + ". An intended format change must bump the format version; then regenerate with -Djvdo.golden.write=true");
            }
        }
        if (golden.length != actual.length) {
            throw new AssertionError("golden " + name + ": length " + golden.length + " but encoded " + actual.length + " bytes");
        }
        return golden;
    }

    private static String window(byte[] b, int at) {
        int from = Math.max(0, at - 4), to = Math.min(b.length, at + 12);
        StringBuilder s = new StringBuilder("[@" + from + ":");
        for (int i = from; i < to; i++) s.append(i == at ? " >" : " ").append(String.format("%02x", b[i]));
        return s.append(']').toString();
    }

    public static byte[] read(String name) {
        // In write mode the classpath copy may be stale: read the file just written.
        try (InputStream in = WRITE ? Files.newInputStream(Path.of("src/test/resources/golden", name + ".hex"))
                : GoldenBytes.class.getResourceAsStream("/golden/" + name + ".hex")) {
            if (in == null) throw new AssertionError("golden file golden/" + name + ".hex missing (generate with -Djvdo.golden.write=true)");
            String text = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (String line : text.split("\n")) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) continue;
                out.writeBytes(HexFormat.of().parseHex(line));
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void write(String name, byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < bytes.length; i += PER_LINE) {
            s.append(HexFormat.of().formatHex(bytes, i, Math.min(bytes.length, i + PER_LINE))).append('\n');
        }
        try {
            Path dir = Path.of("src/test/resources/golden");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(name + ".hex"), s, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
