package org.jvdo.core.physical;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;


import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A pool's blocks across several files, so a pool can be larger than the host filesystem's
 * largest file (16 TiB on ext4 with 4 KiB blocks, 16 GiB on ext2 with 1 KiB blocks, 4 GiB on
 * FAT). Segment 0 is {@value Pool#DATA_FILE}, segment {@code i > 0} is {@code pool.jvdo.i}; every
 * segment holds {@link #segmentBlocks()} blocks (a power of two chosen at format time and
 * recorded in the super block), only the last one may be shorter, and a segment is created when
 * the layout first extends into it. The super block is always in segment 0.
 *
 * <p>Until {@link #configure} has been called with the recorded segment size (after the super
 * block was read from segment 0), the store is segment 0 alone.
 */
public final class SegmentedBlockStore implements BlockStore {
    /** The first segment's file name in the pool folder; segment i > 0 is {@code pool.jvdo.i}. */
    public static final String DATA_FILE = "pool.jvdo";
    /** Segments are at most 2^28 blocks (1 TiB), fewer when the filesystem's file size limit is lower. */
    public static final int MAX_SEGMENT_SHIFT = 28;
    /** And at least 2^18 blocks (1 GiB), except in tests. */
    public static final int MIN_SEGMENT_SHIFT = 18;

    private final Path dir;
    private static final class Segment {
        final FileBlockStore file;
        final java.util.concurrent.atomic.AtomicBoolean dirty = new java.util.concurrent.atomic.AtomicBoolean();
        Segment(FileBlockStore file) { this.file = file; }
    }

    private final List<Segment> segments = new ArrayList<>();
    /** A segment file was created since the last sync: the directory entry must be made durable too. */
    private volatile boolean directoryDirty;
    private volatile int shift = 40;       // one segment until configured (no pool file reaches 2^40 blocks)

    private SegmentedBlockStore(Path dir) { this.dir = dir; }

    /** Creates segment 0 of a new pool with segments of {@code 2^shift} blocks. */
    public static SegmentedBlockStore create(Path dir, int shift) throws IOException {
        SegmentedBlockStore s = new SegmentedBlockStore(dir);
        s.add(new FileBlockStore(dir.resolve(DATA_FILE), true));
        s.shift = shift;
        return s;
    }

    /** Opens segment 0 of an existing pool; {@link #configure} opens the others once the segment size is known. */
    public static SegmentedBlockStore open(Path dir) throws IOException {
        SegmentedBlockStore s = new SegmentedBlockStore(dir);
        s.add(new FileBlockStore(dir.resolve(DATA_FILE), false));
        return s;
    }

    /** Sets the recorded segment size and opens every further segment file that exists, in order. */
    public synchronized void configure(int segmentShift) throws IOException {
        if (segmentShift < 1 || segmentShift > 40) throw new CorruptPoolException(describe() + ": segment size 2^" + segmentShift + " blocks is impossible");
        shift = segmentShift;
        for (int i = segments.size(); Files.exists(segmentPath(dir, i)); i++) add(new FileBlockStore(segmentPath(dir, i), false));
    }

    /** A fresh store on the same files (tests: the pool's channels may have been closed by an interrupt). */
    public SegmentedBlockStore reopen() throws IOException {
        SegmentedBlockStore s = open(dir);
        s.configure(shift);
        return s;
    }

    /** The file of segment {@code i}. */
    public static Path segmentPath(Path dir, int i) {
        return i == 0 ? dir.resolve(DATA_FILE) : dir.resolve(DATA_FILE + "." + i);
    }

    /** Every segment file of the pool in {@code dir} that exists (for deleting a refused create). */
    public static List<Path> existingSegments(Path dir) {
        List<Path> l = new ArrayList<>();
        for (int i = 0; Files.exists(segmentPath(dir, i)); i++) l.add(segmentPath(dir, i));
        return l;
    }

    public long segmentBlocks() { return 1L << shift; }

    public int segmentShift() { return shift; }

    public synchronized int segmentCount() { return segments.size(); }

    private void add(FileBlockStore f) { segments.add(new Segment(f)); }

    private Segment segment(int i, long blockNumber) throws IOException {
        synchronized (this) {
            if (i < segments.size()) return segments.get(i);
        }
        // the layout is extended (creating segments) before anything is written there, so this
        // block lies beyond the layout: a read of it is the truncation case FileBlockStore reports
        throw new java.io.EOFException("block " + blockNumber + " is in segment " + i + " (" + segmentPath(dir, i)
                + "), which does not exist: the pool is missing a segment file");
    }

    /** How many of {@code remaining} bytes from block {@code within} of a segment lie in that segment. */
    private int bytesInSegment(long within, int remaining) {
        long room = segmentBlocks() - within;
        return room >= remaining / BLOCK_SIZE ? remaining : (int) (room * BLOCK_SIZE);
    }

    /** One segment's part of a read or write: {@code part} at block {@code within} of {@code seg}. */
    private interface PartIo {
        void run(Segment seg, long within, ByteBuffer part) throws IOException;
    }

    /** Splits {@code buf} (from block {@code blockNumber} on) at segment boundaries and hands each part to {@code io}. */
    private void split(long blockNumber, ByteBuffer buf, PartIo io) throws IOException {
        long b = blockNumber;
        while (buf.hasRemaining()) {
            long within = b & (segmentBlocks() - 1);
            int n = bytesInSegment(within, buf.remaining());
            io.run(segment((int) (b >>> shift), b), within, buf.duplicate().limit(buf.position() + n));
            buf.position(buf.position() + n);
            b += n / BLOCK_SIZE;
        }
    }

    @Override
    public void read(long blockNumber, ByteBuffer dst) throws IOException {
        split(blockNumber, dst, (seg, within, part) -> seg.file.read(within, part));
    }

    @Override
    public void write(long blockNumber, ByteBuffer src) throws IOException {
        if (src.remaining() % BLOCK_SIZE != 0) throw new IOException("unaligned write of " + src.remaining() + " bytes to " + describe());
        split(blockNumber, src, (seg, within, part) -> {
            seg.file.write(within, part);
            seg.dirty.set(true);
        });
    }

    /** Reserves the range segment by segment (each part in its own file); false when any part cannot be reserved. */
    @Override
    public boolean reserve(long firstBlock, long blocks) throws IOException {
        long b = firstBlock, left = blocks;
        boolean all = true;
        while (left > 0) {
            int i = (int) (b >>> shift);
            long within = b & (segmentBlocks() - 1);
            long n = Math.min(left, segmentBlocks() - within);
            Segment seg = segment(i, b);
            all &= seg.file.reserve(within, n);
            seg.dirty.set(true);           // the allocation (file size, extents) is made durable with the next sync
            b += n;
            left -= n;
        }
        return all;
    }

    /** Syncs every segment written since its last sync (a write completed before this call is durable after it). */
    @Override
    public void sync() throws IOException {
        List<Segment> all;
        synchronized (this) { all = new ArrayList<>(segments); }
        for (Segment s : all) {
            if (!s.dirty.getAndSet(false)) continue;
            try {
                s.file.sync();
            } catch (IOException e) {
                s.dirty.set(true);
                throw e;
            }
        }
        if (directoryDirty) {
            directoryDirty = false;
            try (java.nio.channels.FileChannel d = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException e) {
                directoryDirty = true;
                throw e;
            }
        }
    }

    /**
     * The blocks present without a gap: full segments, then the first one that is short (a
     * segment before the last that is not full means the pool was truncated, and the size
     * reported stops there, which the pool's layout check refuses).
     */
    @Override
    public synchronized long sizeInBlocks() throws IOException {
        long total = 0;
        for (Segment seg : segments) {
            long s = seg.file.sizeInBlocks();
            total += Math.min(s, segmentBlocks());
            if (s < segmentBlocks()) break;
        }
        return total;
    }

    /** Sparse extension across segments: fills the earlier ones to their full size, creates the ones needed. */
    @Override
    public synchronized void extendTo(long blocks) throws IOException {
        if (blocks <= 0) return;
        int last = (int) ((blocks - 1) >>> shift);
        for (int i = 0; i <= last; i++) {
            if (i == segments.size()) {
                add(new FileBlockStore(segmentPath(dir, i), !Files.exists(segmentPath(dir, i))));
                directoryDirty = true;       // the new directory entry becomes durable with the next sync
            }
            Segment seg = segments.get(i);
            long want = i < last ? segmentBlocks() : blocks - ((long) last << shift);
            if (seg.file.sizeInBlocks() < want) {
                seg.file.extendTo(want);
                seg.dirty.set(true);
            }
        }
    }

    @Override
    public String describe() {
        int n;
        synchronized (this) { n = segments.size(); }
        return n <= 1 ? segmentPath(dir, 0).toString() : segmentPath(dir, 0) + " (+" + (n - 1) + " segment files)";
    }

    @Override
    public synchronized void close() throws IOException {
        IOException first = null;
        for (Segment seg : segments) {
            try {
                seg.file.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }

    /**
     * The segment size for a new pool in {@code dir}: 2^{@value #MAX_SEGMENT_SHIFT} blocks, or the
     * largest power of two of blocks the filesystem lets a file reach if that is smaller (probed
     * with a sparse scratch file, removed again).
     */
    public static int probeSegmentShift(Path dir) throws IOException {
        Path probe = dir.resolve(".segment-probe");
        try (RandomAccessFile f = new RandomAccessFile(probe.toFile(), "rw")) {
            for (int shift = MAX_SEGMENT_SHIFT; shift > MIN_SEGMENT_SHIFT; shift--) {
                try {
                    f.setLength((1L << shift) * BLOCK_SIZE);
                    return shift;
                } catch (IOException e) {
                    // too large for this filesystem: try half
                } finally {
                    f.setLength(0);
                }
            }
            return MIN_SEGMENT_SHIFT;
        } finally {
            Files.deleteIfExists(probe);
        }
    }
}
