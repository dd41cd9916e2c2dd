package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.api.BlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * NBD over TLS (NBD_OPT_STARTTLS) as users drive it: libnbd's {@code nbdinfo} and
 * {@code nbdcopy} on {@code nbds://} URIs and qemu's {@code tls-creds-x509}, with certificates
 * made by {@code openssl} for this run; the three modes (off, on, require), client
 * verification, and the protocol rules a hand-written client can probe (TLS_REQD before TLS,
 * EXPORT_NAME closing, a second STARTTLS invalid, no plaintext taken after STARTTLS).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsTest {
    static final long SIZE = 64L << 20;
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    static Path certRoot;
    static TestCertificates certs;

    @TempDir
    Path tmp;
    BlockDevice disk;
    NbdServer server;

    @BeforeAll
    static void makeCertificates() throws IOException {
        certs = TestCertificates.make(certRoot);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private NbdServer start(TlsSettings tls) {
        disk = TestServers.device("vdo0", SIZE);
        NbdServer.Options o = new NbdServer.Options();
        o.tls = tls;
        server = new NbdServer(new SimpleExportRegistry(List.of(disk)), "127.0.0.1", 0, 2, o);
        return server.start();
    }

    private TlsSettings settings(String mode, boolean verifyPeer) {
        return TlsSettings.of(mode, certs.server, verifyPeer);
    }

    private String nbds(Path clientDir) {
        return "nbds://127.0.0.1:" + server.actualPort() + "/vdo0?tls-certificates=" + clientDir;
    }

    private String nbd() {
        return "nbd://127.0.0.1:" + server.actualPort() + "/vdo0";
    }

    private static Tools.Result nbdinfo(String uri) {
        return Tools.run(T, "nbdinfo", "--json", "--no-content", uri);
    }

    @Test
    void requireServesNbdinfoAndNbdcopyOverTls() throws IOException {
        Tools.require("nbdinfo", "nbdcopy");
        start(settings("require", false));
        String json = nbdinfo(nbds(certs.client)).assertOk("nbdinfo over nbds://").output();
        assertTrue(json.contains("\"export-size\": " + SIZE), json);
        assertTrue(json.replace(" ", "").contains("\"TLS\":true"), json);

        Path in = tmp.resolve("in.img");
        Path out = tmp.resolve("out.img");
        byte[] data = new byte[16 << 20];
        Random rnd = new Random(7);
        for (int mb = 0; mb < 16; mb++) {
            int base = mb << 20;
            if (mb % 3 == 0) {
                byte[] chunk = new byte[1 << 20];
                rnd.nextBytes(chunk);
                System.arraycopy(chunk, 0, data, base, chunk.length);
            } else if (mb % 3 == 1) {
                for (int i = 0; i < (1 << 20); i++) {
                    data[base + i] = (byte) (i % 4096 * 31); // repeated blocks
                }
            } // else zeros
        }
        Files.write(in, data);
        Tools.run(T, "nbdcopy", in.toString(), nbds(certs.client)).assertOk("nbdcopy in over TLS");
        Tools.run(T, "nbdcopy", "--flush", nbds(certs.client), out.toString()).assertOk("nbdcopy out over TLS");
        byte[] back = Files.readAllBytes(out);
        assertEquals(SIZE, back.length);
        assertArrayEquals(data, Arrays.copyOf(back, data.length));
        for (int i = data.length; i < back.length; i++) {
            if (back[i] != 0) {
                throw new AssertionError("non-zero byte past the copied data at " + i);
            }
        }
    }

    @Test
    void requireRefusesPlaintextClients() throws Exception {
        Tools.require("nbdinfo");
        start(settings("require", false));
        disk.write(0, ByteBuffer.wrap("secret".repeat(100).getBytes()), false).get(30, TimeUnit.SECONDS);

        Tools.Result plain = nbdinfo(nbd());
        assertNotEquals(0, plain.exit(), plain.output());
        assertFalse(plain.output().contains(String.valueOf(SIZE)), plain.output());
        Tools.Result list = Tools.run(T, "nbdinfo", "--list", "nbd://127.0.0.1:" + server.actualPort());
        assertNotEquals(0, list.exit(), list.output());
        assertFalse(list.output().contains("vdo0"), list.output());

        try (RawClient c = RawClient.open(server.actualPort())) {
            for (int opt : new int[] {OPT_LIST, OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY, OPT_LIST_META_CONTEXT}) {
                byte[] body = opt == OPT_INFO || opt == OPT_GO ? RawClient.infoRequest("vdo0")
                        : opt == OPT_LIST_META_CONTEXT ? RawClient.metaRequest("vdo0") : new byte[0];
                c.option(opt, body);
                RawClient.OptReply r = c.optReply();
                assertEquals(opt, r.opt());
                assertEquals(REP_ERR_TLS_REQD, r.type(), "option " + opt + ": " + r.text());
            }
            // NBD_OPT_EXPORT_NAME cannot be refused: the connection closes with no export data
            c.option(OPT_EXPORT_NAME, "vdo0".getBytes());
            assertEquals(0, remaining(c).length, "nothing after EXPORT_NAME without TLS");
        }
        try (RawClient c = new RawClient(server.actualPort())) {
            c.greet(FLAG_NO_ZEROES); // not fixed newstyle: TLS is impossible, so is service
            assertTrue(c.closedByServer(), "a client without fixed newstyle is dropped");
        }
        try (RawClient c = RawClient.open(server.actualPort())) {
            c.option(OPT_ABORT, new byte[0]); // ABORT is answered before TLS
            assertEquals(REP_ACK, c.optReply().type());
        }
    }

    @Test
    void startTlsUpgradesInPlaceAndASecondStartTlsIsInvalid() throws Exception {
        start(settings("require", false));
        try (RawClient c = RawClient.open(server.actualPort())) {
            c.option(OPT_STARTTLS, new byte[] {1});
            assertEquals(REP_ERR_INVALID, c.optReply().type(), "STARTTLS with data");
            c.option(OPT_STARTTLS, new byte[0]);
            RawClient.OptReply ack = c.optReply();
            assertEquals(OPT_STARTTLS, ack.opt());
            assertEquals(REP_ACK, ack.type());
            c.startTls(TestCertificates.clientContext(certs.client, false));
            assertTrue(c.tls.getSession().getProtocol().startsWith("TLSv1."), c.tls.getSession().getProtocol());

            c.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_INVALID, c.optReply().type(), "second STARTTLS");
            c.option(OPT_LIST, new byte[0]);
            List<RawClient.OptReply> list = c.optReplies();
            assertEquals(REP_SERVER, list.get(0).type());
            assertEquals(REP_ACK, list.get(list.size() - 1).type());
            c.go("vdo0");
            assertEquals(SIZE, c.exportSize);
            byte[] block = new byte[4096];
            new Random(3).nextBytes(block);
            assertEquals(0, c.write(1, 8192, block));
            assertArrayEquals(block, c.read(2, 8192, 4096));
        }
    }

    @Test
    void bytesSentAfterStartTlsBeforeItsReplyCloseTheConnection() throws Exception {
        start(settings("on", false));
        try (RawClient c = RawClient.open(server.actualPort())) {
            // STARTTLS and, without waiting for its ACK, a plaintext LIST in the same write: the
            // LIST must never be taken as if it had come through TLS
            ByteBuffer b = ByteBuffer.allocate(2 * OPTION_HEADER_SIZE);
            b.putLong(IHAVEOPT).putInt(OPT_STARTTLS).putInt(0);
            b.putLong(IHAVEOPT).putInt(OPT_LIST).putInt(0);
            c.out.write(b.array());
            c.out.flush();
            assertEquals(0, remaining(c).length, "no ACK: the connection closes");
        }
        try (RawClient c = RawClient.open(server.actualPort())) {
            // plaintext after the ACK instead of a TLS handshake
            c.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ACK, c.optReply().type());
            c.option(OPT_LIST, new byte[0]);
            assertTrue(c.closedByServer(), "plaintext where TLS was due closes the connection");
        }
    }

    @Test
    void onServesPlaintextAndTlsClients() {
        Tools.require("nbdinfo");
        start(settings("on", false));
        String tls = nbdinfo(nbds(certs.client)).assertOk("nbdinfo nbds://").output();
        assertTrue(tls.replace(" ", "").contains("\"TLS\":true"), tls);
        String plain = nbdinfo(nbd()).assertOk("nbdinfo nbd://").output();
        assertTrue(plain.replace(" ", "").contains("\"TLS\":false"), plain);
        assertTrue(plain.contains("\"export-size\": " + SIZE), plain);
    }

    @Test
    void offRefusesStartTls() throws IOException {
        Tools.require("nbdinfo");
        start(TlsSettings.OFF);
        Tools.Result r = nbdinfo(nbds(certs.client));
        assertNotEquals(0, r.exit(), r.output());
        try (RawClient c = RawClient.open(server.actualPort())) {
            c.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_POLICY, c.optReply().type());
            c.go("vdo0");
        }
    }

    @Test
    void verifyPeerRefusesClientsWithoutACertificateOfTheCa() {
        Tools.require("nbdinfo");
        start(settings("require", true));
        nbdinfo(nbds(certs.client)).assertOk("nbdinfo with a client certificate");
        Tools.Result none = nbdinfo(nbds(certs.noCert));
        assertNotEquals(0, none.exit(), "no client certificate:\n" + none.output());
        assertFalse(none.output().contains(String.valueOf(SIZE)), none.output());
        Tools.Result other = nbdinfo(nbds(certs.stranger));
        assertNotEquals(0, other.exit(), "a certificate of another CA:\n" + other.output());
        server.close();

        // the same clients are served without --tls-verify-peer: the refusal above is the server's
        start(settings("require", false));
        nbdinfo(nbds(certs.noCert)).assertOk("nbdinfo without a client certificate, no verification");
        nbdinfo(nbds(certs.stranger)).assertOk("nbdinfo with another CA's certificate, no verification");
    }

    @Test
    void qemuImgAndQemuIoUseTlsCredsX509() {
        Tools.require("qemu-img", "qemu-io");
        start(settings("require", true));
        String object = "tls-creds-x509,id=tls0,dir=" + certs.client + ",endpoint=client";
        String image = "driver=nbd,host=127.0.0.1,port=" + server.actualPort() + ",export=vdo0,tls-creds=tls0";
        String info = Tools.run(T, "qemu-img", "info", "--object", object, "--image-opts", image)
                .assertOk("qemu-img info").output();
        assertTrue(info.contains("virtual size: 64 MiB"), info);

        String io = Tools.run(T, "qemu-io", "--object", object, "--image-opts", image,
                "-c", "write -P 0x5c 0 1M", "-c", "write -P 0x3a 12345 70000", "-c", "flush").assertOk("qemu-io write").output();
        assertFalse(io.toLowerCase().contains("failed"), io);
        String read = Tools.run(T, "qemu-io", "--object", object, "--image-opts", image,
                "-c", "read -P 0x5c 0 12345", "-c", "read -P 0x3a 12345 70000", "-c", "read -P 0x5c 82345 966231")
                .assertOk("qemu-io read").output();
        assertFalse(read.contains("Pattern verification failed"), read);
        assertEquals(3, read.lines().filter(l -> l.startsWith("read ")).count(), read);
        // and a wrong pattern is noticed, so the reads above did check
        String bad = Tools.run(T, "qemu-io", "--object", object, "--image-opts", image, "-c", "read -P 0x11 0 4096").output();
        assertTrue(bad.contains("Pattern verification failed"), bad);

        // qemu without its client certificate is refused under --tls-verify-peer
        String noCert = "tls-creds-x509,id=tls0,dir=" + certs.noCert + ",endpoint=client";
        Tools.Result refused = Tools.run(T, "qemu-img", "info", "--object", noCert, "--image-opts", image);
        assertNotEquals(0, refused.exit(), refused.output());
    }

    @Test
    void aBadCertificateDirectoryFailsTheStart() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        disk = TestServers.device("vdo0", SIZE);
        NbdServer.Options o = new NbdServer.Options();
        o.tls = TlsSettings.of("require", empty, false);
        server = new NbdServer(new SimpleExportRegistry(List.of(disk)), "127.0.0.1", 0, 1, o);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, server::start);
        assertTrue(e.getMessage().contains(TlsSettings.SERVER_CERT), e.getMessage());

        Path partial = Files.createDirectories(tmp.resolve("partial"));
        Files.copy(certs.server.resolve(TlsSettings.SERVER_CERT), partial.resolve(TlsSettings.SERVER_CERT));
        Files.copy(certs.server.resolve(TlsSettings.SERVER_KEY), partial.resolve(TlsSettings.SERVER_KEY));
        o.tls = TlsSettings.of("on", partial, true); // verification needs ca-cert.pem
        NbdServer second = new NbdServer(new SimpleExportRegistry(List.of(disk)), "127.0.0.1", 0, 1, o);
        try {
            e = assertThrows(IllegalArgumentException.class, second::start);
            assertTrue(e.getMessage().contains(TlsSettings.CA_CERT), e.getMessage());
        } finally {
            second.close();
        }

        Files.writeString(partial.resolve(TlsSettings.SERVER_KEY), "not a key\n");
        o.tls = TlsSettings.of("on", partial, false);
        NbdServer third = new NbdServer(new SimpleExportRegistry(List.of(disk)), "127.0.0.1", 0, 1, o);
        try {
            e = assertThrows(IllegalArgumentException.class, third::start);
            assertTrue(e.getMessage().contains(TlsSettings.SERVER_KEY), e.getMessage());
        } finally {
            third.close();
        }
    }

    /** Everything the server still sends before it closes the connection (fails on a timeout). */
    private static byte[] remaining(RawClient c) throws IOException {
        List<Byte> got = new ArrayList<>();
        try {
            int b;
            while ((b = c.in.read()) >= 0) {
                got.add((byte) b);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server kept the connection open; it sent " + got.size() + " bytes");
        } catch (java.net.SocketException e) {
            // reset: closed
        }
        byte[] out = new byte[got.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = got.get(i);
        }
        return out;
    }
}
