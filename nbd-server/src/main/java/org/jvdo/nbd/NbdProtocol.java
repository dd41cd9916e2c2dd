package org.jvdo.nbd;

import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The NBD wire format (doc/proto.md of the NBD project), all big-endian: every magic, option,
 * reply, info type, command, flag, error number, structured reply type, meta context and fixed
 * size the server speaks, and the small encoders for the replies built in more than one place.
 * Owns no state. The tests (same package) build requests and check replies with these same
 * constants instead of their own copies.
 */
final class NbdProtocol {
    private NbdProtocol() { }

    // Handshake
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 2;
    static final int CLIENT_FLAGS_KNOWN = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;
    /** The server's greeting: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
    static final int GREETING_SIZE = 18;
    /** The client's 32-bit flags after the greeting. */
    static final int CLIENT_FLAGS_SIZE = 4;

    // Options
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int OPT_LIST_META_CONTEXT = 9;
    static final int OPT_SET_META_CONTEXT = 10;
    /** An option header: IHAVEOPT, 32-bit option, 32-bit data length. */
    static final int OPTION_HEADER_SIZE = 16;
    /** Longest string (export name, meta context query) accepted inside an option. */
    static final int MAX_STRING = 4096;

    // Option replies
    static final int REP_ACK = 1;
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int REP_META_CONTEXT = 4;
    /** An option reply header: magic, option, reply type, data length. */
    static final int OPTION_REPLY_HEADER_SIZE = 20;
    static final int REP_ERR_UNSUP = 0x80000000 | 1;
    static final int REP_ERR_POLICY = 0x80000000 | 2;
    static final int REP_ERR_INVALID = 0x80000000 | 3;
    static final int REP_ERR_TLS_REQD = 0x80000000 | 5;
    static final int REP_ERR_UNKNOWN = 0x80000000 | 6;
    static final int REP_ERR_SHUTDOWN = 0x80000000 | 7;
    static final int REP_ERR_TOO_BIG = 0x80000000 | 9;

    // NBD_REP_INFO types
    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;
    /** The zero padding after NBD_OPT_EXPORT_NAME's reply unless NBD_FLAG_NO_ZEROES. */
    static final int EXPORT_NAME_PADDING = 124;

    // Transmission flags
    static final int TF_HAS_FLAGS = 1;
    static final int TF_READ_ONLY = 1 << 1;
    static final int TF_SEND_FLUSH = 1 << 2;
    static final int TF_SEND_FUA = 1 << 3;
    static final int TF_SEND_TRIM = 1 << 5;
    static final int TF_SEND_WRITE_ZEROES = 1 << 6;
    static final int TF_SEND_DF = 1 << 7;
    static final int TF_CAN_MULTI_CONN = 1 << 8;
    static final int TF_SEND_CACHE = 1 << 10;
    static final int TF_SEND_FAST_ZERO = 1 << 11;

    // Requests
    static final int REQUEST_MAGIC = 0x25609513;
    static final int REQUEST_HEADER_SIZE = 28;
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_CACHE = 5;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_BLOCK_STATUS = 7;

    static final int CMD_FLAG_FUA = 1;
    static final int CMD_FLAG_NO_HOLE = 1 << 1;
    static final int CMD_FLAG_DF = 1 << 2;
    static final int CMD_FLAG_REQ_ONE = 1 << 3;
    static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // Replies
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    /** A simple reply: magic, error, handle. */
    static final int SIMPLE_REPLY_SIZE = 16;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** A structured reply chunk header: magic, flags, type, handle, payload length. */
    static final int CHUNK_HEADER_SIZE = 20;
    static final int REPLY_FLAG_DONE = 1;
    static final int REPLY_TYPE_NONE = 0;
    static final int REPLY_TYPE_OFFSET_DATA = 1;
    static final int REPLY_TYPE_OFFSET_HOLE = 2;
    static final int REPLY_TYPE_BLOCK_STATUS = 5;
    static final int REPLY_TYPE_ERROR = 0x8000 | 1;
    static final int REPLY_TYPE_ERROR_OFFSET = 0x8000 | 2;
    /** Longest human-readable message sent in an error chunk. */
    static final int MAX_ERROR_MESSAGE = 1024;

    // Errors (NBD's own numbering, equal to Linux errno values)
    static final int EPERM = 1;
    static final int EIO = 5;
    static final int ENOMEM = 12;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int EOVERFLOW = 75;
    static final int ENOTSUP = 95;
    static final int ESHUTDOWN = 108;

    // Metadata contexts
    static final String BASE_NAMESPACE = "base:";
    static final String BASE_ALLOCATION = "base:allocation";
    static final int BASE_ALLOCATION_ID = 1;
    static final int STATE_HOLE = 1;
    static final int STATE_ZERO = 2;

    // ------------------------------------------------------------------ codecs

    /** An option reply: header, then {@code data} (none if null). */
    static Buffer optionReply(int opt, int type, Buffer data) {
        int len = data == null ? 0 : data.length();
        Buffer b = Buffer.buffer(OPTION_REPLY_HEADER_SIZE + len).appendLong(OPTION_REPLY_MAGIC).appendInt(opt)
                .appendInt(type).appendInt(len);
        if (data != null) {
            b.appendBuffer(data);
        }
        return b;
    }

    /** The body of an NBD_REP_INFO reply: the info type, then the UTF-8 text. */
    static Buffer infoText(int info, String text) {
        return Buffer.buffer().appendShort((short) info).appendBytes(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A length-prefixed UTF-8 string inside an option ({@code MAX_STRING} bytes at most). */
    static String readString(ByteBuffer data) {
        long len = Integer.toUnsignedLong(data.getInt());
        if (len > MAX_STRING || len > data.remaining()) {
            throw new IllegalArgumentException("bad string length");
        }
        byte[] bytes = new byte[(int) len];
        data.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** A simple reply (no data follows in this buffer). */
    static Buffer simpleReply(long handle, int error) {
        return Buffer.buffer(SIMPLE_REPLY_SIZE).appendInt(SIMPLE_REPLY_MAGIC).appendInt(error).appendLong(handle);
    }

    /** Writes a simple reply header at the start of {@code frame}, in front of the data. */
    static void putSimpleReply(byte[] frame, long handle) {
        ByteBuffer.wrap(frame).putInt(SIMPLE_REPLY_MAGIC).putInt(0).putLong(handle);
    }

    /** A structured reply chunk header with room for a small payload after it. */
    static Buffer chunkHeader(int flags, int type, long handle, int length) {
        return Buffer.buffer(CHUNK_HEADER_SIZE + 16).appendInt(STRUCTURED_REPLY_MAGIC).appendShort((short) flags)
                .appendShort((short) type).appendLong(handle).appendInt(length);
    }

    /** A final NBD_REPLY_TYPE_ERROR chunk; the message is cut to {@link #MAX_ERROR_MESSAGE} bytes. */
    static Buffer errorChunk(long handle, int error, String message) {
        byte[] msg = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
        if (msg.length > MAX_ERROR_MESSAGE) {
            msg = Arrays.copyOf(msg, MAX_ERROR_MESSAGE);
        }
        return chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_ERROR, handle, 6 + msg.length)
                .appendInt(error).appendShort((short) msg.length).appendBytes(msg);
    }
}
