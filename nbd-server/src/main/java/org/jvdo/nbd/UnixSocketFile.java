package org.jvdo.nbd;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The path of a Unix-domain socket the server is to listen on ({@code serve --unix PATH}):
 * a socket file nothing listens on (left by a killed server) is replaced, a live one or any
 * other kind of file is refused, naming it.
 */
public final class UnixSocketFile {
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private UnixSocketFile() { }

    /** Checks {@code path} can be listened on, removing a stale socket there; throws IllegalStateException otherwise. */
    public static void prepare(Path path) {
        Path abs = path.toAbsolutePath();
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IllegalStateException("cannot listen on Unix socket " + abs + ": no folder " + parent);
        }
        int bytes = abs.toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes > 107) {
            throw new IllegalStateException("cannot listen on Unix socket " + abs + ": the path is " + bytes
                    + " bytes long, a Unix socket's at most 107");
        }
        if (!Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) return;
        int mode;
        try {
            mode = (Integer) Files.getAttribute(abs, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("cannot listen on Unix socket " + abs + ": " + e.getMessage(), e);
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IllegalStateException("cannot listen on Unix socket " + abs + ": the path exists and is not a socket (not replacing it)");
        }
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(abs));
        } catch (ConnectException e) {
            try { // nobody listens: a stale socket of a server that did not close
                Files.deleteIfExists(abs);
            } catch (IOException d) {
                throw new IllegalStateException("cannot remove the stale Unix socket " + abs + ": " + d.getMessage(), d);
            }
            return;
        } catch (IOException e) {
            throw new IllegalStateException("cannot listen on Unix socket " + abs + ": " + e.getMessage(), e);
        }
        throw new IllegalStateException("cannot listen on Unix socket " + abs
                + ": a server already listens there (another jvdo or NBD server running? choose another --unix)");
    }

    /** A path as the value of a URI's {@code socket=} query: unreserved characters and '/' as they are, the rest %XX. */
    static String uriEscape(String path) {
        StringBuilder b = new StringBuilder();
        for (byte x : path.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "/-._~".indexOf(c) >= 0) {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16))).append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return b.toString();
    }
}
