package org.jvdo.nbd.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * {@code serve --pid-file FILE}, as nbdkit's and qemu-nbd's: checked before anything starts
 * (a file naming a running process is refused, so two servers never share one; a file that is
 * not a pid file is not overwritten), written once the server listens (0644, in one rename, so
 * a reader never sees half of it) and removed at a clean exit if it still holds this process's id.
 */
final class PidFile {
    private final Path path;
    private final long pid = ProcessHandle.current().pid();
    private boolean written;

    PidFile(Path path) {
        this.path = path.toAbsolutePath();
    }

    Path path() {
        return path;
    }

    /** Throws a {@link Failure} if the file may not be (over)written. */
    void check() {
        if (!Files.exists(path)) {
            if (!Files.isDirectory(path.getParent())) throw new Failure("--pid-file " + path + ": no folder " + path.getParent());
            return;
        }
        String s;
        try {
            s = Files.readString(path, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new Failure("--pid-file " + path + ": cannot read it: " + e.getMessage());
        }
        if (s.isEmpty()) return;
        long other;
        try {
            other = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new Failure("--pid-file " + path + " exists and does not hold a process id; not replacing it");
        }
        if (other != pid && ProcessHandle.of(other).map(ProcessHandle::isAlive).orElse(false)) {
            throw new Failure("--pid-file " + path + " names process " + other + ", which is running (another jvdo serve?)");
        }
    }

    /** Writes this process's id. */
    void write() throws IOException {
        Path tmp = path.resolveSibling("." + path.getFileName() + "." + pid + ".tmp");
        Files.writeString(tmp, pid + "\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        written = true;
    }

    /** Removes the file if this process wrote it and it still names this process. */
    void remove() {
        if (!written) return;
        try {
            if (Files.readString(path, StandardCharsets.UTF_8).strip().equals(String.valueOf(pid))) Files.delete(path);
        } catch (IOException e) {
            // gone already, or replaced: not ours to remove
        }
    }
}
