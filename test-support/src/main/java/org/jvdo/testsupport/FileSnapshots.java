package org.jvdo.testsupport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The files of a folder (a pool's), byte for byte, and a comparison of two such snapshots: a
 * test that must prove nothing more reached the files takes one before and one after. A
 * mismatch is an {@link AssertionError} whose message names the file, its lengths and the
 * first differing byte (with its 4 KiB block).
 */
public final class FileSnapshots {
    private FileSnapshots() { }

    /** Every regular file of {@code dir} (not its subfolders) but those named in {@code except} (e.g. the pool's lock), by name. */
    public static Map<String, byte[]> of(Path dir, String... except) throws IOException {
        Set<String> skip = Set.of(except);
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(f) && !skip.contains(f.getFileName().toString())) {
                    m.put(f.getFileName().toString(), Files.readAllBytes(f));
                }
            }
        }
        return m;
    }

    /**
     * The same files with the same bytes, else fails: {@code "<what>: the pool's files ==> expected: <[...]> but was: <[...]>"}
     * when the names differ, {@code "<what>: <file> changed: length <n> -> <m>[, first difference at byte <i> (block <b>)]"}
     * when a file's bytes do.
     */
    public static void assertSameFiles(Map<String, byte[]> before, Map<String, byte[]> after, String what) {
        sameNames(before, after, what + ": the pool's files");
        for (String f : before.keySet()) {
            String change = change(before.get(f), after.get(f));
            if (change != null) throw new AssertionError(what + ": " + f + " changed: " + change);
        }
    }

    /**
     * As {@link #assertSameFiles(Map, Map, String)} for a pool whose write fence refused: the
     * messages are {@code "the pool's files ==> ..."} and
     * {@code "<file> changed after the fence refused: length ... ==> expected: <true> but was: <false>"}.
     */
    public static void assertSameFiles(Map<String, byte[]> before, Map<String, byte[]> after) {
        sameNames(before, after, "the pool's files");
        for (String f : before.keySet()) {
            String change = change(before.get(f), after.get(f));
            if (change != null) {
                throw new AssertionError(f + " changed after the fence refused: " + change + " ==> expected: <true> but was: <false>");
            }
        }
    }

    /** Null when {@code x} and {@code y} are equal, else {@code "length <n> -> <m>"} and the first differing byte, if any. */
    public static String change(byte[] x, byte[] y) {
        int first = -1;
        for (int i = 0; i < Math.min(x.length, y.length); i++) if (x[i] != y[i]) { first = i; break; }
        if (first < 0 && x.length == y.length) return null;
        return "length " + x.length + " -> " + y.length
                + (first >= 0 ? ", first difference at byte " + first + " (block " + first / Blocks.BS + ")" : "");
    }

    /** The message JUnit's assertEquals gives for two different key sets. */
    private static void sameNames(Map<String, byte[]> before, Map<String, byte[]> after, String message) {
        if (!before.keySet().equals(after.keySet())) {
            throw new AssertionError(message + " ==> expected: <" + before.keySet() + "> but was: <" + after.keySet() + ">");
        }
    }
}
