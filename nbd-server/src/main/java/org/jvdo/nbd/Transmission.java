package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.*;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jvdo.core.api.BlockDevice;

/**
 * The transmission phase of one connection, after the handshake produced its {@link Session}:
 * reads request headers, validates each request ({@link #validateRequest}), starts it on the
 * device ({@link #handleRequest}) and answers it exactly once through the {@link ReplyWriter}
 * (engine failures become NBD errors in {@link ErrorCodes}). Owns the request header being
 * handled and the idle timeout. Runs on the connection's context; device futures hop back to
 * it before a reply is written, so replies never interleave.
 */
final class Transmission {
    private static final Logger LOG = Logger.getLogger(Transmission.class.getName());

    private final NbdConnection conn;
    private final InputFramer input;
    private final Session session;
    private final ReplyWriter replies;
    /** Made once: waiting for a header allocates nothing. */
    private final InputFramer.Frame onHeader = this::onHeader;
    private final NbdServer server;
    private final BlockDevice device;

    Transmission(NbdConnection conn, InputFramer input, Session session) {
        this.conn = conn;
        this.input = input;
        this.server = conn.server();
        this.session = session;
        this.device = session.device();
        this.replies = new ReplyWriter(conn, session.structured());
    }

    /** Starts the idle timeout and waits for the first request. */
    void start() {
        long idle = server.options().idleTimeoutMillis;
        if (idle > 0) {
            conn.context().owner().setPeriodic(Math.max(50, Math.min(1000, idle / 4)), id -> {
                if (conn.socketClosed()) {
                    conn.context().owner().cancelTimer(id);
                    return;
                }
                if (conn.inflight() == 0 && !input.budgetWait()
                        && System.nanoTime() - input.lastInput() > idle * 1_000_000L) {
                    LOG.info("closing idle NBD connection " + conn.socket().remoteAddress() + " after " + idle + " ms");
                    conn.context().owner().cancelTimer(id);
                    conn.abort();
                }
            });
        }
        input.expectHeader(onHeader);
    }

    private void nextRequest() {
        if (!input.done()) {
            input.expectHeader(onHeader);
        }
    }

    // The request header being handled
    private int reqFlags;
    private int reqType;
    private long reqHandle;
    private long reqOffset;
    private long reqLength;

    private void onHeader(ByteBuffer b) {
        if (b.getInt() != REQUEST_MAGIC) {
            conn.abort();
            return;
        }
        reqFlags = Short.toUnsignedInt(b.getShort());
        reqType = Short.toUnsignedInt(b.getShort());
        reqHandle = b.getLong();
        reqOffset = b.getLong();
        reqLength = Integer.toUnsignedLong(b.getInt());
        startRequest();
    }

    /**
     * Starts the request whose header was just read. WRITE payloads and READ data reserve
     * their bytes in the server-wide budget before any buffer is allocated (see
     * {@link InputFramer#receivePayload}), and a write that cannot be served is read and
     * dropped, then answered with an error.
     */
    private void startRequest() {
        final long handle = reqHandle;
        final long length = reqLength;
        if (reqType == CMD_WRITE) {
            int error = length > server.maxRequest() ? EINVAL : validateRequest(reqType, reqFlags, reqOffset, length);
            if (error != 0) {
                if (length > NbdServer.MAX_DISCARD) {
                    conn.abort();
                    return;
                }
                String why = length > server.maxRequest() ? "write payload too large" : "invalid request";
                discardThen(length, () -> replies.error(CMD_WRITE, handle, error, why));
                return;
            }
            if (length == 0) {
                handleRequest(ByteBuffer.allocate(0), 0);
                nextRequest();
                return;
            }
            input.receivePayload(length, (payload, held) -> {
                handleRequest(payload, held);
                nextRequest();
            }, () -> discardThen(length, () -> replies.error(CMD_WRITE, handle, ENOMEM, "out of memory")));
        } else if (reqType == CMD_READ && length > 0 && validateRequest(reqType, reqFlags, reqOffset, length) == 0) {
            input.reserve(length, () -> {
                handleRequest(null, length);
                nextRequest();
            });
        } else {
            handleRequest(null, 0);
            nextRequest();
        }
    }

    /** Reads and drops {@code bytes} of input, then runs {@code reply} and waits for the next header. */
    private void discardThen(long bytes, Runnable reply) {
        input.discardNow(bytes, () -> {
            reply.run();
            nextRequest();
        });
    }

    /**
     * The error a request gets without reaching the device, or 0 if it is valid: unknown
     * commands and flags, writes to a read-only export, sizes beyond what is served, BLOCK_STATUS
     * without a negotiated context, ranges outside the export.
     */
    private int validateRequest(int type, int flags, long offset, long length) {
        BlockDevice d = device;
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
        if (type == CMD_BLOCK_STATUS && (!session.structured() || !session.baseAllocation() || length == 0)) {
            return EINVAL;
        }
        if (offset < 0 || offset > d.size() || length > d.size() - offset) {
            return type == CMD_WRITE || type == CMD_WRITE_ZEROES ? ENOSPC : EINVAL;
        }
        return 0;
    }

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

    /**
     * Validates and starts one request; {@code payload} holds a WRITE's data and {@code held}
     * the bytes it reserved in the server budget (given back when it is answered). Every
     * request that gets here is answered exactly once: whatever the device throws (an Error
     * too), synchronously or through its future, becomes an error reply for this handle.
     */
    private void handleRequest(ByteBuffer payload, long held) {
        final int type = reqType;
        final int flags = reqFlags;
        final long handle = reqHandle;
        final long offset = reqOffset;
        final long length = reqLength;
        if (type == CMD_DISC) {
            server.budget().release(held);
            conn.disconnect();
            return;
        }
        final long bytes = held;
        conn.begin(bytes);
        BlockDevice d = device;
        CompletableFuture<?> f;
        boolean deviceTookPayload = false;
        try {
            int error = validateRequest(type, flags, offset, length);
            if (error != 0) {
                replies.error(type, handle, error, "invalid request");
                conn.end(bytes, held);
                return;
            }
            f = switch (type) {
                case CMD_READ -> {
                    startRead(handle, offset, (int) length, (flags & CMD_FLAG_DF) != 0, held);
                    yield null;
                }
                case CMD_WRITE -> {
                    CompletableFuture<Void> w = d.write(offset, payload, (flags & CMD_FLAG_FUA) != 0);
                    deviceTookPayload = w != null;
                    yield w;
                }
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
        // the payload array goes back to the pool only once the device's future has completed
        // (BlockDevice#write's contract), never after a synchronous throw (see PayloadPool)
        final boolean recycle = deviceTookPayload;
        f.whenComplete((v, err) -> conn.onContext(() -> {
            try {
                if (err == null) {
                    replies.simple(handle, 0);
                } else {
                    replies.error(type, handle, ErrorCodes.nbd(err), String.valueOf(err.getMessage()));
                }
            } finally {
                if (recycle) server.payloads().give(payload.array());
                conn.end(bytes, held);
            }
        }));
    }

    private void startRead(long handle, long offset, int length, boolean df, long held) {
        int header = replies.readHeaderSize();
        byte[] frame;
        try {
            // a pooled array (no zeroing); it goes back once the reply is written (see PayloadPool)
            frame = server.payloads().take(header + length);
        } catch (OutOfMemoryError e) {
            LOG.warning("no heap for a " + length + "-byte read; answering ENOMEM");
            replies.error(CMD_READ, handle, ENOMEM, "out of memory");
            conn.end(held, held);
            return;
        }
        CompletableFuture<Void> f;
        boolean deviceTookBuffer = false;
        try {
            ByteBuffer dst = ByteBuffer.wrap(frame, header, length).slice();
            f = device.read(offset, dst);
            if (f == null) {
                throw new IllegalStateException("device returned no future");
            }
            deviceTookBuffer = true;
        } catch (Throwable e) {
            f = CompletableFuture.failedFuture(e);
        }
        // as for WRITE payloads: never reused after a synchronous throw (the device might still hold it)
        final Runnable recycle = deviceTookBuffer ? () -> server.payloads().give(frame) : () -> { };
        f.whenComplete((v, err) -> conn.onContext(() -> {
            boolean replied = false;
            try {
                if (err != null) {
                    replies.error(CMD_READ, handle, ErrorCodes.nbd(err), String.valueOf(err.getMessage()));
                } else {
                    boolean split = session.structured() && !df && length > 0;
                    replied = true;
                    replies.read(handle, offset, length, frame, split ? zeroSegments(offset, length, frame, header) : null, recycle);
                }
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "read reply failed", t);
                replies.error(CMD_READ, handle, EIO, "internal error: " + t);
            } finally {
                if (!replied) recycle.run();
                conn.end(held, held);
            }
        }));
    }

    /**
     * Splits a read into runs of data and holes using the device's block status as a hint; a
     * run is a hole only if the bytes actually read there are all zero, so the reply always
     * matches the data read even when writes race with the read.
     */
    private List<ExtentWalk.Run> zeroSegments(long offset, int length, byte[] frame, int header) {
        // a hole run is all zero bytes and covers at least one block's piece of the read, so if
        // no piece is all zero there is none (the common case: no block-status walk at all)
        if (!anyZeroBlock(offset, length, frame, header)) {
            return null;
        }
        List<ExtentWalk.Run> out = new ArrayList<>();
        try {
            ExtentWalk.walk(device, offset, length, false, (pos, len, e) ->
                    (e.zero() || e.hole()) && allZero(frame, header + (int) pos, (int) len)
                            ? ReplyWriter.HOLE : ReplyWriter.DATA, out);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "block status failed; sending data", e);
        }
        long pos = ExtentWalk.end(out);
        if (pos < length) {
            ExtentWalk.add(out, pos, length - pos, ReplyWriter.DATA);
        }
        return out;
    }

    /** True if some 4 KiB block's piece of the read (clipped to it) holds only zero bytes. */
    private static boolean anyZeroBlock(long offset, int length, byte[] frame, int header) {
        int pos = 0;
        while (pos < length) {
            long at = offset + pos;
            int end = (int) Math.min(length, (at / 4096 + 1) * 4096 - offset);
            if (frame[header + pos] == 0 && allZero(frame, header + pos, end - pos)) {
                return true;
            }
            pos = end;
        }
        return false;
    }

    private static final byte[] ZEROS = new byte[4096];

    private static boolean allZero(byte[] b, int from, int len) {
        for (int i = from, end = from + len; i < end; i += ZEROS.length) {
            int n = Math.min(ZEROS.length, end - i);
            if (java.util.Arrays.mismatch(b, i, i + n, ZEROS, 0, n) >= 0) {
                return false;
            }
        }
        return true;
    }

    private void blockStatus(long handle, long offset, long length, boolean reqOne) {
        List<ExtentWalk.Run> runs = new ArrayList<>();
        int error = 0;
        String message = null;
        try {
            ExtentWalk.walk(device, offset, length, reqOne,
                    (pos, len, e) -> (e.hole() ? STATE_HOLE : 0) | (e.zero() ? STATE_ZERO : 0), runs);
        } catch (Throwable e) {
            error = ErrorCodes.nbd(e);
            message = String.valueOf(e.getMessage());
        }
        if (error == 0 && runs.isEmpty()) {
            error = EIO;
            message = "device returned no block status";
        }
        final int err = error;
        final String msg = message;
        conn.onContext(() -> {
            try {
                if (err != 0) {
                    replies.error(CMD_BLOCK_STATUS, handle, err, msg);
                } else {
                    replies.blockStatus(handle, runs);
                }
            } finally {
                conn.end(0, 0);
            }
        });
    }
}
