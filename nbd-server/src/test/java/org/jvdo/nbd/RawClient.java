package org.jvdo.nbd;

import static org.jvdo.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A hand-rolled blocking NBD client over a plain socket, for protocol-level tests. */
final class RawClient implements AutoCloseable {
    final Socket socket;
    /** The streams of the socket, or of its TLS layer after {@link #startTls}. */
    DataInputStream in;
    DataOutputStream out;
    /** Set by {@link #startTls}. */
    javax.net.ssl.SSLSocket tls;
    int handshakeFlags;
    long exportSize;
    int transmissionFlags;

    RawClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Connects, reads the greeting and sends client flags FIXED_NEWSTYLE|NO_ZEROES. */
    static RawClient open(int port) throws IOException {
        RawClient c = new RawClient(port);
        c.greet(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        return c;
    }

    void greet(int clientFlags) throws IOException {
        assertEquals(NBDMAGIC, in.readLong());
        assertEquals(IHAVEOPT, in.readLong());
        handshakeFlags = in.readUnsignedShort();
        out.writeInt(clientFlags);
        out.flush();
    }

    void option(int opt, byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(opt);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    record OptReply(int opt, int type, byte[] data) {
        boolean isError() {
            return type < 0;
        }

        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    OptReply optReply() throws IOException {
        assertEquals(OPTION_REPLY_MAGIC, in.readLong());
        int opt = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptReply(opt, type, data);
    }

    /** Reads replies up to and including the final one (ACK or an error). */
    List<OptReply> optReplies() throws IOException {
        List<OptReply> all = new ArrayList<>();
        while (true) {
            OptReply r = optReply();
            all.add(r);
            if (r.type() == REP_ACK || r.isError()) {
                return all;
            }
        }
    }

    static byte[] infoRequest(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    static byte[] metaRequest(String name, String... queries) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(bos);
        try {
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            d.writeInt(n.length);
            d.write(n);
            d.writeInt(queries.length);
            for (String q : queries) {
                byte[] qb = q.getBytes(StandardCharsets.UTF_8);
                d.writeInt(qb.length);
                d.write(qb);
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        return bos.toByteArray();
    }

    void structuredReplies() throws IOException {
        option(OPT_STRUCTURED_REPLY, new byte[0]);
        assertEquals(REP_ACK, optReply().type());
    }

    void baseAllocation(String name) throws IOException {
        option(OPT_SET_META_CONTEXT, metaRequest(name, BASE_ALLOCATION));
        List<OptReply> r = optReplies();
        assertEquals(2, r.size(), "one context and ACK");
        assertEquals(REP_META_CONTEXT, r.get(0).type());
    }

    /** NBD_OPT_GO; fails the test unless it succeeds. */
    void go(String name) throws IOException {
        option(OPT_GO, infoRequest(name));
        for (OptReply r : optReplies()) {
            if (r.isError()) {
                fail("GO failed: " + r.type() + " " + r.text());
            }
            if (r.type() == REP_INFO) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                if (b.getShort() == INFO_EXPORT) {
                    exportSize = b.getLong();
                    transmissionFlags = Short.toUnsignedInt(b.getShort());
                }
            }
        }
    }

    void request(int flags, int type, long handle, long offset, long length, byte[] payload) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(REQUEST_HEADER_SIZE + (payload == null ? 0 : payload.length));
        b.putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(handle)
                .putLong(offset).putInt((int) length);
        if (payload != null) {
            b.put(payload);
        }
        out.write(b.array());
        out.flush();
    }

    record Simple(int error, long handle) { }

    Simple simple() throws IOException {
        assertEquals(SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
        return new Simple(in.readInt(), in.readLong());
    }

    record Chunk(int flags, int type, long handle, byte[] payload) {
        boolean done() {
            return (flags & REPLY_FLAG_DONE) != 0;
        }
    }

    Chunk chunk() throws IOException {
        assertEquals(STRUCTURED_REPLY_MAGIC, in.readInt(), "structured reply magic");
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long handle = in.readLong();
        byte[] p = new byte[in.readInt()];
        in.readFully(p);
        return new Chunk(flags, type, handle, p);
    }

    /** Writes with a simple reply expected; returns its error. */
    int write(long handle, long offset, byte[] data) throws IOException {
        request(0, CMD_WRITE, handle, offset, data.length, data);
        Simple s = simple();
        assertEquals(handle, s.handle());
        return s.error();
    }

    /** Reads without structured replies; returns data, or fails on error. */
    byte[] read(long handle, long offset, int length) throws IOException {
        request(0, CMD_READ, handle, offset, length, null);
        Simple s = simple();
        assertEquals(handle, s.handle());
        assertEquals(0, s.error(), "read error");
        byte[] data = new byte[length];
        in.readFully(data);
        return data;
    }

    /** The next {@code length} bytes of the stream (a READ reply's data). */
    byte[] readFully(int length) throws IOException {
        byte[] data = new byte[length];
        in.readFully(data);
        return data;
    }

    /** True if the server closed the connection (EOF or reset) within the socket timeout. */
    boolean closedByServer() throws IOException {
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }

    void disconnect() throws IOException {
        request(0, CMD_DISC, 0, 0, 0, null);
    }

    /**
     * Runs the TLS handshake over the connection (after the server acknowledged
     * NBD_OPT_STARTTLS); from then on {@link #in} and {@link #out} go through TLS.
     */
    void startTls(javax.net.ssl.SSLContext context) throws IOException {
        tls = (javax.net.ssl.SSLSocket) context.getSocketFactory().createSocket(socket, "127.0.0.1", socket.getPort(), true);
        tls.setUseClientMode(true);
        tls.startHandshake();
        in = new DataInputStream(tls.getInputStream());
        out = new DataOutputStream(tls.getOutputStream());
    }

    @Override
    public void close() throws IOException {
        if (tls != null) {
            tls.close();
        }
        socket.close();
    }
}
