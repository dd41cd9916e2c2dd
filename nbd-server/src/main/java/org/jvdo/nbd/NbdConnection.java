package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.*;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;

/**
 * One client connection: an incremental parser (a small state machine fed by socket buffers,
 * never blocking the event loop) for the handshake and the transmission phase, and the request
 * dispatcher. Everything here runs on the connection's Vert.x context; device futures that
 * complete elsewhere hop back to it before a reply is written, so replies never interleave.
 */
final class NbdConnection {
    private static final Logger LOG = Logger.getLogger(NbdConnection.class.getName());

    private enum State { CLIENT_FLAGS, OPT_HEADER, OPT_DATA, REQ_HEADER, BUDGET_WAIT, WRITE_PAYLOAD, DISCARD, DONE }

    private final NbdServer server;
    private final NetSocket socket;
    private final Context context;
    private final Promise<Void> finished = Promise.promise();

    private State state;
    /** The bytes the current state waits for; full means the state is complete. */
    private ByteBuffer target;
    private long discardRemaining;
    private Runnable afterDiscard;

    private boolean noZeroes;
    private boolean structured;
    private boolean baseAllocation;
    private BlockDevice device;
    /** The export this connection picked, readable from any thread (admin API). */
    private volatile String exportName;

    // Current option / request header
    private int option;
    private int reqFlags;
    private int reqType;
    private long reqHandle;
    private long reqOffset;
    private long reqLength;

    /** Reused for every request header: reading a header never allocates. */
    private final ByteBuffer header = ByteBuffer.allocate(REQUEST_HEADER_SIZE);
    /** Budget bytes reserved for the WRITE payload being received. */
    private long payloadBudget;
    private int inflight;
    private long inflightBytes;
    /** Whether the socket is paused (per-connection pressure or waiting for the server budget). */
    private boolean paused;
    /** Per-connection back-pressure: too many requests or bytes in flight, or the write queue full. */
    private boolean pressured;
    /** Waiting for the server-wide payload budget; input is not read meanwhile. */
    private boolean budgetWait;
    private long handshakeTimer = -1;
    private long idleTimer = -1;
    private long lastInput = System.nanoTime();
    private Buffer pending;
    private int pendingPos;
    private boolean processing;
    private boolean socketClosed;
    private boolean draining;

    NbdConnection(NbdServer server, NetSocket socket, Context context) {
        this.server = server;
        this.socket = socket;
        this.context = context;
    }

    /** Completes when the socket is closed and every request it started has finished. */
    Future<Void> finished() {
        return finished.future();
    }

    void start() {
        socket.handler(this::onData);
        socket.closeHandler(v -> onClosed());
        socket.exceptionHandler(t -> LOG.log(Level.FINE, "connection error", t));
        socket.drainHandler(v -> updatePressure());
        Buffer hello = Buffer.buffer(18)
                .appendLong(NBDMAGIC)
                .appendLong(IHAVEOPT)
                .appendShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        socket.write(hello);
        expect(State.CLIENT_FLAGS, 4);
        long hs = server.options().handshakeTimeoutMillis;
        if (hs > 0) {
            handshakeTimer = context.owner().setTimer(hs, id -> {
                handshakeTimer = -1;
                if (device == null && !socketClosed) {
                    LOG.info("dropping NBD client " + socket.remoteAddress() + ": no handshake within " + hs + " ms");
                    abort();
                }
            });
        }
    }

    /** Called when the handshake picked a device: transmission begins. */
    private void transmissionStarts() {
        if (handshakeTimer >= 0) {
            context.owner().cancelTimer(handshakeTimer);
            handshakeTimer = -1;
        }
        long idle = server.options().idleTimeoutMillis;
        if (idle > 0 && idleTimer < 0) {
            lastInput = System.nanoTime();
            idleTimer = context.owner().setPeriodic(Math.max(50, Math.min(1000, idle / 4)), id -> {
                if (socketClosed) {
                    context.owner().cancelTimer(id);
                    return;
                }
                if (inflight == 0 && !budgetWait && System.nanoTime() - lastInput > idle * 1_000_000L) {
                    LOG.info("closing idle NBD connection " + socket.remoteAddress() + " after " + idle + " ms");
                    context.owner().cancelTimer(id);
                    abort();
                }
            });
        }
    }

    /** Closes the socket now, whatever is in flight (the server's close timeout ran out). */
    void forceClose() {
        draining = true;
        state = State.DONE;
        closeSocket();
    }

    /** Stops reading, lets in-flight requests finish, then closes. Must run on the context. */
    void shutdown() {
        draining = true;
        socket.pause();
        if (device == null || inflight == 0) {
            closeSocket();
        }
    }

    Context context() {
        return context;
    }

    /** The export picked by NBD_OPT_GO or NBD_OPT_EXPORT_NAME, or null during the handshake. */
    String exportName() {
        return exportName;
    }

    // ------------------------------------------------------------------ input

    /** Waits for {@code bytes} bytes in state {@code next}; the state changes only once the buffer exists. */
    private void expect(State next, int bytes) {
        ByteBuffer b = ByteBuffer.allocate(bytes);
        target = b;
        state = next;
    }

    private void expectHeader() {
        header.clear();
        target = header;
        state = State.REQ_HEADER;
    }

    private void onData(Buffer buf) {
        lastInput = System.nanoTime();
        if (pending == null) {
            pending = buf;
            pendingPos = 0;
        } else {
            pending = pending.getBuffer(pendingPos, pending.length()).appendBuffer(buf);
            pendingPos = 0;
        }
        process();
    }

    /**
     * Consumes buffered input until it runs out or back-pressure pauses the connection; input
     * left over while paused waits in {@link #pending} until {@link #updatePressure()} resumes.
     */
    private void process() {
        if (processing) {
            return;
        }
        processing = true;
        try {
            while (pending != null && !paused && !budgetWait && state != State.DONE && !draining) {
                Buffer buf = pending;
                int len = buf.length();
                if (pendingPos >= len) {
                    pending = null;
                    break;
                }
                if (state == State.DISCARD) {
                    int k = (int) Math.min(len - pendingPos, discardRemaining);
                    pendingPos += k;
                    discardRemaining -= k;
                    if (discardRemaining == 0) {
                        afterDiscard.run();
                    }
                    continue;
                }
                int k = Math.min(len - pendingPos, target.remaining());
                buf.getBytes(pendingPos, pendingPos + k, target.array(), target.arrayOffset() + target.position());
                target.position(target.position() + k);
                pendingPos += k;
                if (!target.hasRemaining()) {
                    target.flip();
                    try {
                        stepComplete();
                    } catch (Throwable e) {
                        // whatever failed (an OutOfMemoryError too), no bytes of this input are
                        // ever dispatched: the connection goes, requests in flight still answer
                        LOG.log(Level.WARNING, "closing connection after internal error", e);
                        abort();
                    }
                }
            }
            if (state == State.DONE || draining) {
                pending = null;
            }
        } finally {
            processing = false;
        }
    }

    private void stepComplete() {
        ByteBuffer b = target;
        switch (state) {
            case CLIENT_FLAGS -> {
                int flags = b.getInt();
                if ((flags & ~CLIENT_FLAGS_KNOWN) != 0) {
                    abort();
                    return;
                }
                noZeroes = (flags & FLAG_NO_ZEROES) != 0;
                expect(State.OPT_HEADER, 16);
            }
            case OPT_HEADER -> {
                if (b.getLong() != IHAVEOPT) {
                    abort();
                    return;
                }
                option = b.getInt();
                long length = Integer.toUnsignedLong(b.getInt());
                if (length > NbdServer.MAX_OPTION_LENGTH) {
                    if (option == OPT_EXPORT_NAME || length > NbdServer.MAX_OPTION_DISCARD) {
                        abort();
                        return;
                    }
                    discard(length, () -> {
                        optionReply(option, REP_ERR_TOO_BIG, errorText("option too long"));
                        expect(State.OPT_HEADER, 16);
                    });
                    return;
                }
                expect(State.OPT_DATA, (int) length);
                if (length == 0) {
                    target.flip();
                    stepComplete();
                }
            }
            case OPT_DATA -> handleOption(option, b);
            case REQ_HEADER -> {
                if (b.getInt() != REQUEST_MAGIC) {
                    abort();
                    return;
                }
                reqFlags = Short.toUnsignedInt(b.getShort());
                reqType = Short.toUnsignedInt(b.getShort());
                reqHandle = b.getLong();
                reqOffset = b.getLong();
                reqLength = Integer.toUnsignedLong(b.getInt());
                startRequest();
            }
            case WRITE_PAYLOAD -> {
                long held = payloadBudget;
                payloadBudget = 0;
                dispatch(b, held);
                if (state != State.DONE) {
                    expectHeader();
                }
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    /**
     * Starts the request whose header was just read. WRITE payloads and READ data reserve
     * their bytes in the server-wide budget before any buffer is allocated; the payload is read
     * only into a buffer allocated for it (state WRITE_PAYLOAD is entered only after the
     * allocation succeeded), and a write that cannot be served is read and dropped, then
     * answered with an error.
     */
    private void startRequest() {
        final long handle = reqHandle;
        final long length = reqLength;
        if (reqType == CMD_WRITE) {
            int error = length > server.maxRequest() ? EINVAL : validate(reqType, reqFlags, reqOffset, length, device);
            if (error != 0) {
                if (length > NbdServer.MAX_DISCARD) {
                    abort();
                    return;
                }
                String why = length > server.maxRequest() ? "write payload too large" : "invalid request";
                discardThen(length, () -> finishWithError(CMD_WRITE, handle, error, why));
                return;
            }
            if (length == 0) {
                dispatch(ByteBuffer.allocate(0), 0);
                if (state != State.DONE) {
                    expectHeader();
                }
                return;
            }
            reserve(length, () -> {
                ByteBuffer payload;
                try {
                    payload = ByteBuffer.allocate((int) length);
                } catch (OutOfMemoryError e) {
                    server.budget().release(length);
                    LOG.warning("no heap for a " + length + "-byte write payload; answering ENOMEM");
                    discardThen(length, () -> finishWithError(CMD_WRITE, handle, ENOMEM, "out of memory"));
                    return;
                }
                payloadBudget = length;
                target = payload;
                state = State.WRITE_PAYLOAD;
            });
        } else if (reqType == CMD_READ && length > 0
                && validate(reqType, reqFlags, reqOffset, length, device) == 0) {
            reserve(length, () -> {
                dispatch(null, length);
                if (state != State.DONE) {
                    expectHeader();
                }
            });
        } else {
            dispatch(null, 0);
            if (state != State.DONE) {
                expectHeader();
            }
        }
    }

    /** Reads and drops {@code bytes} of input, then runs {@code reply} and waits for the next header. */
    private void discardThen(long bytes, Runnable reply) {
        discard(bytes, () -> {
            reply.run();
            if (state != State.DONE) {
                expectHeader();
            }
        });
        if (bytes == 0) {
            afterDiscard.run();
        }
    }

    /**
     * Reserves {@code bytes} in the server budget, then runs {@code granted} on this context;
     * until then the socket is paused and nothing more is parsed.
     */
    private void reserve(long bytes, Runnable granted) {
        state = State.BUDGET_WAIT;
        target = null;
        budgetWait = true;
        server.budget().acquire(bytes, () -> onContext(() -> {
            if (socketClosed || state != State.BUDGET_WAIT) {
                server.budget().release(bytes);
                return;
            }
            budgetWait = false;
            try {
                granted.run();
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "closing connection after internal error", t);
                if (state == State.BUDGET_WAIT) {
                    server.budget().release(bytes);
                }
                abort();
                return;
            }
            updatePressure();
            if (pending != null && !paused) {
                process();
            }
        }));
        if (budgetWait) {
            updatePressure(); // pauses the socket
        }
    }

    private void discard(long bytes, Runnable then) {
        state = State.DISCARD;
        discardRemaining = bytes;
        afterDiscard = then;
        target = null;
    }

    // ------------------------------------------------------------------ handshake

    private void handleOption(int opt, ByteBuffer data) {
        if (server.isClosing() && opt != OPT_ABORT) {
            optionReply(opt, REP_ERR_SHUTDOWN, errorText("server shutting down"));
            expect(State.OPT_HEADER, 16);
            return;
        }
        switch (opt) {
            case OPT_EXPORT_NAME -> {
                String name = StandardCharsets.UTF_8.decode(data).toString();
                Optional<BlockDevice> dev = server.registry().resolve(name);
                if (dev.isEmpty()) {
                    abort();
                    return;
                }
                device = dev.get();
                exportName = device.name();
                transmissionStarts();
                Buffer reply = Buffer.buffer(noZeroes ? 10 : 134)
                        .appendLong(device.size())
                        .appendShort((short) transmissionFlags(device));
                if (!noZeroes) {
                    reply.appendBytes(new byte[124]);
                }
                socket.write(reply);
                expectHeader();
                return;
            }
            case OPT_ABORT -> {
                optionReply(opt, REP_ACK, null);
                state = State.DONE;
                socket.end();
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
            case OPT_STARTTLS -> optionReply(opt, REP_ERR_POLICY, errorText("TLS is not offered"));
            case OPT_INFO, OPT_GO -> {
                if (infoOrGo(opt, data)) {
                    expectHeader();
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
        expect(State.OPT_HEADER, 16);
    }

    /** Answers INFO or GO; returns true when GO succeeded and transmission begins. */
    private boolean infoOrGo(int opt, ByteBuffer data) {
        String name;
        List<Integer> requests = new ArrayList<>();
        try {
            name = readString(data);
            int n = Short.toUnsignedInt(data.getShort());
            if (data.remaining() != 2 * n) {
                throw new IllegalArgumentException();
            }
            for (int i = 0; i < n; i++) {
                requests.add(Short.toUnsignedInt(data.getShort()));
            }
        } catch (RuntimeException e) {
            optionReply(opt, REP_ERR_INVALID, errorText("malformed INFO/GO request"));
            return false;
        }
        Optional<BlockDevice> dev = server.registry().resolve(name);
        if (dev.isEmpty()) {
            optionReply(opt, REP_ERR_UNKNOWN, errorText("no export named '" + name + "'"));
            return false;
        }
        BlockDevice d = dev.get();
        optionReply(opt, REP_INFO, Buffer.buffer(12).appendShort((short) INFO_EXPORT)
                .appendLong(d.size()).appendShort((short) transmissionFlags(d)));
        if (requests.contains(INFO_NAME)) {
            optionReply(opt, REP_INFO, Buffer.buffer().appendShort((short) INFO_NAME)
                    .appendBytes(d.name().getBytes(StandardCharsets.UTF_8)));
        }
        if (requests.contains(INFO_DESCRIPTION)) {
            optionReply(opt, REP_INFO, Buffer.buffer().appendShort((short) INFO_DESCRIPTION)
                    .appendBytes(server.registry().description(d).getBytes(StandardCharsets.UTF_8)));
        }
        optionReply(opt, REP_INFO, Buffer.buffer(14).appendShort((short) INFO_BLOCK_SIZE)
                .appendInt(NbdServer.MIN_BLOCK).appendInt(NbdServer.PREFERRED_BLOCK)
                .appendInt(Math.min(NbdServer.MAX_PAYLOAD, server.maxRequest()))); // never more than is served
        optionReply(opt, REP_ACK, null);
        if (opt == OPT_GO) {
            device = d;
            exportName = d.name();
            transmissionStarts();
            return true;
        }
        return false;
    }

    private void metaContext(int opt, ByteBuffer data) {
        String exportName;
        List<String> queries = new ArrayList<>();
        try {
            exportName = readString(data);
            long n = Integer.toUnsignedLong(data.getInt());
            for (long i = 0; i < n; i++) {
                queries.add(readString(data));
            }
            if (data.hasRemaining()) {
                throw new IllegalArgumentException();
            }
        } catch (RuntimeException e) {
            optionReply(opt, REP_ERR_INVALID, errorText("malformed meta context request"));
            return;
        }
        if (opt == OPT_SET_META_CONTEXT && !structured) {
            optionReply(opt, REP_ERR_INVALID, errorText("structured replies not negotiated"));
            return;
        }
        if (server.registry().resolve(exportName).isEmpty()) {
            optionReply(opt, REP_ERR_UNKNOWN, errorText("no export named '" + exportName + "'"));
            return;
        }
        boolean match;
        if (opt == OPT_LIST_META_CONTEXT) {
            match = queries.isEmpty()
                    || queries.stream().anyMatch(q -> q.equals("base:") || q.equals(BASE_ALLOCATION));
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

    private static String readString(ByteBuffer data) {
        long len = Integer.toUnsignedLong(data.getInt());
        if (len > 4096 || len > data.remaining()) {
            throw new IllegalArgumentException("bad string length");
        }
        byte[] bytes = new byte[(int) len];
        data.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Buffer errorText(String text) {
        return Buffer.buffer(text);
    }

    private void optionReply(int opt, int type, Buffer data) {
        int len = data == null ? 0 : data.length();
        Buffer b = Buffer.buffer(20 + len).appendLong(OPTION_REPLY_MAGIC).appendInt(opt).appendInt(type)
                .appendInt(len);
        if (data != null) {
            b.appendBuffer(data);
        }
        socket.write(b);
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

    // ------------------------------------------------------------------ transmission

    /**
     * The command flags a request of {@code type} may carry. Once NBD_FLAG_SEND_FUA was
     * advertised (writable exports) the spec says FUA must be accepted on every command; on
     * READ, FLUSH, CACHE and BLOCK_STATUS it changes nothing.
     */
    private static int allowedFlags(int type, boolean fuaAdvertised) {
        int fua = fuaAdvertised ? CMD_FLAG_FUA : 0;
        return fua | switch (type) {
            case CMD_READ -> CMD_FLAG_DF;
            case CMD_WRITE, CMD_TRIM -> CMD_FLAG_FUA;
            case CMD_WRITE_ZEROES -> CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO;
            case CMD_BLOCK_STATUS -> CMD_FLAG_REQ_ONE;
            default -> 0;
        };
    }

    private void begin(long bytes) {
        inflight++;
        inflightBytes += bytes;
        updatePressure();
    }

    /** A request is answered: {@code bytes} leave the connection's count, {@code held} the server budget. */
    private void end(long bytes, long held) {
        inflight--;
        inflightBytes -= bytes;
        if (held > 0) {
            server.budget().release(held);
        }
        updatePressure();
        if (inflight == 0 && draining) {
            closeSocket();
        }
        maybeFinished();
    }

    private void updatePressure() {
        if (socketClosed || draining) {
            return;
        }
        boolean full = socket.writeQueueFull();
        if (!pressured) {
            pressured = inflight > NbdServer.MAX_INFLIGHT_REQUESTS || inflightBytes > NbdServer.MAX_INFLIGHT_BYTES || full;
        } else if (inflight <= NbdServer.MAX_INFLIGHT_REQUESTS / 2
                && inflightBytes <= NbdServer.MAX_INFLIGHT_BYTES / 2 && !full) {
            pressured = false;
        }
        boolean pause = pressured || budgetWait;
        if (pause && !paused) {
            paused = true;
            socket.pause();
        } else if (!pause && paused) {
            paused = false;
            socket.resume();
            if (pending != null) {
                context.runOnContext(v -> process());
            }
        }
    }

    /**
     * Validates and starts one request; {@code payload} holds a WRITE's data and {@code held}
     * the bytes it reserved in the server budget (given back when it is answered). Every
     * request that gets here is answered exactly once: whatever the device throws (an Error
     * too), synchronously or through its future, becomes an error reply for this handle.
     */
    private void dispatch(ByteBuffer payload, long held) {
        final int type = reqType;
        final int flags = reqFlags;
        final long handle = reqHandle;
        final long offset = reqOffset;
        final long length = reqLength;
        if (type == CMD_DISC) {
            server.budget().release(held);
            state = State.DONE;
            draining = true;
            socket.pause();
            if (inflight == 0) {
                closeSocket();
            }
            return;
        }
        final long bytes = held;
        begin(bytes);
        BlockDevice d = device;
        CompletableFuture<?> f;
        try {
            int error = validate(type, flags, offset, length, d);
            if (error != 0) {
                f = null;
                finishWithError(type, handle, error, "invalid request");
                end(bytes, held);
                return;
            }
            f = switch (type) {
                case CMD_READ -> {
                    startRead(handle, offset, (int) length, (flags & CMD_FLAG_DF) != 0, held);
                    yield null;
                }
                case CMD_WRITE -> d.write(offset, payload, (flags & CMD_FLAG_FUA) != 0);
                case CMD_FLUSH -> d.flush();
                case CMD_TRIM -> d.trim(offset, length, (flags & CMD_FLAG_FUA) != 0);
                case CMD_WRITE_ZEROES -> d.writeZeroes(offset, length, (flags & CMD_FLAG_NO_HOLE) != 0,
                        (flags & CMD_FLAG_FUA) != 0);
                case CMD_CACHE -> CompletableFuture.completedFuture(null);
                case CMD_BLOCK_STATUS -> {
                    blockStatus(handle, offset, length, (flags & CMD_FLAG_REQ_ONE) != 0);
                    yield null;
                }
                default -> throw new IllegalStateException();
            };
            if (f == null && type != CMD_READ && type != CMD_BLOCK_STATUS) {
                f = CompletableFuture.failedFuture(new IllegalStateException("device returned no future"));
            }
        } catch (Throwable e) {
            LOG.log(Level.FINE, "request failed synchronously", e);
            f = CompletableFuture.failedFuture(e);
        }
        if (f == null) {
            return; // the command replies and ends itself
        }
        f.whenComplete((v, err) -> onContext(() -> {
            try {
                if (err == null) {
                    simpleReply(handle, 0);
                } else {
                    finishWithError(type, handle, nbdError(err), String.valueOf(err.getMessage()));
                }
            } finally {
                end(bytes, held);
            }
        }));
    }

    private int validate(int type, int flags, long offset, long length, BlockDevice d) {
        if (type > CMD_BLOCK_STATUS) {
            return EINVAL;
        }
        if ((flags & ~allowedFlags(type, !d.readOnly())) != 0) {
            return EINVAL;
        }
        boolean modifies = type == CMD_WRITE || type == CMD_TRIM || type == CMD_WRITE_ZEROES;
        if (modifies && d.readOnly()) {
            return EPERM;
        }
        if (type == CMD_FLUSH) {
            return 0;
        }
        if ((type == CMD_READ || type == CMD_WRITE) && length > server.maxRequest()) {
            return EINVAL;
        }
        if (type == CMD_BLOCK_STATUS && (!structured || !baseAllocation || length == 0)) {
            return EINVAL;
        }
        if (offset < 0 || offset > d.size() || length > d.size() - offset) {
            return type == CMD_WRITE || type == CMD_WRITE_ZEROES ? ENOSPC : EINVAL;
        }
        return 0;
    }

    private void startRead(long handle, long offset, int length, boolean df, long held) {
        int header = structured ? 20 + 8 : 16;
        byte[] frame;
        try {
            frame = new byte[header + length];
        } catch (OutOfMemoryError e) {
            LOG.warning("no heap for a " + length + "-byte read; answering ENOMEM");
            finishWithError(CMD_READ, handle, ENOMEM, "out of memory");
            end(held, held);
            return;
        }
        CompletableFuture<Void> f;
        try {
            ByteBuffer dst = ByteBuffer.wrap(frame, header, length).slice();
            f = device.read(offset, dst);
            if (f == null) {
                throw new IllegalStateException("device returned no future");
            }
        } catch (Throwable e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, err) -> onContext(() -> {
            try {
                if (err != null) {
                    finishWithError(CMD_READ, handle, nbdError(err), String.valueOf(err.getMessage()));
                } else if (!structured) {
                    ByteBuffer.wrap(frame).putInt(SIMPLE_REPLY_MAGIC).putInt(0).putLong(handle);
                    write(Buffer.buffer(frame));
                } else {
                    structuredRead(handle, offset, length, df, frame, header);
                }
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "read reply failed", t);
                finishWithError(CMD_READ, handle, EIO, "internal error: " + t);
            } finally {
                end(held, held);
            }
        }));
    }

    private void structuredRead(long handle, long offset, int length, boolean df, byte[] frame, int header) {
        if (length == 0) {
            write(chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_NONE, handle, 0));
            return;
        }
        List<long[]> segments = df ? null : zeroSegments(offset, length, frame, header);
        if (segments == null || segments.size() == 1 && segments.get(0)[2] == 0) {
            // one data chunk, written in place in front of the data
            ByteBuffer.wrap(frame).putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE)
                    .putShort((short) REPLY_TYPE_OFFSET_DATA).putLong(handle).putInt(8 + length).putLong(offset);
            write(Buffer.buffer(frame));
            return;
        }
        Buffer out = Buffer.buffer(64 + length);
        for (int i = 0; i < segments.size(); i++) {
            long[] s = segments.get(i);
            int flags = i == segments.size() - 1 ? REPLY_FLAG_DONE : 0;
            int rel = (int) s[0];
            int len = (int) s[1];
            if (s[2] == 1) {
                out.appendBuffer(chunkHeader(flags, REPLY_TYPE_OFFSET_HOLE, handle, 12))
                        .appendLong(offset + rel).appendInt(len);
            } else {
                out.appendBuffer(chunkHeader(flags, REPLY_TYPE_OFFSET_DATA, handle, 8 + len))
                        .appendLong(offset + rel).appendBytes(frame, header + rel, len);
            }
        }
        write(out);
    }

    /**
     * Splits a read into runs of {start, length, isHole} using the device's block status as a
     * hint; a run is a hole only if the bytes actually read there are all zero, so the reply
     * always matches the data read even when writes race with the read.
     */
    private List<long[]> zeroSegments(long offset, int length, byte[] frame, int header) {
        List<long[]> out = new ArrayList<>();
        long pos = 0;
        try {
            while (pos < length) {
                List<BlockDevice.Extent> extents = device.blockStatus(offset + pos, length - pos);
                if (extents.isEmpty()) {
                    break;
                }
                for (BlockDevice.Extent e : extents) {
                    long len = Math.min(e.length(), length - pos);
                    if (len <= 0) {
                        break;
                    }
                    boolean hole = (e.zero() || e.hole())
                            && allZero(frame, header + (int) pos, (int) len);
                    addSegment(out, pos, len, hole);
                    pos += len;
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "block status failed; sending data", e);
        }
        if (pos < length) {
            addSegment(out, pos, length - pos, false);
        }
        return out;
    }

    private static void addSegment(List<long[]> out, long start, long len, boolean hole) {
        long kind = hole ? 1 : 0;
        if (!out.isEmpty()) {
            long[] last = out.get(out.size() - 1);
            if (last[2] == kind) {
                last[1] += len;
                return;
            }
        }
        out.add(new long[] {start, len, kind});
    }

    private static boolean allZero(byte[] b, int from, int len) {
        for (int i = from, end = from + len; i < end; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private void blockStatus(long handle, long offset, long length, boolean reqOne) {
        Buffer descriptors = Buffer.buffer();
        int count = 0;
        int error = 0;
        String message = null;
        long pos = 0;
        int lastState = -1;
        long lastLen = 0;
        try {
            outer:
            while (pos < length) {
                List<BlockDevice.Extent> extents = device.blockStatus(offset + pos, length - pos);
                if (extents.isEmpty()) {
                    break;
                }
                for (BlockDevice.Extent e : extents) {
                    long len = Math.min(e.length(), length - pos);
                    if (len <= 0) {
                        break outer;
                    }
                    int st = (e.hole() ? STATE_HOLE : 0) | (e.zero() ? STATE_ZERO : 0);
                    if (st == lastState) {
                        lastLen += len;
                    } else {
                        if (lastState >= 0) {
                            descriptors.appendInt((int) lastLen).appendInt(lastState);
                            count++;
                        }
                        lastState = st;
                        lastLen = len;
                    }
                    pos += len;
                    if (reqOne) {
                        break outer;
                    }
                }
            }
        } catch (Throwable e) {
            error = nbdError(e);
            message = String.valueOf(e.getMessage());
        }
        if (lastState >= 0) {
            descriptors.appendInt((int) lastLen).appendInt(lastState);
            count++;
        }
        if (error == 0 && count == 0) {
            error = EIO;
            message = "device returned no block status";
        }
        final int err = error;
        final String msg = message;
        final Buffer desc = descriptors;
        onContext(() -> {
            try {
                if (err != 0) {
                    finishWithError(CMD_BLOCK_STATUS, handle, err, msg);
                } else {
                    write(chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, handle, 4 + desc.length())
                            .appendInt(BASE_ALLOCATION_ID).appendBuffer(desc));
                }
            } finally {
                end(0, 0);
            }
        });
    }

    private static Buffer chunkHeader(int flags, int type, long handle, int length) {
        return Buffer.buffer(20 + 16).appendInt(STRUCTURED_REPLY_MAGIC).appendShort((short) flags)
                .appendShort((short) type).appendLong(handle).appendInt(length);
    }

    private void simpleReply(long handle, int error) {
        Buffer b = Buffer.buffer(16).appendInt(SIMPLE_REPLY_MAGIC).appendInt(error).appendLong(handle);
        write(b);
    }

    private void finishWithError(int type, long handle, int error, String message) {
        if (structured && (type == CMD_READ || type == CMD_BLOCK_STATUS)) {
            byte[] msg = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
            if (msg.length > 1024) {
                msg = java.util.Arrays.copyOf(msg, 1024);
            }
            write(chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_ERROR, handle, 6 + msg.length)
                    .appendInt(error).appendShort((short) msg.length).appendBytes(msg));
        } else {
            simpleReply(handle, error);
        }
    }

    /** Maps an engine failure to an NBD error number ({@link ErrorCodes#nbd}). */
    static int nbdError(Throwable t) { return ErrorCodes.nbd(t); }

    // ------------------------------------------------------------------ plumbing

    private void onContext(Runnable r) {
        if (Vertx.currentContext() == context) {
            r.run();
        } else {
            context.runOnContext(v -> r.run());
        }
    }

    /** Writes a reply; after the socket closed, or if the write itself fails, the reply is dropped. */
    private void write(Buffer b) {
        if (!socketClosed) {
            try {
                socket.write(b);
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "reply dropped", e);
            }
        }
    }

    private void abort() {
        state = State.DONE;
        closeSocket();
    }

    private void closeSocket() {
        if (!socketClosed) {
            socket.close();
        }
    }

    private void onClosed() {
        socketClosed = true;
        state = State.DONE;
        pending = null;
        target = null;
        if (payloadBudget > 0) {
            server.budget().release(payloadBudget); // a write payload that will never arrive
            payloadBudget = 0;
        }
        if (handshakeTimer >= 0) {
            context.owner().cancelTimer(handshakeTimer);
            handshakeTimer = -1;
        }
        maybeFinished();
    }

    private void maybeFinished() {
        if (socketClosed && inflight == 0) {
            finished.tryComplete();
        }
    }
}
