package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.*;

import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Encodes and writes the transmission phase's replies for one connection: simple replies,
 * structured READ chunks (data and holes), block status and error chunks. Owns only whether
 * structured replies were negotiated; writes go through {@link NbdConnection#write}, which
 * drops them once the socket is closed. Runs on the connection's context.
 */
final class ReplyWriter {
    /** A run state for {@link #read}: these bytes go as NBD_REPLY_TYPE_OFFSET_HOLE. */
    static final int HOLE = 1;
    static final int DATA = 0;

    private final NbdConnection conn;
    private final boolean structured;

    ReplyWriter(NbdConnection conn, boolean structured) {
        this.conn = conn;
        this.structured = structured;
    }

    void simple(long handle, int error) {
        conn.write(simpleReply(handle, error));
    }

    /** A failed request: an error chunk where structured replies may carry one, else a simple reply. */
    void error(int type, long handle, int error, String message) {
        if (structured && (type == CMD_READ || type == CMD_BLOCK_STATUS)) {
            conn.write(errorChunk(handle, error, message));
        } else {
            simple(handle, error);
        }
    }

    /** The bytes in front of READ data in its reply frame (a simple reply or one data chunk header). */
    int readHeaderSize() {
        return structured ? CHUNK_HEADER_SIZE + 8 : SIMPLE_REPLY_SIZE;
    }

    /**
     * A successful READ whose data sits in {@code frame} after {@link #readHeaderSize()} bytes;
     * {@code segments} (null: all data) says which runs are holes, for structured replies. The
     * frame is not copied here: the reply wraps the array (netty copies it once, into direct
     * memory, when it writes), so {@code written} runs once the socket is done with it (or at
     * once if the reply is dropped), and only then may the array be reused.
     */
    void read(long handle, long offset, int length, byte[] frame, List<ExtentWalk.Run> segments, Runnable written) {
        int header = readHeaderSize();
        if (!structured) {
            putSimpleReply(frame, handle);
            conn.write(wrap(frame, header + length), written);
            return;
        }
        if (length == 0) {
            conn.write(chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_NONE, handle, 0));
            written.run();
            return;
        }
        if (segments == null || segments.size() == 1 && segments.get(0).state == DATA) {
            // one data chunk, its header written in place in front of the data
            ByteBuffer.wrap(frame).putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE)
                    .putShort((short) REPLY_TYPE_OFFSET_DATA).putLong(handle).putInt(8 + length).putLong(offset);
            conn.write(wrap(frame, header + length), written);
            return;
        }
        // data and holes: a copy into one buffer (the rarer case; a composite of the frame's
        // slices would be copied by netty's nioBuffer() all the same)
        Buffer out = Buffer.buffer(64 + length);
        for (int i = 0; i < segments.size(); i++) {
            ExtentWalk.Run s = segments.get(i);
            int flags = i == segments.size() - 1 ? REPLY_FLAG_DONE : 0;
            int rel = (int) s.start;
            int len = (int) s.length;
            if (s.state == HOLE) {
                out.appendBuffer(chunkHeader(flags, REPLY_TYPE_OFFSET_HOLE, handle, 12))
                        .appendLong(offset + rel).appendInt(len);
            } else {
                out.appendBuffer(chunkHeader(flags, REPLY_TYPE_OFFSET_DATA, handle, 8 + len))
                        .appendLong(offset + rel).appendBytes(frame, header + rel, len);
            }
        }
        conn.write(out);
        written.run();
    }

    /**
     * The first {@code length} bytes of {@code frame} as a reply, wrapped, not copied (Vert.x's
     * {@code Buffer.buffer(byte[])} copies). {@code BufferInternal} is Vert.x's internal API for
     * wrapping a netty buffer.
     */
    private static Buffer wrap(byte[] frame, int length) {
        return BufferInternal.buffer(Unpooled.wrappedBuffer(frame, 0, length));
    }

    /** NBD_CMD_BLOCK_STATUS's one chunk: a base:allocation descriptor per run (length, NBD_STATE_*). */
    void blockStatus(long handle, List<ExtentWalk.Run> runs) {
        Buffer desc = Buffer.buffer();
        for (ExtentWalk.Run r : runs) {
            desc.appendInt((int) r.length).appendInt(r.state);
        }
        conn.write(chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, handle, 4 + desc.length())
                .appendInt(BASE_ALLOCATION_ID).appendBuffer(desc));
    }
}
