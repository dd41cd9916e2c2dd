package org.jvdo.nbd;

import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Input framing for one connection: turns the socket's byte stream into the frames the
 * handshake and the transmission phase ask for, never blocking the event loop. Owns the input
 * not consumed yet, the buffer being filled (the one reused 28-byte request header buffer, an
 * option or a WRITE payload), input being dropped, the payload's reservation in the
 * server-wide {@link MemoryBudget} and the socket's pause/resume (back-pressure: too many
 * requests or bytes in flight, the write queue full, or waiting for the budget). A WRITE
 * payload that finds no heap is answered ENOMEM by the caller's fallback. Runs only on the
 * connection's context (budget grants hop to it).
 *
 * <p>At NBD_OPT_STARTTLS the framer holds ({@link #holdForTls()}): nothing is parsed until the
 * socket is TLS, and plaintext arriving meanwhile closes the connection, so no byte read before
 * the upgrade is ever taken as if it came through TLS (the STARTTLS injection of SMTP's history).
 */
final class InputFramer {
    private static final Logger LOG = Logger.getLogger(InputFramer.class.getName());

    /** Receives a complete frame, flipped for reading. */
    interface Frame {
        void complete(ByteBuffer bytes);
    }

    /** Receives a WRITE payload and the budget bytes it holds (given back when it is answered). */
    interface Payload {
        void received(ByteBuffer payload, long held);
    }

    /** TLS_WAIT: STARTTLS was acknowledged, the socket is being upgraded; nothing is parsed. */
    private enum Mode { READ, BUDGET_WAIT, DISCARD, TLS_WAIT, DONE }

    private final NbdConnection conn;
    private Mode mode = Mode.READ;
    /** The bytes the current frame waits for; full means the frame is complete. */
    private ByteBuffer target;
    private Frame onFrame;
    private long discardRemaining;
    private Runnable afterDiscard;
    /** Reused for every request header: reading a header never allocates. */
    private final ByteBuffer header = ByteBuffer.allocate(NbdProtocol.REQUEST_HEADER_SIZE);
    /** Budget bytes reserved for the WRITE payload being received. */
    private long payloadBudget;
    /** Whether the socket is paused (per-connection pressure or waiting for the server budget). */
    private boolean paused;
    /** Per-connection back-pressure: too many requests or bytes in flight, or the write queue full. */
    private boolean pressured;
    /** Waiting for the server-wide payload budget; input is not read meanwhile. */
    private boolean budgetWait;
    private long lastInput = System.nanoTime();
    private Buffer pending;
    private int pendingPos;
    private boolean processing;

    InputFramer(NbdConnection conn) {
        this.conn = conn;
    }

    /** Whether input ended for good (the connection is closing or closed). */
    boolean done() { return mode == Mode.DONE; }
    /** Reads no more input. */
    void stop() { mode = Mode.DONE; }
    boolean paused() { return paused; }
    boolean budgetWait() { return budgetWait; }
    /** When input last arrived ({@link System#nanoTime()}). */
    long lastInput() { return lastInput; }

    /** Whether input was received that no frame consumed yet (bytes the client sent ahead). */
    boolean hasUnread() {
        return pending != null && pendingPos < pending.length();
    }

    /**
     * Parses nothing until {@link #tlsReady()}: the socket is being upgraded to TLS. Input that
     * arrives before the socket is TLS is plaintext the client sent after STARTTLS without
     * waiting for its reply, and closes the connection.
     */
    void holdForTls() {
        mode = Mode.TLS_WAIT;
        target = null;
    }

    /** The socket is TLS now: parses what arrived through it meanwhile (call after choosing the next frame). */
    void tlsReady() {
        if (pending != null && !paused) {
            process();
        }
    }

    /** Waits for {@code bytes} bytes; the state changes only once the buffer exists. */
    void expect(int bytes, Frame then) {
        ByteBuffer b = ByteBuffer.allocate(bytes);
        target = b;
        onFrame = then;
        mode = Mode.READ;
    }

    /** Waits for a request header, read into the one reused header buffer. */
    void expectHeader(Frame then) {
        header.clear();
        target = header;
        onFrame = then;
        mode = Mode.READ;
    }

    /** Reads and drops {@code bytes} of input, then runs {@code then} (which picks what comes next). */
    void discard(long bytes, Runnable then) {
        mode = Mode.DISCARD;
        discardRemaining = bytes;
        afterDiscard = then;
        target = null;
    }

    /** {@link #discard}, and at once if there is nothing to drop. */
    void discardNow(long bytes, Runnable then) {
        discard(bytes, then);
        if (bytes == 0) {
            afterDiscard.run();
        }
    }

    /**
     * Reserves {@code length} bytes in the server budget, then allocates the payload buffer
     * and reads the payload into it (the payload is read only into a buffer allocated for it);
     * without heap for it the reservation goes back and {@code noMemory} runs instead.
     */
    void receivePayload(long length, Payload then, Runnable noMemory) {
        reserve(length, () -> {
            ByteBuffer payload;
            try {
                payload = ByteBuffer.wrap(conn.server().payloads().take((int) length), 0, (int) length);
            } catch (OutOfMemoryError e) {
                conn.server().budget().release(length);
                LOG.warning("no heap for a " + length + "-byte write payload; answering ENOMEM");
                noMemory.run();
                return;
            }
            payloadBudget = length;
            target = payload;
            onFrame = b -> {
                long held = payloadBudget;
                payloadBudget = 0;
                then.received(b, held);
            };
            mode = Mode.READ;
        });
    }

    /**
     * Reserves {@code bytes} in the server budget, then runs {@code granted} on this context;
     * until then the socket is paused and nothing more is parsed.
     */
    void reserve(long bytes, Runnable granted) {
        mode = Mode.BUDGET_WAIT;
        target = null;
        budgetWait = true;
        MemoryBudget budget = conn.server().budget();
        budget.acquire(bytes, () -> conn.onContext(() -> {
            if (conn.socketClosed() || mode != Mode.BUDGET_WAIT) {
                budget.release(bytes);
                return;
            }
            budgetWait = false;
            try {
                granted.run();
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "closing connection after internal error", t);
                if (mode == Mode.BUDGET_WAIT) {
                    budget.release(bytes);
                }
                conn.abort();
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

    void onData(Buffer buf) {
        lastInput = System.nanoTime();
        if (mode == Mode.TLS_WAIT && !conn.socket().isSsl()) {
            LOG.info("closing connection from " + conn.socket().remoteAddress()
                    + ": plaintext sent after NBD_OPT_STARTTLS before the TLS handshake");
            conn.abort();
            return;
        }
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
            while (pending != null && !paused && !budgetWait && mode != Mode.DONE && mode != Mode.TLS_WAIT
                    && !conn.draining()) {
                Buffer buf = pending;
                int len = buf.length();
                if (pendingPos >= len) {
                    pending = null;
                    break;
                }
                if (mode == Mode.DISCARD) {
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
                        onFrame.complete(target);
                    } catch (Throwable e) {
                        // whatever failed (an OutOfMemoryError too), no bytes of this input are
                        // ever dispatched: the connection goes, requests in flight still answer
                        LOG.log(Level.WARNING, "closing connection after internal error", e);
                        conn.abort();
                    }
                }
            }
            if (mode == Mode.DONE || conn.draining()) {
                pending = null;
            }
        } finally {
            processing = false;
        }
    }

    /** Pauses or resumes the socket for the requests and bytes in flight, the write queue and the budget. */
    void updatePressure() {
        if (conn.socketClosed() || conn.draining()) {
            return;
        }
        boolean full = conn.socket().writeQueueFull();
        int inflight = conn.inflight();
        long inflightBytes = conn.inflightBytes();
        if (!pressured) {
            pressured = inflight > NbdServer.MAX_INFLIGHT_REQUESTS || inflightBytes > NbdServer.MAX_INFLIGHT_BYTES || full;
        } else if (inflight <= NbdServer.MAX_INFLIGHT_REQUESTS / 2
                && inflightBytes <= NbdServer.MAX_INFLIGHT_BYTES / 2 && !full) {
            pressured = false;
        }
        boolean pause = pressured || budgetWait;
        if (pause && !paused) {
            paused = true;
            conn.socket().pause();
        } else if (!pause && paused) {
            paused = false;
            conn.socket().resume();
            if (pending != null) {
                conn.context().runOnContext(v -> process());
            }
        }
    }

    /** The socket closed: drops what was buffered and gives back a payload reservation that will never be used. */
    void closed() {
        mode = Mode.DONE;
        pending = null;
        target = null;
        if (payloadBudget > 0) {
            conn.server().budget().release(payloadBudget); // a write payload that will never arrive
            payloadBudget = 0;
        }
    }
}
