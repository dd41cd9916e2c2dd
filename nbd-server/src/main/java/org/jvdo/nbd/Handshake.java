package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.*;

import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;
import org.jvdo.core.api.BlockDevice;

/**
 * The fixed-newstyle negotiation of one connection, up to NBD_OPT_GO or NBD_OPT_EXPORT_NAME:
 * the greeting, client flags, options (LIST, INFO/GO with NBD_INFO_*, STRUCTURED_REPLY,
 * LIST/SET_META_CONTEXT, ABORT, STARTTLS), export lookup and the handshake timeout.
 *
 * <p>TLS ({@link TlsSettings}, the NBD spec's "TLS support"): off, STARTTLS is answered
 * NBD_REP_ERR_POLICY (NOTLS); on, STARTTLS is acknowledged and the socket upgraded in place,
 * plaintext options still work (SELECTIVETLS with no TLS-only export); require, every option
 * but STARTTLS and ABORT is answered NBD_REP_ERR_TLS_REQD until TLS is up, and
 * NBD_OPT_EXPORT_NAME, which cannot be refused, closes the connection (FORCEDTLS). The ACK goes
 * out in plaintext, then TLS begins; a client must wait for it, so bytes sent after STARTTLS
 * before the handshake close the connection. A second STARTTLS is NBD_REP_ERR_INVALID.
 * Owns what the client negotiated so far; when an export is picked it hands an immutable
 * {@link Session} to {@link NbdConnection#transmissionStarts} and is done. Runs on the
 * connection's context.
 */
final class Handshake {
    private static final Logger LOG = Logger.getLogger(Handshake.class.getName());

    private final NbdConnection conn;
    private final InputFramer input;
    private final NbdServer server;

    private boolean noZeroes;
    /** The client set NBD_FLAG_C_FIXED_NEWSTYLE: TLS is possible (the spec's NOTLS otherwise). */
    private boolean fixedNewstyle;
    /** The socket is TLS (STARTTLS succeeded). */
    private boolean tls;
    private boolean structured;
    private boolean baseAllocation;
    /** The option whose data is being read. */
    private int option;
    private long timer = -1;

    Handshake(NbdConnection conn, InputFramer input) {
        this.conn = conn;
        this.input = input;
        this.server = conn.server();
    }

    /** Sends the greeting, waits for the client flags and starts the handshake timeout. */
    void start() {
        conn.send(Buffer.buffer(GREETING_SIZE)
                .appendLong(NBDMAGIC)
                .appendLong(IHAVEOPT)
                .appendShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)));
        input.expect(CLIENT_FLAGS_SIZE, this::onClientFlags);
        long hs = server.options().handshakeTimeoutMillis;
        if (hs > 0) {
            timer = conn.context().owner().setTimer(hs, id -> {
                timer = -1;
                if (!conn.inTransmission() && !conn.socketClosed()) {
                    LOG.info("dropping NBD client " + conn.socket().remoteAddress() + ": no handshake within " + hs + " ms");
                    conn.abort();
                }
            });
        }
    }

    /** The handshake ended (an export was picked or the socket closed): no timeout any more. */
    void cancelTimer() {
        if (timer >= 0) {
            conn.context().owner().cancelTimer(timer);
            timer = -1;
        }
    }

    private void nextOption() {
        input.expect(OPTION_HEADER_SIZE, this::onOptionHeader);
    }

    private void onClientFlags(ByteBuffer b) {
        int flags = b.getInt();
        if ((flags & ~CLIENT_FLAGS_KNOWN) != 0) {
            conn.abort();
            return;
        }
        noZeroes = (flags & FLAG_NO_ZEROES) != 0;
        fixedNewstyle = (flags & FLAG_FIXED_NEWSTYLE) != 0;
        if (!fixedNewstyle && server.tls().required()) {
            LOG.info("dropping NBD client " + conn.socket().remoteAddress()
                    + ": TLS is required and the client did not set NBD_FLAG_C_FIXED_NEWSTYLE");
            conn.abort();
            return;
        }
        nextOption();
    }

    private void onOptionHeader(ByteBuffer b) {
        if (b.getLong() != IHAVEOPT) {
            conn.abort();
            return;
        }
        option = b.getInt();
        long length = Integer.toUnsignedLong(b.getInt());
        if (length > NbdServer.MAX_OPTION_LENGTH) {
            if (option == OPT_EXPORT_NAME || length > NbdServer.MAX_OPTION_DISCARD) {
                conn.abort();
                return;
            }
            input.discard(length, () -> {
                if (!tls && server.tls().required() && option != OPT_STARTTLS && option != OPT_ABORT) {
                    optionReply(option, REP_ERR_TLS_REQD, errorText("TLS is required: send NBD_OPT_STARTTLS first"));
                } else {
                    optionReply(option, REP_ERR_TOO_BIG, errorText("option too long"));
                }
                nextOption();
            });
            return;
        }
        input.expect((int) length, this::onOptionData);
        if (length == 0) {
            onOptionData(ByteBuffer.allocate(0));
        }
    }

    private void onOptionData(ByteBuffer data) {
        int opt = option;
        if (server.isClosing() && opt != OPT_ABORT) {
            optionReply(opt, REP_ERR_SHUTDOWN, errorText("server shutting down"));
            nextOption();
            return;
        }
        if (!tls && server.tls().required() && opt != OPT_STARTTLS && opt != OPT_ABORT) {
            if (opt == OPT_EXPORT_NAME) { // has no error reply: the spec says to close
                LOG.info("dropping NBD client " + conn.socket().remoteAddress()
                        + ": NBD_OPT_EXPORT_NAME without TLS, which is required");
                conn.abort();
                return;
            }
            optionReply(opt, REP_ERR_TLS_REQD, errorText("TLS is required: send NBD_OPT_STARTTLS first"));
            nextOption();
            return;
        }
        switch (opt) {
            case OPT_EXPORT_NAME -> {
                String name = StandardCharsets.UTF_8.decode(data).toString();
                Optional<BlockDevice> dev = server.resolve(name);
                if (dev.isEmpty()) {
                    conn.abort();
                    return;
                }
                BlockDevice device = dev.get();
                int flags = transmissionFlags(device);
                conn.transmissionStarts(new Session(device.name(), device, structured, baseAllocation, flags));
                Buffer reply = Buffer.buffer(noZeroes ? 10 : 10 + EXPORT_NAME_PADDING)
                        .appendLong(device.size())
                        .appendShort((short) flags);
                if (!noZeroes) {
                    reply.appendBytes(new byte[EXPORT_NAME_PADDING]);
                }
                conn.send(reply);
                return;
            }
            case OPT_ABORT -> {
                optionReply(opt, REP_ACK, null);
                conn.closeAfterWrites();
                return;
            }
            case OPT_LIST -> {
                if (data.hasRemaining()) {
                    optionReply(opt, REP_ERR_INVALID, errorText("LIST takes no data"));
                } else {
                    for (BlockDevice d : server.registry().list()) {
                        byte[] name = d.name().getBytes(StandardCharsets.UTF_8);
                        optionReply(opt, REP_SERVER, Buffer.buffer().appendInt(name.length).appendBytes(name));
                    }
                    optionReply(opt, REP_ACK, null);
                }
            }
            case OPT_STARTTLS -> {
                if (startTls(data)) {
                    return;
                }
            }
            case OPT_INFO, OPT_GO -> {
                if (infoOrGo(opt, data)) {
                    return;
                }
            }
            case OPT_STRUCTURED_REPLY -> {
                if (data.hasRemaining()) {
                    optionReply(opt, REP_ERR_INVALID, errorText("STRUCTURED_REPLY takes no data"));
                } else {
                    structured = true;
                    optionReply(opt, REP_ACK, null);
                }
            }
            case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> metaContext(opt, data);
            default -> optionReply(opt, REP_ERR_UNSUP, errorText("option " + opt + " not supported"));
        }
        nextOption();
    }

    /**
     * Answers STARTTLS; returns true when the socket is being upgraded (the next option is
     * read once TLS is up) or the connection closes.
     */
    private boolean startTls(ByteBuffer data) {
        if (!server.tls().offered() || !fixedNewstyle) {
            optionReply(OPT_STARTTLS, REP_ERR_POLICY, errorText("TLS is not offered"));
            return false;
        }
        if (tls) {
            optionReply(OPT_STARTTLS, REP_ERR_INVALID, errorText("TLS is already negotiated"));
            return false;
        }
        if (data.hasRemaining()) {
            optionReply(OPT_STARTTLS, REP_ERR_INVALID, errorText("STARTTLS takes no data"));
            return false;
        }
        if (input.hasUnread()) {
            // whatever follows STARTTLS was sent in plaintext without waiting for the ACK: it must
            // never be read as if it came through TLS
            LOG.info("dropping NBD client " + conn.socket().remoteAddress()
                    + ": data sent after NBD_OPT_STARTTLS before its reply");
            conn.abort();
            return true;
        }
        input.holdForTls();
        // the ACK is written in plaintext, then the TLS handler goes in; reading is paused meanwhile
        conn.socket().upgradeToSsl(server.tlsOptions(), (String) null, NbdProtocol.optionReply(OPT_STARTTLS, REP_ACK, null))
                .onComplete(ar -> conn.onContext(() -> {
                    if (conn.socketClosed() || input.done()) {
                        return;
                    }
                    if (ar.failed()) {
                        LOG.info("TLS handshake with NBD client " + conn.socket().remoteAddress() + " failed: "
                                + ar.cause().getMessage());
                        conn.abort();
                        return;
                    }
                    tls = true;
                    LOG.fine(() -> "NBD client " + conn.socket().remoteAddress() + " is on TLS ("
                            + conn.socket().sslSession().getProtocol() + ")");
                    nextOption();
                    input.tlsReady();
                }));
        return true;
    }

    /** Answers INFO or GO; returns true when GO succeeded and transmission begins. */
    private boolean infoOrGo(int opt, ByteBuffer data) {
        Named<Integer> request = parse(opt, data, Handshake::infoRequests, "malformed INFO/GO request");
        if (request == null) {
            return false;
        }
        List<Integer> requests = request.items();
        BlockDevice d = exportOrUnknown(opt, request.name());
        if (d == null) {
            return false;
        }
        int flags = transmissionFlags(d);
        optionReply(opt, REP_INFO, Buffer.buffer(12).appendShort((short) INFO_EXPORT)
                .appendLong(d.size()).appendShort((short) flags));
        if (requests.contains(INFO_NAME)) {
            optionReply(opt, REP_INFO, infoText(INFO_NAME, d.name()));
        }
        if (requests.contains(INFO_DESCRIPTION)) {
            optionReply(opt, REP_INFO, infoText(INFO_DESCRIPTION, server.registry().description(d)));
        }
        optionReply(opt, REP_INFO, Buffer.buffer(14).appendShort((short) INFO_BLOCK_SIZE)
                .appendInt(NbdServer.MIN_BLOCK).appendInt(NbdServer.PREFERRED_BLOCK)
                .appendInt(Math.min(NbdServer.MAX_PAYLOAD, server.maxRequest()))); // never more than is served
        optionReply(opt, REP_ACK, null);
        if (opt == OPT_GO) {
            conn.transmissionStarts(new Session(d.name(), d, structured, baseAllocation, flags));
            return true;
        }
        return false;
    }

    private void metaContext(int opt, ByteBuffer data) {
        Named<String> request = parse(opt, data, Handshake::metaQueries, "malformed meta context request");
        if (request == null) {
            return;
        }
        if (opt == OPT_SET_META_CONTEXT && !structured) {
            optionReply(opt, REP_ERR_INVALID, errorText("structured replies not negotiated"));
            return;
        }
        if (exportOrUnknown(opt, request.name()) == null) {
            return;
        }
        List<String> queries = request.items();
        boolean match;
        if (opt == OPT_LIST_META_CONTEXT) {
            match = queries.isEmpty()
                    || queries.stream().anyMatch(q -> q.equals(BASE_NAMESPACE) || q.equals(BASE_ALLOCATION));
        } else {
            match = queries.contains(BASE_ALLOCATION);
            baseAllocation = match;
        }
        if (match) {
            optionReply(opt, REP_META_CONTEXT, Buffer.buffer().appendInt(BASE_ALLOCATION_ID)
                    .appendBytes(BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8)));
        }
        optionReply(opt, REP_ACK, null);
    }

    /** An option's data: an export name, then a list of items. */
    private record Named<T>(String name, List<T> items) { }

    /** Reads the items after the export name; throws on malformed data. */
    private interface Items<T> {
        List<T> read(ByteBuffer data);
    }

    /** Parses an option's data, or answers NBD_REP_ERR_INVALID with {@code malformed} and returns null. */
    private <T> Named<T> parse(int opt, ByteBuffer data, Items<T> items, String malformed) {
        try {
            String name = readString(data);
            return new Named<>(name, items.read(data));
        } catch (RuntimeException e) {
            optionReply(opt, REP_ERR_INVALID, errorText(malformed));
            return null;
        }
    }

    /** INFO/GO: a 16-bit count of NBD_INFO_* requests, then the requests, nothing after. */
    private static List<Integer> infoRequests(ByteBuffer data) {
        List<Integer> requests = new ArrayList<>();
        int n = Short.toUnsignedInt(data.getShort());
        if (data.remaining() != 2 * n) {
            throw new IllegalArgumentException();
        }
        for (int i = 0; i < n; i++) {
            requests.add(Short.toUnsignedInt(data.getShort()));
        }
        return requests;
    }

    /** LIST/SET_META_CONTEXT: a 32-bit count of queries, then the query strings, nothing after. */
    private static List<String> metaQueries(ByteBuffer data) {
        List<String> queries = new ArrayList<>();
        long n = Integer.toUnsignedLong(data.getInt());
        for (long i = 0; i < n; i++) {
            queries.add(readString(data));
        }
        if (data.hasRemaining()) {
            throw new IllegalArgumentException();
        }
        return queries;
    }

    /** The export named {@code name}, or null after answering NBD_REP_ERR_UNKNOWN. */
    private BlockDevice exportOrUnknown(int opt, String name) {
        Optional<BlockDevice> dev = server.resolve(name);
        if (dev.isEmpty()) {
            optionReply(opt, REP_ERR_UNKNOWN, errorText("no export named '" + name + "'"));
            return null;
        }
        return dev.get();
    }

    private static Buffer errorText(String text) {
        return Buffer.buffer(text);
    }

    private void optionReply(int opt, int type, Buffer data) {
        conn.send(NbdProtocol.optionReply(opt, type, data));
    }

    private int transmissionFlags(BlockDevice d) {
        int f = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_CACHE | TF_CAN_MULTI_CONN;
        if (d.readOnly()) {
            f |= TF_READ_ONLY;
        } else {
            f |= TF_SEND_FUA | TF_SEND_TRIM | TF_SEND_WRITE_ZEROES | TF_SEND_FAST_ZERO;
        }
        if (structured) {
            f |= TF_SEND_DF;
        }
        return f;
    }
}
