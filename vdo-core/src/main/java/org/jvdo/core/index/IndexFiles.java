package org.jvdo.core.index;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.FileModes;
import org.jvdo.format.IndexFileLayout;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/** Writing and reading {@link IndexFileLayout} files (versions 1 and 2): temporary file, sync, rename; every check on reading. */
final class IndexFiles {
    private IndexFiles() { }

    interface Part { void write(DataOutputStream out) throws IOException; }

    /** Writes header, the checksummed body and the trailer to a temporary file 0600, syncs it and renames it over {@code file}. */
    static void write(Path file, Part header, Part body) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        CRC32C crc = new CRC32C();
        Files.deleteIfExists(tmp);   // made anew 0600 (a leftover temporary file could have any mode)
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(
                FileModes.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)), 1 << 16))) {
            header.write(out);
            DataOutputStream b = new DataOutputStream(new CheckedOutputStream(out, crc));
            body.write(b);
            b.flush();
            IndexFileLayout.writeTrailer(out, (int) crc.getValue());
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) { ch.force(true); }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** What a file holds, given to the reader before its entries. */
    record Header(int version, int mode, int keyBits, long count) {
        int entryBytes() { return mode == IndexFileLayout.MODE_SPARSE ? 28 : 16; }
    }

    interface Sink {
        /** Called once before any entry; may refuse the file (throw) before its entries are read. */
        void header(Header h) throws IOException;

        void entry(long key, long location, int volume, long lbn);
    }

    /**
     * Reads a version-1 or version-2 file into {@code sink}. Missing: {@link java.nio.file.NoSuchFileException};
     * damaged: {@link CorruptPoolException} naming the file and the problem.
     */
    static void read(Path file, Sink sink) throws IOException {
        long size = Files.size(file);
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            if (in.readLong() != IndexFileLayout.MAGIC) throw new CorruptPoolException(file + ": not a jvdo index file");
            int version = in.readInt();
            Header h;
            int headerBytes;
            if (version == IndexFileLayout.VERSION_1) {
                int cap = in.readInt();
                long count = in.readLong();
                if (cap < 64 || count < 0 || count > cap) throw new CorruptPoolException(file + ": bad index geometry (" + count + " of " + cap + ")");
                h = new Header(1, IndexFileLayout.MODE_DENSE, 64, count);
                headerBytes = 24;
            } else if (version == IndexFileLayout.VERSION) {
                int mode = in.readInt();
                int keyBits = in.readInt();
                long count = in.readLong();
                if (mode != IndexFileLayout.MODE_DENSE && mode != IndexFileLayout.MODE_SPARSE) throw new CorruptPoolException(file + ": unknown index mode " + mode);
                if (keyBits < 1 || keyBits > 64) throw new CorruptPoolException(file + ": bad index key width " + keyBits);
                if (count < 0) throw new CorruptPoolException(file + ": bad index entry count " + count);
                h = new Header(2, mode, keyBits, count);
                headerBytes = 28;
            } else {
                throw new CorruptPoolException(file + ": unsupported index version " + version);
            }
            if (h.count() > (size - headerBytes - 12) / h.entryBytes()) {
                throw new CorruptPoolException(file + ": index file is truncated (" + h.count() + " entries announced)");
            }
            sink.header(h);
            long lowMask = h.keyBits() == 64 ? 0 : -1L >>> h.keyBits();
            CRC32C crc = new CRC32C();
            DataInputStream body = new DataInputStream(new CheckedInputStream(in, crc));
            for (long i = 0; i < h.count(); i++) {
                long k = body.readLong();
                long loc = body.readLong();
                int vol = 0;
                long lbn = 0;
                if (h.mode() == IndexFileLayout.MODE_SPARSE) {
                    vol = body.readInt();
                    lbn = body.readLong();
                }
                boolean ok = version == 1 ? IndexFileLayout.isValidEntry(k, loc)
                        : (loc & IndexFileLayout.STATE_MASK) != 0 && (k & lowMask) == 0 && vol >= 0 && lbn >= 0;
                if (!ok) throw new CorruptPoolException(file + ": bad index entry " + i);
                sink.entry(k, loc, vol, lbn);
            }
            if (in.readLong() != IndexFileLayout.END_MARKER) throw new CorruptPoolException(file + ": index entry count does not match");
            if (in.readInt() != (int) crc.getValue()) throw new CorruptPoolException(file + ": index checksum mismatch");
            if (in.read() != -1) throw new CorruptPoolException(file + ": data after the index's end");
        } catch (EOFException e) {
            throw new CorruptPoolException(file + ": index file is truncated");
        }
    }
}
