package org.jvdo.nbd.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;
import org.jvdo.core.api.FileModes;

/**
 * The admin API's bearer token: 32 random bytes as hex, kept in {@code DATA/admin.token}
 * (mode 0600). Made on first start; read by the {@code jvdo stats} and {@code jvdo volume}
 * commands. A token file that group or others may read or write is refused, by the server and
 * the commands alike, naming the chmod that fixes it: the token grants every admin action
 * (deleting volumes), and a warning would scroll by in the journal while the token stays
 * exposed (ssh refuses a readable private key for the same reason).
 */
public final class AdminToken {
    public static final String FILE = "admin.token";

    private final String value;
    private final boolean created;

    private AdminToken(String value, boolean created) {
        this.value = value;
        this.created = created;
    }

    public String value() { return value; }

    /** True when {@link #loadOrCreate} made the token just now (so it should be shown once). */
    public boolean created() { return created; }

    public static Path file(Path dataDir) { return dataDir.resolve(FILE); }

    /** Reads the token, or makes one, written owner-readable only, if there is none. */
    public static AdminToken loadOrCreate(Path dataDir) throws IOException {
        FileModes.createPrivateDirectories(dataDir);
        Path f = file(dataDir);
        if (Files.exists(f)) return new AdminToken(read(dataDir), false);
        byte[] raw = new byte[32];
        new SecureRandom().nextBytes(raw);
        String token = HexFormat.of().formatHex(raw);
        // written whole to a private temporary file, then renamed: never a partial token file
        Path tmp = dataDir.resolve(FILE + ".tmp");
        Files.deleteIfExists(tmp);
        try {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(tmp); // not a POSIX file system
        }
        Files.writeString(tmp, token + "\n", StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.SYNC);
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE);
        return new AdminToken(token, true);
    }

    /** Reads the token of the pool in {@code dataDir}. */
    public static String read(Path dataDir) throws IOException {
        checkPrivate(file(dataDir));
        String t = Files.readString(file(dataDir), StandardCharsets.US_ASCII).trim();
        if (!t.matches("[0-9a-f]{64}")) throw new IOException(file(dataDir) + " does not hold a jvdo admin token");
        return t;
    }

    /** Refuses a token file that anyone but its owner may read or write. */
    static void checkPrivate(Path f) throws IOException {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(f);
        } catch (UnsupportedOperationException e) {
            return; // not a POSIX file system: nothing to check
        }
        Set<PosixFilePermission> open = EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);
        open.retainAll(perms);
        if (!open.isEmpty()) {
            throw new IOException("admin token file " + f.toAbsolutePath() + " is accessible by group or others (mode "
                    + PosixFilePermissions.toString(perms) + "); it must be private to its owner: run chmod 600 "
                    + f.toAbsolutePath());
        }
    }

    /** Constant-time check of an {@code Authorization} header value against the token. */
    public boolean matchesHeader(String authorization) {
        // RFC 7235: the auth-scheme is case-insensitive ("bearer", "BEARER"); the token is not.
        String credentials = "";
        if (authorization != null) {
            String h = authorization.trim();
            int sp = h.indexOf(' ');
            if (sp > 0 && h.substring(0, sp).equalsIgnoreCase("Bearer")) credentials = h.substring(sp + 1).trim();
        }
        return MessageDigest.isEqual(value.getBytes(StandardCharsets.US_ASCII), credentials.getBytes(StandardCharsets.US_ASCII));
    }

    /** For tests and embedding: a fixed token. */
    public static AdminToken of(String value) { return new AdminToken(value, false); }
}
