package org.jvdo.nbd;

import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The NBD wire format (doc/proto.md of the NBD project), all big-endian: every magic, option,
 * reply, info type, command, flag, error number, structured reply type, meta context and fixed
 * size the server speaks, and the small encoders for the replies built in more than one place.
 * Owns no state. Tests build their requests and check replies with these same constants.
 */
public final class NbdProtocol {
    private NbdProtocol() { }

    // Handshake
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    public static final long IHAVEOPT = 0x49484156454F5054L;
    public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 2;
    public static final int CLIENT_FLAGS_KNOWN = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;
    /** The server's greeting: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
    public static final int GREETING_SIZE = 18;
    /** The client's 32-bit flags after the greeting. */
    public static final int CLIENT_FLAGS_SIZE = 4;
    /** An option header: IHAVEOPT, 32-bit option, 32-bit data length. */
    public static final int OPTION_HEADER_SIZE = 16;
    /** An option reply header: magic, option, reply type, data length. */
    public static final int OPTION_REPLY_HEADER_SIZE = 20;
    /** The zero padding after NBD_OPT_EXPORT_NAME's reply unless NBD_FLAG_NO_ZEROES. */
    public static final int EXPORT_NAME_PADDING = 124;
    /** Longest string (export name, meta context query) accepted inside an option. */
    public static final int MAX_STRING = 4096;

    // Options
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;

    // Option replies
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_FLAG_ERROR = 0x80000000;
    public static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
    public static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
    public static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
    public static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
    public static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
    public static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;

    // NBD_REP_INFO types
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // Transmission flags
    public static final int TF_HAS_FLAGS = 1;
    public static final int TF_READ_ONLY = 1 << 1;
    public static final int TF_SEND_FLUSH = 1 << 2;
    public static final int TF_SEND_FUA = 1 << 3;
    public static final int TF_SEND_TRIM = 1 << 5;
    public static final int TF_SEND_WRITE_ZEROES = 1 << 6;
    public static final int TF_SEND_DF = 1 << 7;
    public static final int TF_CAN_MULTI_CONN = 1 << 8;
    public static final int TF_SEND_CACHE = 1 << 10;
    public static final int TF_SEND_FAST_ZERO = 1 << 11;

    // Requests
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int REQUEST_HEADER_SIZE = 28;
    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;

    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // Replies
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int SIMPLE_REPLY_SIZE = 16;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** A structured reply chunk header: magic, flags, type, handle, payload length. */
    public static final int CHUNK_HEADER_SIZE = 20;
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    public static final int REPLY_TYPE_ERROR = 0x8000 | 1;
    public static final int REPLY_TYPE_ERROR_OFFSET = 0x8000 | 2;
    /** Longest human-readable message sent in an error chunk. */
    public static final int MAX_ERROR_MESSAGE = 1024;

    // Errors (NBD's own numbering, equal to Linux errno values)
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    // Metadata contexts
    public static final String BASE_NAMESPACE = "base:";
    public static final String BASE_ALLOCATION = "base:allocation";
    public static final int BASE_ALLOCATION_ID = 1;
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 2;

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
