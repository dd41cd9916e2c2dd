package org.jvdo.core.api;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The modes of what jvdo creates in a pool folder: files are 0600 and a folder jvdo makes is
 * 0700, set at creation (never a moment readable by others), since a pool holds the data of
 * every volume and the admin token. A folder that exists already keeps its mode. On a file
 * system without POSIX permissions nothing is set.
 */
public final class FileModes {
    private FileModes() { }

    public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    public static final Set<PosixFilePermission> FOLDER = PosixFilePermissions.fromString("rwx------");

    private static boolean posix(Path dir) throws IOException {
        Path d = dir;
        while (d != null && !Files.exists(d)) d = d.getParent();
        return d == null || Files.getFileStore(d).supportsFileAttributeView(PosixFileAttributeView.class);
    }

    /** Attributes that make a new file in {@code dir} 0600 (none on a non-POSIX file system). */
    public static FileAttribute<?>[] privateFile(Path dir) throws IOException {
        return posix(dir) ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(FILE)} : new FileAttribute<?>[0];
    }

    /** {@link FileChannel#open}; a file it creates is 0600. */
    public static FileChannel open(Path file, OpenOption... options) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        return FileChannel.open(file, Set.of(options), privateFile(dir));
    }

    /** Creates {@code dir} 0700 if it is missing (its missing parents as usual); an existing one is left as it is. */
    public static void createPrivateDirectories(Path dir) throws IOException {
        if (Files.isDirectory(dir)) return;
        Path abs = dir.toAbsolutePath();
        if (abs.getParent() != null) Files.createDirectories(abs.getParent());
        try {
            if (posix(abs.getParent())) Files.createDirectory(abs, PosixFilePermissions.asFileAttribute(FOLDER));
            else Files.createDirectory(abs);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(abs)) throw e;
        }
    }
}
