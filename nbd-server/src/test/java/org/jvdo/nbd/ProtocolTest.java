package org.jvdo.nbd;

import org.jvdo.testsupport.Await;
import static org.jvdo.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Protocol behaviour checked byte by byte over a plain socket. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProtocolTest {
    static final long SIZE = 16L << 20;

    ControlledDevice main;
    BlockDevice other;
    TestServers.Handle server;

    @BeforeEach
    void start() {
        main = new ControlledDevice(TestServers.device("main", SIZE));
        other = TestServers.device("other", 8L << 20);
        server = TestServers.start(List.of(main, other));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        main.close();
    }

    private RawClient connectTo(String export) throws IOException {
        RawClient c = RawClient.open(server.port());
        c.go(export);
        return c;
    }

    private void assertHealthy() throws IOException {
        try (RawClient c = connectTo("main")) {
            byte[] data = "still alive".getBytes(StandardCharsets.UTF_8);
            assertEquals(0, c.write(900, 12345, data));
            assertArrayEquals(data, c.read(901, 12345, data.length));
        }
    }

    @Test
    void handshakeAdvertisesFixedNewstyleAndNoZeroes() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, c.handshakeFlags);
        }
        assertTrue(server.server().isNativeTransport(), "epoll transport in use");
    }

    @Test
    void exportNameHonoursNoZeroes() throws IOException {
        for (int clientFlags : new int[] {FLAG_FIXED_NEWSTYLE, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES}) {
            try (RawClient c = new RawClient(server.port())) {
                c.greet(clientFlags);
                c.option(OPT_EXPORT_NAME, "main".getBytes(StandardCharsets.UTF_8));
                assertEquals(SIZE, c.in.readLong());
                int flags = c.in.readUnsignedShort();
                assertEquals(TF_HAS_FLAGS, flags & TF_HAS_FLAGS, "HAS_FLAGS");
                if ((clientFlags & FLAG_NO_ZEROES) == 0) {
                    byte[] zeroes = new byte[EXPORT_NAME_PADDING];
                    c.in.readFully(zeroes);
                    assertArrayEquals(new byte[EXPORT_NAME_PADDING], zeroes);
                }
                // the very next bytes must be the reply to a request
                assertEquals(0, c.write(1, 0, new byte[] {1, 2, 3}));
                assertArrayEquals(new byte[] {1, 2, 3}, c.read(2, 0, 3));
            }
        }
    }

    @Test
    void exportNameWithEmptyNameUsesDefaultExport() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_EXPORT_NAME, new byte[0]);
            assertEquals(SIZE, c.in.readLong());
        }
    }

    @Test
    void unknownExportNameClosesConnection() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer());
        }
        assertHealthy();
    }

    @Test
    void listNamesEveryExport() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_LIST, new byte[0]);
            List<RawClient.OptReply> replies = c.optReplies();
            List<String> names = new ArrayList<>();
            for (RawClient.OptReply r : replies) {
                if (r.type() == REP_SERVER) {
                    ByteBuffer b = ByteBuffer.wrap(r.data());
                    byte[] n = new byte[b.getInt()];
                    b.get(n);
                    names.add(new String(n, StandardCharsets.UTF_8));
                }
            }
            assertEquals(List.of("main", "other"), names);
            assertEquals(REP_ACK, replies.get(replies.size() - 1).type());
            // LIST with data is malformed
            c.option(OPT_LIST, new byte[] {1});
            assertEquals(REP_ERR_INVALID, c.optReply().type());
        }
    }

    @Test
    void exportsAddedAtRunTimeAreListedAndServed() throws IOException {
        server.registry().add(new MemoryBlockDevice("late", 1 << 20));
        try (RawClient c = connectTo("late")) {
            assertEquals(1 << 20, c.exportSize);
        }
        server.registry().remove("late");
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_GO, RawClient.infoRequest("late"));
            assertEquals(REP_ERR_UNKNOWN, c.optReply().type());
        }
    }

    private Map<Integer, byte[]> infos(List<RawClient.OptReply> replies) {
        Map<Integer, byte[]> m = new HashMap<>();
        for (RawClient.OptReply r : replies) {
            if (r.type() == REP_INFO) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                int type = b.getShort();
                byte[] rest = new byte[b.remaining()];
                b.get(rest);
                m.put(type, rest);
            }
        }
        return m;
    }

    @Test
    void infoAndGoReportTheSameSizeFlagsAndBlockSizes() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.structuredReplies();
            c.option(OPT_INFO, RawClient.infoRequest("main", INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE));
            List<RawClient.OptReply> info = c.optReplies();
            assertEquals(REP_ACK, info.get(info.size() - 1).type());
            Map<Integer, byte[]> i = infos(info);
            ByteBuffer export = ByteBuffer.wrap(i.get(INFO_EXPORT));
            assertEquals(SIZE, export.getLong());
            int flags = Short.toUnsignedInt(export.getShort());
            // HAS_FLAGS, FLUSH, FUA, TRIM, WRITE_ZEROES, DF, MULTI_CONN, CACHE, FAST_ZERO
            assertEquals(TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_SEND_TRIM | TF_SEND_WRITE_ZEROES | TF_SEND_DF
                    | TF_CAN_MULTI_CONN | TF_SEND_CACHE | TF_SEND_FAST_ZERO, flags);
            assertEquals("main", new String(i.get(INFO_NAME), StandardCharsets.UTF_8));
            assertTrue(new String(i.get(INFO_DESCRIPTION), StandardCharsets.UTF_8).contains("main"));
            ByteBuffer bs = ByteBuffer.wrap(i.get(INFO_BLOCK_SIZE));
            assertEquals(NbdServer.MIN_BLOCK, bs.getInt());
            assertEquals(NbdServer.PREFERRED_BLOCK, bs.getInt());
            assertEquals(NbdServer.MAX_PAYLOAD, bs.getInt());

            c.go("main");
            assertEquals(SIZE, c.exportSize);
            assertEquals(flags, c.transmissionFlags);
            byte[] d = {9, 8, 7};
            assertEquals(0, c.write(5, 100, d));
        }
    }

    @Test
    void readOnlyDeviceAdvertisesReadOnlyAndRejectsWrites() throws IOException {
        server.registry().add(new MemoryBlockDevice("ro", 1 << 20, true));
        try (RawClient c = connectTo("ro")) {
            assertEquals(TF_READ_ONLY, c.transmissionFlags & TF_READ_ONLY);
            assertEquals(0, c.transmissionFlags & TF_SEND_TRIM, "no TRIM on a read-only export");
            assertEquals(EPERM, c.write(1, 0, new byte[10]), "EPERM");
            assertEquals(4096, c.read(2, 0, 4096).length);
        }
    }

    @Test
    void unknownOptionIsUnsupportedAndNegotiationContinues() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(4242, new byte[] {1, 2, 3});
            RawClient.OptReply r = c.optReply();
            assertEquals(4242, r.opt());
            assertEquals(REP_ERR_UNSUP, r.type());
            c.go("main");
            assertEquals(SIZE, c.exportSize);
        }
    }

    @Test
    void startTlsIsRefusedByPolicy() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_POLICY, c.optReply().type());
            c.go("other");
        }
    }

    @Test
    void unknownExportIsReportedAndMalformedOptionsAreInvalid() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_GO, RawClient.infoRequest("missing"));
            assertEquals(REP_ERR_UNKNOWN, c.optReply().type());
            c.option(OPT_INFO, RawClient.infoRequest("missing"));
            assertEquals(REP_ERR_UNKNOWN, c.optReply().type());
            // name length pointing past the payload
            c.option(OPT_GO, new byte[] {0, 0, 0, 50, 'a', 0, 0});
            assertEquals(REP_ERR_INVALID, c.optReply().type());
            // info request count not matching the payload
            c.option(OPT_INFO, new byte[] {0, 0, 0, 0, 0, 3, 0, 1});
            assertEquals(REP_ERR_INVALID, c.optReply().type());
            c.option(OPT_LIST_META_CONTEXT, new byte[] {0, 0});
            assertEquals(REP_ERR_INVALID, c.optReply().type());
            c.option(OPT_STRUCTURED_REPLY, new byte[] {1});
            assertEquals(REP_ERR_INVALID, c.optReply().type());
            // too long an option is refused without killing the session
            c.option(4243, new byte[100 << 10]);
            assertEquals(REP_ERR_TOO_BIG, c.optReply().type());
            c.go("main");
        }
    }

    @Test
    void metaContextListingAndSetting() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            for (String[] q : new String[][] {{}, {BASE_NAMESPACE}, {BASE_ALLOCATION}}) {
                c.option(OPT_LIST_META_CONTEXT, RawClient.metaRequest("main", q));
                List<RawClient.OptReply> r = c.optReplies();
                assertEquals(2, r.size());
                assertEquals(REP_META_CONTEXT, r.get(0).type());
                assertEquals(BASE_ALLOCATION, new String(r.get(0).data(), 4, r.get(0).data().length - 4,
                        StandardCharsets.UTF_8));
            }
            c.option(OPT_LIST_META_CONTEXT, RawClient.metaRequest("main", "qemu:dirty-bitmap:x"));
            assertEquals(List.of(REP_ACK), c.optReplies().stream().map(RawClient.OptReply::type).toList());
            // SET needs structured replies first
            c.option(OPT_SET_META_CONTEXT, RawClient.metaRequest("main", BASE_ALLOCATION));
            assertEquals(REP_ERR_INVALID, c.optReply().type());
            c.structuredReplies();
            c.option(OPT_SET_META_CONTEXT, RawClient.metaRequest("nope", BASE_ALLOCATION));
            assertEquals(REP_ERR_UNKNOWN, c.optReply().type());
            c.baseAllocation("main");
        }
    }

    @Test
    void abortEndsTheSession() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.option(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, c.optReply().type());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void readWriteRoundTripIncludingUnalignedAndZeroing() throws IOException {
        Random rnd = new Random(1);
        try (RawClient c = connectTo("main")) {
            byte[] big = new byte[1 << 20];
            rnd.nextBytes(big);
            assertEquals(0, c.write(1, 3 * 4096, big));
            assertArrayEquals(big, c.read(2, 3 * 4096, big.length));
            byte[] odd = new byte[5000];
            rnd.nextBytes(odd);
            assertEquals(0, c.write(3, 12345, odd));
            assertArrayEquals(odd, c.read(4, 12345, odd.length));
            // FUA write, flush, cache
            c.request(CMD_FLAG_FUA, CMD_WRITE, 5, 0, 4, new byte[] {1, 1, 1, 1});
            assertEquals(new RawClient.Simple(0, 5), c.simple());
            c.request(0, CMD_FLUSH, 6, 0, 0, null);
            assertEquals(new RawClient.Simple(0, 6), c.simple());
            c.request(0, CMD_CACHE, 7, 0, 4096, null);
            assertEquals(new RawClient.Simple(0, 7), c.simple());
            // trim and write-zeroes read back as zeros
            c.request(0, CMD_TRIM, 8, 3 * 4096, 8192, null);
            assertEquals(new RawClient.Simple(0, 8), c.simple());
            c.request(CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 9, 12345, 100, null);
            assertEquals(new RawClient.Simple(0, 9), c.simple());
            assertArrayEquals(new byte[8192], c.read(10, 3 * 4096, 8192));
            assertArrayEquals(new byte[100], c.read(11, 12345, 100));
            // unknown flag on a command is rejected
            c.request(CMD_FLAG_DF, CMD_FLUSH, 12, 0, 0, null);
            assertEquals(new RawClient.Simple(EINVAL, 12), c.simple());
            c.disconnect();
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void outOfRangeRequestsFailWithoutKillingTheConnection() throws IOException {
        try (RawClient c = connectTo("main")) {
            c.request(0, CMD_READ, 1, SIZE - 10, 20, null);
            assertEquals(new RawClient.Simple(EINVAL, 1), c.simple());
            c.request(0, CMD_READ, 2, Long.MAX_VALUE, 20, null);
            assertEquals(new RawClient.Simple(EINVAL, 2), c.simple());
            c.request(0, CMD_READ, 3, -4096L, 4096, null); // offset >= 2^63
            assertEquals(new RawClient.Simple(EINVAL, 3), c.simple());
            c.request(0, CMD_WRITE, 4, SIZE, 4, new byte[4]);
            assertEquals(new RawClient.Simple(ENOSPC, 4), c.simple(), "ENOSPC for writes past the end");
            c.request(0, CMD_TRIM, 5, SIZE - 4096, 8192, null);
            assertEquals(new RawClient.Simple(EINVAL, 5), c.simple());
            c.request(0, CMD_CACHE, 6, SIZE, 1, null);
            assertEquals(new RawClient.Simple(EINVAL, 6), c.simple());
            c.request(0, 99, 7, 0, 0, null);
            assertEquals(new RawClient.Simple(EINVAL, 7), c.simple(), "unknown command");
            // block status without negotiation is invalid
            c.request(0, CMD_BLOCK_STATUS, 8, 0, 4096, null);
            assertEquals(new RawClient.Simple(EINVAL, 8), c.simple());
            byte[] d = {42};
            assertEquals(0, c.write(9, SIZE - 1, d));
            assertArrayEquals(d, c.read(10, SIZE - 1, 1));
        }
    }

    @Test
    void oversizedReadAndWriteAreRejected() throws IOException {
        try (RawClient c = connectTo("main")) {
            c.request(0, CMD_READ, 1, 0, (64 << 20) + 1, null);
            assertEquals(new RawClient.Simple(EINVAL, 1), c.simple());
            // a 65 MiB write: the payload is read and dropped, then EINVAL
            byte[] payload = new byte[(65 << 20)];
            c.request(0, CMD_WRITE, 2, 0, payload.length, payload);
            assertEquals(new RawClient.Simple(EINVAL, 2), c.simple());
            byte[] d = {5, 6};
            assertEquals(0, c.write(3, 0, d));
            assertArrayEquals(d, c.read(4, 0, 2));
            // beyond the discard limit the server hangs up
            c.request(0, CMD_WRITE, 5, 0, 0xF0000000L, null);
            assertTrue(c.closedByServer());
        }
        assertHealthy();
    }

    @Test
    void badRequestMagicClosesOnlyThatConnection() throws IOException {
        try (RawClient good = connectTo("main"); RawClient bad = connectTo("main")) {
            bad.out.write(new byte[REQUEST_HEADER_SIZE]);
            bad.out.flush();
            assertTrue(bad.closedByServer());
            byte[] d = {1, 2, 3, 4};
            assertEquals(0, good.write(1, 4096, d));
            assertArrayEquals(d, good.read(2, 4096, 4));
        }
    }

    @Test
    void badOptionMagicClosesTheConnection() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.out.writeLong(0x1234);
            c.out.writeInt(OPT_GO);
            c.out.writeInt(0);
            c.out.flush();
            assertTrue(c.closedByServer());
        }
        assertHealthy();
    }

    @Test
    void streamCutMidWriteLeavesServerHealthy() throws IOException {
        RawClient c = connectTo("main");
        c.request(0, CMD_WRITE, 1, 0, 1 << 20, null);
        c.out.write(new byte[1000]);
        c.out.flush();
        c.close();
        // also cut in the middle of a request header
        RawClient c2 = connectTo("main");
        c2.out.write(new byte[] {0x25, 0x60});
        c2.out.flush();
        c2.close();
        assertHealthy();
    }

    @Test
    void disconnectWithRequestsInFlightLeavesServerHealthy() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        main.readGate = off -> off == 0 ? gate : CompletableFuture.completedFuture(null);
        RawClient c = connectTo("main");
        for (int i = 0; i < 10; i++) {
            c.request(0, CMD_READ, i, 0, 65536, null);
        }
        Await.until(() -> main.readsStarted.get() == 10, Await.SECONDS,
                () -> "reads started: " + main.readsStarted.get() + " of 10");
        c.close();
        Await.until(() -> server.server().probe(NbdConnection::socketClosed).equals(List.of(true)), Await.SECONDS,
                () -> "the server did not see the client go");
        gate.complete(null); // replies now go to a closed socket
        main.readGate = off -> CompletableFuture.completedFuture(null);
        assertHealthy();
    }

    /**
     * Replies are written without a flush and flushed by a task queued behind them. A WRITE's
     * reply ends its request at once, so after a disconnect the last reply's task closes the
     * socket before that flush runs; every reply must still reach the client, and the data
     * must be stored.
     */
    @Test
    void everyReplyWrittenBeforeADisconnectArrives() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        int n = 20;
        int before = main.writesStarted.get();
        main.writeGate = off -> gate;
        try (RawClient c = connectTo("main")) {
            for (int i = 0; i < n; i++) c.request(0, CMD_WRITE, 100 + i, i * 4096L, 4096, pattern(i));
            c.disconnect();
            Await.until(() -> main.writesStarted.get() - before >= n, Await.SECONDS,
                    () -> "writes started: " + (main.writesStarted.get() - before) + " of " + n);
            gate.complete(null);    // all twenty answer at once; the last one's task closes the socket
            java.util.Set<Long> handles = new java.util.HashSet<>();
            for (int i = 0; i < n; i++) {
                RawClient.Simple s = c.simple();
                assertEquals(0, s.error(), "reply " + i);
                handles.add(s.handle());
            }
            assertEquals(n, handles.size(), "distinct handles");
            assertTrue(c.closedByServer(), "the server closes after the last reply");
        } finally {
            main.writeGate = off -> CompletableFuture.completedFuture(null);
        }
        try (RawClient c = connectTo("main")) {
            for (int i = 0; i < n; i++) assertArrayEquals(pattern(i), c.read(200 + i, i * 4096L, 4096), "block " + i);
        }
    }

    private static byte[] pattern(int seed) {
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 7 + seed * 13 + 3);
        return data;
    }

    @Test
    void repliesComeOutOfOrderWithTheRightHandles() throws IOException {
        CompletableFuture<Void> slow = new CompletableFuture<>();
        main.readGate = off -> off == 0 ? slow : CompletableFuture.completedFuture(null);
        try (RawClient c = connectTo("main")) {
            byte[] a = new byte[4096];
            byte[] b = new byte[4096];
            java.util.Arrays.fill(a, (byte) 'a');
            java.util.Arrays.fill(b, (byte) 'b');
            assertEquals(0, c.write(1, 0, a));
            assertEquals(0, c.write(2, 4096, b));
            c.request(0, CMD_READ, 0xAAAAL, 0, 4096, null);
            c.request(0, CMD_READ, 0xBBBBL, 4096, 4096, null);
            RawClient.Simple first = c.simple();
            byte[] firstData = new byte[4096];
            c.in.readFully(firstData);
            slow.complete(null); // the slow read answers only once the fast one has
            RawClient.Simple second = c.simple();
            byte[] secondData = new byte[4096];
            c.in.readFully(secondData);
            assertEquals(0xBBBBL, first.handle(), "the fast read overtakes the slow one");
            assertArrayEquals(b, firstData);
            assertEquals(0xAAAAL, second.handle());
            assertArrayEquals(a, secondData);
        }
    }

    @Test
    void backPressureStopsReadingRequestsUntilTheDeviceCatchesUp() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        main.readGate = off -> gate;
        try (RawClient c = connectTo("main")) {
            int n = 200;
            for (int i = 0; i < n; i++) {
                c.request(0, CMD_READ, i, (long) i * 4096, 4096, null);
            }
            // the server stops reading once more than MAX_INFLIGHT_REQUESTS are in flight
            Await.until(() -> server.server().probe(NbdConnection::inputPaused).equals(List.of(true)), Await.SECONDS,
                    () -> "the connection was not paused; reads started: " + main.readsStarted.get());
            int started = main.readsStarted.get();
            assertTrue(started <= NbdServer.MAX_INFLIGHT_REQUESTS + 1 && started > 0,
                    "reads started while the device was stuck: " + started);
            gate.complete(null);
            boolean[] seen = new boolean[n];
            for (int i = 0; i < n; i++) {
                RawClient.Simple s = c.simple();
                assertEquals(0, s.error());
                c.in.readFully(new byte[4096]);
                seen[(int) s.handle()] = true;
            }
            for (boolean s : seen) {
                assertTrue(s);
            }
        }
    }

    @Test
    void structuredReadSendsHolesAndDfGivesOneChunk() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.structuredReplies();
            c.go("main");
            byte[] data = new byte[4096];
            java.util.Arrays.fill(data, (byte) 7);
            assertEquals(0, c.write(1, 0, data));
            assertEquals(0, c.write(2, 3 * 4096, data));
            c.request(0, CMD_READ, 3, 0, 4 * 4096, null);
            List<RawClient.Chunk> chunks = new ArrayList<>();
            RawClient.Chunk ch;
            do {
                ch = c.chunk();
                assertEquals(3, ch.handle());
                chunks.add(ch);
            } while (!ch.done());
            byte[] assembled = new byte[4 * 4096];
            long holeBytes = 0;
            for (RawClient.Chunk k : chunks) {
                ByteBuffer p = ByteBuffer.wrap(k.payload());
                if (k.type() == REPLY_TYPE_OFFSET_DATA) {
                    int off = (int) p.getLong();
                    p.get(assembled, off, p.remaining());
                } else if (k.type() == REPLY_TYPE_OFFSET_HOLE) {
                    p.getLong();
                    holeBytes += p.getInt();
                }
            }
            assertEquals(List.of(REPLY_TYPE_OFFSET_DATA, REPLY_TYPE_OFFSET_HOLE, REPLY_TYPE_OFFSET_DATA), chunks.stream().map(RawClient.Chunk::type).toList());
            assertEquals(2 * 4096, holeBytes);
            byte[] expected = new byte[4 * 4096];
            System.arraycopy(data, 0, expected, 0, 4096);
            System.arraycopy(data, 0, expected, 3 * 4096, 4096);
            assertArrayEquals(expected, assembled);

            c.request(CMD_FLAG_DF, CMD_READ, 4, 0, 4 * 4096, null);
            RawClient.Chunk one = c.chunk();
            assertTrue(one.done());
            assertEquals(REPLY_TYPE_OFFSET_DATA, one.type());
            assertEquals(8 + 4 * 4096, one.payload().length);
            assertArrayEquals(expected, java.util.Arrays.copyOfRange(one.payload(), 8, one.payload().length));

            // errors are structured error chunks
            c.request(0, CMD_READ, 5, SIZE, 4096, null);
            RawClient.Chunk err = c.chunk();
            assertTrue(err.done());
            assertEquals(REPLY_TYPE_ERROR, err.type());
            assertEquals(EINVAL, ByteBuffer.wrap(err.payload()).getInt());
            // other commands still get simple replies
            c.request(0, CMD_FLUSH, 6, 0, 0, null);
            assertEquals(new RawClient.Simple(0, 6), c.simple());
        }
    }

    @Test
    void blockStatusReportsHolesZeroesAndHonoursReqOne() throws IOException {
        try (RawClient c = RawClient.open(server.port())) {
            c.structuredReplies();
            c.baseAllocation("main");
            c.go("main");
            assertEquals(0, c.write(1, 0, new byte[] {1}));
            c.request(CMD_FLAG_NO_HOLE, CMD_WRITE_ZEROES, 2, 4096, 4096, null); // zero but allocated
            assertEquals(0, c.simple().error());
            c.request(0, CMD_BLOCK_STATUS, 3, 0, 4 * 4096, null);
            RawClient.Chunk bs = c.chunk();
            assertTrue(bs.done());
            assertEquals(REPLY_TYPE_BLOCK_STATUS, bs.type());
            ByteBuffer p = ByteBuffer.wrap(bs.payload());
            assertEquals(BASE_ALLOCATION_ID, p.getInt(), "context id");
            assertEquals(4096, p.getInt());
            assertEquals(0, p.getInt(), "data");
            assertEquals(4096, p.getInt());
            assertEquals(STATE_ZERO, p.getInt(), "zero");
            assertEquals(2 * 4096, p.getInt());
            assertEquals(STATE_HOLE | STATE_ZERO, p.getInt(), "hole|zero");
            assertFalse(p.hasRemaining());

            c.request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 4, 4096, 3 * 4096, null);
            ByteBuffer one = ByteBuffer.wrap(c.chunk().payload());
            assertEquals(12, one.remaining(), "REQ_ONE gives one descriptor");
            one.getInt();
            assertEquals(4096, one.getInt());
            assertEquals(STATE_ZERO, one.getInt());
        }
    }

    @Test
    void deviceErrorsMapToNbdErrors() throws IOException {
        assertEquals(EPERM, ErrorCodes.nbd(new VdoException(Errno.EROFS, "ro")));
        assertEquals(ENOSPC, ErrorCodes.nbd(new RuntimeException(new VdoException(Errno.ENOSPC, "full"))));
        assertEquals(EIO, ErrorCodes.nbd(new IllegalStateException("boom")));
        assertEquals(ESHUTDOWN, ErrorCodes.nbd(new VdoException(Errno.ESHUTDOWN, "x")));
        main.readGate = off -> CompletableFuture.failedFuture(new VdoException(Errno.ENOSPC, "full"));
        try (RawClient c = connectTo("main")) {
            c.request(0, CMD_READ, 1, 0, 4096, null);
            assertEquals(new RawClient.Simple(ENOSPC, 1), c.simple());
        }
    }

    @Test
    void closeWaitsForInFlightRequests() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        main.readGate = off -> gate;
        RawClient c = connectTo("main");
        c.request(0, CMD_READ, 77, 0, 4096, null);
        Await.until(() -> main.readsStarted.get() == 1, Await.SECONDS, () -> "the read did not start");
        NbdServer nbd = server.server();
        server = null;
        CompletableFuture<Void> closed = CompletableFuture.runAsync(nbd::close);
        // the read is answered only once the server is draining the connection
        Await.until(() -> nbd.probe(NbdConnection::draining).equals(List.of(true)), Await.SECONDS,
                () -> "the server did not start draining");
        gate.complete(null);
        assertEquals(null, Await.outcome(closed, "server close"));
        RawClient.Simple s = c.simple();
        assertEquals(new RawClient.Simple(0, 77), s);
        c.in.readFully(new byte[4096]);
        assertTrue(c.closedByServer());
        c.close();
    }
}
