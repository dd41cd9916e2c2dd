package org.jvdo.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.net.StreamChannelInternal;
import io.vertx.core.net.NetSocket;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client connection's state and lifecycle: the socket, its {@link InputFramer}, the phase
 * it is in (a {@link Handshake} until it produces a {@link Session}, then a
 * {@link Transmission}), the requests and payload bytes in flight, and closing (draining,
 * forced, or by the peer).
 *
 * <p>Threads: everything here, in the framer, the handshake and the transmission runs on the
 * connection's Vert.x context (one event loop; the handshake and idle timers fire there too),
 * so none of this state is locked. Other threads
 * touch a connection in three ways only: device futures and {@link MemoryBudget} grants complete
 * on any thread and hop to the context ({@link #onContext}) before they read or write state;
 * the server and the admin API read {@link #exportName()} (volatile) from any thread; and the
 * server calls {@link #shutdown()} / {@link #forceClose()} (and tests' {@code NbdServer.probe})
 * through {@code context().runOnContext}.
 *
 * <p>Lock order: the connection holds no lock of its own. The only monitors its code enters are
 * the {@link MemoryBudget}'s (briefly, inside acquire/release; grants run after it is left, and
 * the connection calls the budget with no other lock held; a release that wakes another
 * connection's grant only posts it to that connection's context) and whatever the device takes
 * inside its own calls; no lock is held across a call into the device or the socket.
 */
final class NbdConnection {
    private static final Logger LOG = Logger.getLogger(NbdConnection.class.getName());

    private final NbdServer server;
    private final NetSocket socket;
    private final Context context;
    private final Promise<Void> finished = Promise.promise();
    private final InputFramer input = new InputFramer(this);
    private final Handshake handshake;
    /** Null during the handshake. */
    private Transmission transmission;
    /** The export this connection picked, readable from any thread (admin API). */
    private volatile String exportName;

    private int inflight;
    private long inflightBytes;
    private boolean socketClosed;
    private boolean draining;
    /** A flush of written replies is queued on the event loop. */
    private boolean flushQueued;
    private ChannelHandlerContext channel;

    NbdConnection(NbdServer server, NetSocket socket, Context context) {
        this.server = server;
        this.socket = socket;
        this.context = context;
        this.handshake = new Handshake(this, input);
    }

    /** Completes when the socket is closed and every request it started has finished. */
    Future<Void> finished() {
        return finished.future();
    }

    void start() {
        LOG.info(() -> "NBD connection opened from " + socket.remoteAddress());
        socket.handler(input::onData);
        socket.closeHandler(v -> onClosed());
        socket.exceptionHandler(t -> LOG.log(Level.FINE, "connection error", t));
        socket.drainHandler(v -> input.updatePressure());
        handshake.start();
    }

    /** Called when the handshake picked an export: transmission begins. */
    void transmissionStarts(Session session) {
        exportName = session.exportName();
        LOG.info(() -> "NBD connection from " + socket.remoteAddress() + " serves export '" + exportName + "'");
        handshake.cancelTimer();
        transmission = new Transmission(this, input, session);
        transmission.start();
    }

    /** Closes the socket now, whatever is in flight (the server's close timeout ran out). */
    void forceClose() {
        draining = true;
        input.stop();
        closeSocket();
    }

    /** Stops reading, lets in-flight requests finish, then closes. Must run on the context. */
    void shutdown() {
        draining = true;
        socket.pause();
        if (transmission == null || inflight == 0) {
            closeSocket();
        }
    }

    /** NBD_CMD_DISC: reads no more, closes once what is in flight was answered. */
    void disconnect() {
        input.stop();
        draining = true;
        socket.pause();
        if (inflight == 0) {
            closeSocket();
        }
    }

    Context context() { return context; }
    NbdServer server() { return server; }
    NetSocket socket() { return socket; }

    /** The export picked by NBD_OPT_GO or NBD_OPT_EXPORT_NAME, or null during the handshake. */
    String exportName() {
        return exportName;
    }

    /** Past the handshake. */
    boolean inTransmission() { return transmission != null; }
    boolean socketClosed() { return socketClosed; }
    /** Reading no more: in-flight requests finish, then the socket closes. */
    boolean draining() { return draining; }
    /** The socket is paused by back-pressure or a budget wait. */
    boolean inputPaused() { return input.paused(); }
    int inflight() { return inflight; }
    long inflightBytes() { return inflightBytes; }

    /** A request starts: {@code bytes} count against the connection's back-pressure. */
    void begin(long bytes) {
        inflight++;
        inflightBytes += bytes;
        input.updatePressure();
    }

    /** A request is answered: {@code bytes} leave the connection's count, {@code held} the server budget. */
    void end(long bytes, long held) {
        inflight--;
        inflightBytes -= bytes;
        if (held > 0) {
            server.budget().release(held);
        }
        input.updatePressure();
        if (inflight == 0 && draining) {
            closeSocket();
        }
        maybeFinished();
    }

    void onContext(Runnable r) {
        if (Vertx.currentContext() == context) {
            r.run();
        } else {
            context.runOnContext(v -> r.run());
        }
    }

    /** Writes during the handshake (the socket is open while options are read). */
    void send(Buffer b) {
        socket.write(b);
    }

    /** Writes a reply; after the socket closed, or if the write itself fails, the reply is dropped. */
    void write(Buffer b) {
        write(b, null);
    }

    /**
     * Writes a reply whose buffer wraps an array someone will reuse: {@code written} runs once
     * the socket is done with it (written, failed, or dropped because the socket is closed).
     *
     * <p>Replies are written to the channel without a flush; one flush, queued behind the tasks
     * already waiting on the event loop, sends every reply written until it runs. Replies come
     * back from the engine's threads one task each, and a flush per reply made a {@code write}
     * system call per reply (most of the event loop's time under 4k random reads); now the
     * replies that complete while the loop is busy leave in one. The flush runs before the
     * socket is closed, too, so no written reply is lost to a close. (Vert.x flushes each
     * {@code NetSocket.write} made outside its own read, hence netty's context here.)
     */
    void write(Buffer b, Runnable written) {
        if (socketClosed) {
            if (written != null) written.run();
            return;
        }
        try {
            ChannelHandlerContext ctx = channel();
            if (!ctx.executor().inEventLoop()) {   // not expected (replies hop to the context): Vert.x's own path
                Future<Void> f = socket.write(b);
                if (written != null) f.onComplete(r -> written.run());
                return;
            }
            ByteBuf buf = ((BufferInternal) b).getByteBuf();
            if (written == null) {
                ctx.write(buf, ctx.voidPromise());
            } else {
                ctx.write(buf).addListener(f -> written.run());
            }
            if (!flushQueued) {
                flushQueued = true;
                ctx.executor().execute(this::flushReplies);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "reply dropped", e);
            if (written != null) written.run();
        }
    }

    /** Sends the replies written since the last flush. */
    private void flushReplies() {
        if (!flushQueued) return;
        flushQueued = false;
        channel().flush();
    }

    private ChannelHandlerContext channel() {
        if (channel == null) channel = ((StreamChannelInternal) socket).channelHandlerContext();
        return channel;
    }

    /** Reads no more and closes the socket (a protocol violation, a timeout, an internal error). */
    void abort() {
        input.stop();
        closeSocket();
    }

    /** NBD_OPT_ABORT: reads no more and closes once the ACK is written. */
    void closeAfterWrites() {
        input.stop();
        flushReplies();
        socket.end();
    }

    private void closeSocket() {
        if (!socketClosed) {
            flushReplies();
            socket.close();
        }
    }

    private void onClosed() {
        LOG.info(() -> "NBD connection from " + socket.remoteAddress() + " closed"
                + (exportName == null ? " during the handshake" : " (export '" + exportName + "')"));
        socketClosed = true;
        input.closed();
        handshake.cancelTimer();
        maybeFinished();
    }

    private void maybeFinished() {
        if (socketClosed && inflight == 0) {
            finished.tryComplete();
        }
    }
}
