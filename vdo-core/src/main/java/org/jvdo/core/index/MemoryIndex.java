package org.jvdo.core.index;

import org.jvdo.core.api.CorruptPoolException;

import org.jvdo.format.IndexFileLayout;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * The first dedup index (index file version 1), kept to compare with {@link DenseIndex} (which
 * replaced it as the pool's index) and to write version-1 files in the conversion tests: an open-addressing (linear probing) table in three parallel primitive
 * arrays, 13 bytes a slot: the fingerprint's high 64 bits as the key, and a 36-bit location
 * (PBN, as dm-vdo's) with a 4-bit state (1 raw, 2..15 packed slot 0..13).
 *
 * <p>The table grows by 1.5× at 3/4 load, so it stays between 1/2 and 3/4 full: 17..26 bytes per
 * unique block. At its maximum size it replaces entries instead of growing: memory is bounded,
 * and what is lost is only advice. A 64-bit key match is still only advice: the engine compares
 * bytes before sharing a block.
 *
 * <p>The saved file and the location encoding are {@link IndexFileLayout}'s (format module).
 */
public final class MemoryIndex implements DedupIndex {
    private static final int PROBE_LIMIT = 64;
    public static final int BYTES_PER_SLOT = 8 + 4 + 1;

    private final int maxCapacity;
    private long[] keys;
    private int[] locLow;
    private byte[] locHigh;
    private long count;

    public MemoryIndex(int initialCapacity, int maxCapacity) {
        this.maxCapacity = Math.max(64, maxCapacity);
        allocate(Math.max(64, Math.min(initialCapacity, this.maxCapacity)));
    }

    private void allocate(int cap) {
        keys = new long[cap];
        locLow = new int[cap];
        locHigh = new byte[cap];
        count = 0;
    }

    private static long key(long fpHigh) { return fpHigh == 0 ? 1 : fpHigh; }

    private int bucket(long key) {
        // multiply-shift maps the key onto any table size, not only powers of two
        return (int) (((key >>> 32) * (long) keys.length) >>> 32);
    }

    public static long encodeLocation(long mapping) { return IndexFileLayout.location(mapping); }

    public static long decodeLocation(long loc) { return IndexFileLayout.mapping(loc); }

    private long loc(int s) { return loc(locLow, locHigh, s); }

    private static long loc(int[] low, byte[] high, int s) { return ((long) (high[s] & 0xFF) << 32) | (low[s] & 0xFFFFFFFFL); }

    /**
     * The slot of {@code k}'s probe sequence that holds {@code k} or is empty, whichever comes
     * first; -1 when the {@value #PROBE_LIMIT} slots from its bucket hold other keys.
     */
    private int probe(long k) {
        int n = keys.length;
        int i = bucket(k);
        for (int p = 0; p < PROBE_LIMIT; p++) {
            int s = i + p;
            if (s >= n) s -= n;
            long cur = keys[s];
            if (cur == 0 || cur == k) return s;
        }
        return -1;
    }

    @Override
    public synchronized long lookup(long fpHigh, long fpLow) {
        int s = probe(key(fpHigh));
        return s < 0 || keys[s] == 0 ? -1 : decodeLocation(loc(s));
    }

    @Override
    public synchronized void update(long fpHigh, long fpLow, long mapping) {
        long loc = encodeLocation(mapping);
        if (loc < 0) return;
        if (count + 1 > (keys.length * 3L) / 4 && keys.length < maxCapacity) {
            grow((int) Math.min(maxCapacity, keys.length + (long) keys.length / 2));
        }
        insert(key(fpHigh), loc);
    }

    private void insert(long k, long loc) {
        int s = probe(k);
        if (s >= 0) {
            if (keys[s] == 0) count++;
            put(s, k, loc);
            return;
        }
        if (keys.length < maxCapacity) {
            // a full neighbourhood below the maximum size: grow rather than drop an entry
            grow((int) Math.min(maxCapacity, keys.length + (long) keys.length / 2));
            insert(k, loc);
            return;
        }
        // the neighbourhood is full at maximum size: replace the home slot's advice
        put(bucket(k), k, loc);
    }

    private void put(int s, long k, long loc) {
        keys[s] = k;
        locLow[s] = (int) loc;
        locHigh[s] = (byte) (loc >>> 32);
    }

    private void grow(int newCapacity) {
        long[] oldKeys = keys;
        int[] oldLow = locLow;
        byte[] oldHigh = locHigh;
        allocate(newCapacity);
        for (int s = 0; s < oldKeys.length; s++) {
            if (oldKeys[s] != 0) insert(oldKeys[s], loc(oldLow, oldHigh, s));
        }
    }

    @Override
    public synchronized long entries() { return count; }

    @Override
    public synchronized long memoryBytes() { return (long) keys.length * BYTES_PER_SLOT + 3 * 16; }

    public synchronized int capacity() { return keys.length; }

    @Override
    public synchronized void save(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        CRC32C crc = new CRC32C();
        // made anew 0600 (a leftover temporary file could have any mode)
        Files.deleteIfExists(tmp);
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(java.nio.channels.Channels.newOutputStream(
                org.jvdo.core.api.FileModes.open(tmp, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)), 1 << 16))) {
            IndexFileLayout.writeHeaderV1(out, keys.length, count);
            DataOutputStream body = new DataOutputStream(new CheckedOutputStream(out, crc));
            for (int s = 0; s < keys.length; s++) {
                if (keys[s] == 0) continue;
                IndexFileLayout.writeEntry(body, keys[s], loc(s));
            }
            body.flush();
            IndexFileLayout.writeTrailer(out, (int) crc.getValue());
        }
        try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) { ch.force(true); }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Loads a saved index. A missing file gives {@link NoSuchFileException}; a damaged one a
     * {@link CorruptPoolException} naming the file and the problem (the caller then starts empty:
     * the index is only advice).
     */
    /**
     * The saved index of {@code file}, or an empty one of {@code initial} slots when there is none
     * or it is unusable (advice only: nothing is lost); says which in {@code report}.
     */
    public static MemoryIndex loadOrEmpty(java.nio.file.Path file, int maxSlots, int initial, StringBuilder report) {
        try {
            MemoryIndex idx = load(file, maxSlots);
            report.append("; index: loaded ").append(idx.entries()).append(" entries");
            return idx;
        } catch (java.nio.file.NoSuchFileException e) {
            return new MemoryIndex(initial, maxSlots);
        } catch (java.io.IOException | RuntimeException e) {
            java.util.logging.Logger.getLogger("org.jvdo.core").warning("dedup index unusable, starting an empty one (advice only, no data lost): " + e.getMessage());
            report.append("; index: ").append(e.getMessage()).append(" - started empty");
            return new MemoryIndex(initial, maxSlots);
        }
    }

    public static MemoryIndex load(Path file, int maxCapacity) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            if (in.readLong() != IndexFileLayout.MAGIC) throw new CorruptPoolException(file + ": not a jvdo index file");
            int version = in.readInt();
            if (version != IndexFileLayout.VERSION_1) throw new CorruptPoolException(file + ": unsupported index version " + version);
            int cap = in.readInt();
            long count = in.readLong();
            if (cap < 64 || count < 0 || count > cap) throw new CorruptPoolException(file + ": bad index geometry (" + count + " of " + cap + ")");
            MemoryIndex idx = new MemoryIndex(cap, Math.max(cap, maxCapacity));
            CRC32C crc = new CRC32C();
            DataInputStream body = new DataInputStream(new CheckedInputStream(in, crc));
            for (long i = 0; i < count; i++) {
                long k = body.readLong();
                long loc = body.readLong();
                if (!IndexFileLayout.isValidEntry(k, loc)) throw new CorruptPoolException(file + ": bad index entry " + i);
                idx.insert(k, loc);
            }
            if (in.readLong() != IndexFileLayout.END_MARKER) throw new CorruptPoolException(file + ": index entry count does not match");
            if (in.readInt() != (int) crc.getValue()) throw new CorruptPoolException(file + ": index checksum mismatch");
            return idx;
        } catch (java.io.EOFException e) {
            throw new CorruptPoolException(file + ": index file is truncated");
        }
    }
}
