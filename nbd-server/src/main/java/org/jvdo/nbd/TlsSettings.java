package org.jvdo.nbd;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.ServerSSLOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.logging.Logger;

/**
 * How the NBD server offers TLS (NBD_OPT_STARTTLS), with the conventions of nbdkit and
 * qemu-nbd so an operator can reuse their certificates: a mode ({@code off}, {@code on},
 * {@code require}, as nbdkit's {@code --tls}), a directory laid out as nbdkit's
 * {@code --tls-certificates} ({@value #CA_CERT}, {@value #SERVER_CERT}, {@value #SERVER_KEY},
 * PEM) and whether client certificates are verified against that CA (nbdkit's
 * {@code --tls-verify-peer}).
 *
 * <p>Hand it to the server through {@link NbdServer.Options#tls}; the server loads and checks
 * the files in {@link NbdServer#start()}, before it binds, so a bad certificate fails the start
 * with a message naming the file.
 *
 * @param mode        off: STARTTLS is refused (NBD_REP_ERR_POLICY); on: a client may upgrade;
 *                    require: every option but STARTTLS and ABORT is refused until it did
 * @param certificates the directory (null only when off)
 * @param verifyPeer  clients must present a certificate signed by {@value #CA_CERT}
 */
public record TlsSettings(Mode mode, Path certificates, boolean verifyPeer) {
    private static final Logger LOG = Logger.getLogger(TlsSettings.class.getName());

    /** The CA that signed the client certificates (needed with {@link #verifyPeer}). */
    public static final String CA_CERT = "ca-cert.pem";
    /** The server's certificate (chain), PEM. */
    public static final String SERVER_CERT = "server-cert.pem";
    /** The server's private key, PEM (PKCS#8, PKCS#1 RSA or SEC1 EC). */
    public static final String SERVER_KEY = "server-key.pem";

    /** TLS offered nowhere (the default). */
    public static final TlsSettings OFF = new TlsSettings(Mode.OFF, null, false);

    /** The three modes, named as nbdkit's {@code --tls} values. */
    public enum Mode {
        OFF, ON, REQUIRE;

        /** Parses {@code off|on|require} (any case); throws naming the accepted values. */
        public static Mode parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("--tls must be off, on or require, not '" + s + "'");
            }
        }
    }

    public TlsSettings {
        Objects.requireNonNull(mode, "mode");
        if (mode == Mode.OFF) {
            if (certificates != null || verifyPeer) {
                throw new IllegalArgumentException(
                        "--tls-certificates and --tls-verify-peer mean nothing with --tls=off: add --tls=on or --tls=require");
            }
        } else if (certificates == null) {
            throw new IllegalArgumentException("--tls=" + mode.name().toLowerCase(Locale.ROOT)
                    + " needs --tls-certificates DIR (" + CA_CERT + ", " + SERVER_CERT + ", " + SERVER_KEY + ")");
        }
    }

    /**
     * The settings of the command-line flags {@code --tls=MODE --tls-certificates DIR
     * --tls-verify-peer}: {@code mode} null means off; with TLS on and no directory, nbdkit's
     * default ({@link #defaultDirectory()}) is used.
     */
    public static TlsSettings of(String mode, Path certificates, boolean verifyPeer) {
        Mode m = mode == null ? Mode.OFF : Mode.parse(mode);
        if (m != Mode.OFF && certificates == null) {
            certificates = defaultDirectory();
        }
        return new TlsSettings(m, certificates, verifyPeer);
    }

    /** nbdkit's default certificate directory: /etc/pki/nbdkit for root, else $HOME/.pki/nbdkit. */
    public static Path defaultDirectory() {
        boolean root = "root".equals(System.getProperty("user.name"));
        return root ? Path.of("/etc/pki/nbdkit") : Path.of(System.getProperty("user.home"), ".pki", "nbdkit");
    }

    /** Whether STARTTLS is answered with ACK. */
    public boolean offered() {
        return mode != Mode.OFF;
    }

    /** Whether options other than STARTTLS and ABORT are refused before TLS. */
    public boolean required() {
        return mode == Mode.REQUIRE;
    }

    /**
     * Reads and checks the certificate files and returns the options a socket is upgraded
     * with, or null when TLS is off. Throws IllegalArgumentException naming the file that is
     * missing, unreadable or not valid PEM. The same options serve HTTPS (the admin API):
     * {@code vertx.createHttpServer(config with getTcpConfig().setSsl(true), options)}.
     */
    public ServerSSLOptions load(Vertx vertx) {
        if (!offered()) {
            return null;
        }
        if (!Files.isDirectory(certificates)) {
            throw new IllegalArgumentException("TLS certificate directory " + certificates + " does not exist");
        }
        PemKeyCertOptions keyCert = new PemKeyCertOptions()
                .setCertValue(read(SERVER_CERT))
                .setKeyValue(read(SERVER_KEY));
        try {
            keyCert.getKeyManagerFactory(vertx);
        } catch (Exception e) {
            throw new IllegalArgumentException("TLS: cannot use " + certificates.resolve(SERVER_CERT) + " with "
                    + certificates.resolve(SERVER_KEY) + ": " + e.getMessage(), e);
        }
        warnIfOthersRead(certificates.resolve(SERVER_KEY));
        ServerSSLOptions ssl = new ServerSSLOptions()
                .setKeyCertOptions(keyCert)
                .setEnabledSecureTransportProtocols(Set.of("TLSv1.2", "TLSv1.3"));
        if (verifyPeer) {
            PemTrustOptions trust = new PemTrustOptions().addCertValue(read(CA_CERT));
            try {
                trust.getTrustManagerFactory(vertx);
            } catch (Exception e) {
                throw new IllegalArgumentException("TLS: cannot use " + certificates.resolve(CA_CERT) + ": "
                        + e.getMessage(), e);
            }
            ssl.setTrustOptions(trust).setClientAuth(ClientAuth.REQUIRED);
        } else {
            ssl.setClientAuth(ClientAuth.NONE);
        }
        return ssl;
    }

    private Buffer read(String name) {
        Path p = certificates.resolve(name);
        try {
            return Buffer.buffer(Files.readAllBytes(p));
        } catch (IOException e) {
            throw new IllegalArgumentException("TLS: cannot read " + p + " (" + e + "); --tls-certificates DIR holds "
                    + CA_CERT + ", " + SERVER_CERT + " and " + SERVER_KEY, e);
        }
    }

    private static void warnIfOthersRead(Path key) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(key);
            if (perms.contains(PosixFilePermission.OTHERS_READ)) {
                LOG.warning("TLS private key " + key + " is readable by others (chmod 600 it)");
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not a POSIX file system: nothing to say
        }
    }
}
