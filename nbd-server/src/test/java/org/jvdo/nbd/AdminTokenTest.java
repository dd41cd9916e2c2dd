package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.jvdo.nbd.admin.AdminToken;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin token file is private: made 0600 (in a data folder made 0700), and a token file
 * group or others may read or write is refused by the server and the commands, with an error
 * naming the file and the chmod that fixes it.
 */
@Timeout(30)
class AdminTokenTest {
    @TempDir
    Path tmp;

    static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void aNewTokenIs0600InAFolderMade0700() throws Exception {
        Path data = tmp.resolve("data");
        AdminToken t = AdminToken.loadOrCreate(data);
        assertTrue(t.created());
        assertEquals("rw-------", mode(AdminToken.file(data)));
        assertEquals("rwx------", mode(data));
        assertEquals(t.value(), AdminToken.read(data));
        assertEquals(t.value(), AdminToken.loadOrCreate(data).value());
    }

    @Test
    void aTokenOthersCanReadIsRefusedNamingTheChmod() throws Exception {
        Path data = tmp.resolve("data");
        AdminToken.loadOrCreate(data);
        Path f = AdminToken.file(data);
        for (String open : List.of("rw-r-----", "rw----r--", "rw--w----", "rw-rw-rw-")) {
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(open));
            IOException e = assertThrows(IOException.class, () -> AdminToken.read(data), open);
            assertTrue(e.getMessage().contains(f.toAbsolutePath().toString()), e.getMessage());
            assertTrue(e.getMessage().contains("chmod 600 " + f.toAbsolutePath()), e.getMessage());
            assertTrue(e.getMessage().contains(open), e.getMessage());
            // the server refuses it too, before serving anything with it
            IOException s = assertThrows(IOException.class, () -> AdminToken.loadOrCreate(data), open);
            assertEquals(e.getMessage(), s.getMessage());
        }
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("r--------"));
        assertEquals(64, AdminToken.read(data).length(), "owner-only (even read-only) is fine");
    }
}
