package org.jvdo.core.read;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.format.MappingEntry;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The foreign pool table of a format 4.0 pool ({@value #FILE} in the pool folder): the pools whose
 * blocks this pool's foreign mappings name, index k (1..63) to pool UUID and folder. Entries are
 * only appended, and an entry is on disk (written to a temporary file, synced, renamed, the folder
 * synced) before any mapping can name it. Layout (little-endian): magic "JVDOFPT1" u64, count u16,
 * per entry {uuid 16, folder length u16, folder UTF-8}, CRC-32C u32 of everything before it.
 *
 * <p>Reads of foreign blocks go straight to the other pool's file ({@link #blocks}), without its
 * lock and without its owner: the other pool holds a reference for every foreign mapping, so the
 * block is not freed while it is named here (docs/cluster.md).
 */
public final class ForeignPools implements Closeable {
    public static final String FILE = "foreign-pools.jvdo";
    private static final long MAGIC = 0x315450464F44564AL; // "JVDOFPT1"
    private static final int MAX_PATH = 1024;

    private final Path dir;
    private final List<UUID> uuids = new ArrayList<>();
    private final List<Path> dirs = new ArrayList<>();
    private final List<SegmentedBlockStore> stores = new ArrayList<>();
    private final List<StoredBlocks> blocks = new ArrayList<>();

    private ForeignPools(Path dir) { this.dir = dir; }

    /** The table of the pool in {@code dir} (empty when it has none). A damaged table refuses the open. */
    public static ForeignPools load(Path dir) throws IOException {
        ForeignPools t = new ForeignPools(dir);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(dir.resolve(FILE));
        } catch (NoSuchFileException e) {
            return t;
        }
        String where = dir.resolve(FILE).toString();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (bytes.length < 14 || b.getLong() != MAGIC) throw new CorruptPoolException(where + ": not a foreign pool table (bad magic)");
            CRC32C crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 4);
            if ((int) crc.getValue() != ByteBuffer.wrap(bytes, bytes.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt()) {
                throw new CorruptPoolException(where + ": checksum mismatch");
            }
            int n = b.getShort() & 0xFFFF;
            if (n > MappingEntry.MAX_FOREIGN_POOLS) throw new CorruptPoolException(where + ": " + n + " entries");
            for (int i = 0; i < n; i++) {
                UUID u = new UUID(b.getLong(), b.getLong());
                int len = b.getShort() & 0xFFFF;
                if (len > MAX_PATH || b.remaining() < len + 4) throw new CorruptPoolException(where + ": entry " + (i + 1) + " is cut");
                byte[] p = new byte[len];
                b.get(p);
                t.add(u, Path.of(new String(p, StandardCharsets.UTF_8)));
            }
            if (b.remaining() != 4) throw new CorruptPoolException(where + ": " + (b.remaining() - 4) + " bytes after the entries");
        } catch (java.nio.BufferUnderflowException e) {
            throw new CorruptPoolException(where + ": cut short");
        }
        return t;
    }

    private void add(UUID u, Path d) {
        uuids.add(u);
        dirs.add(d);
        stores.add(null);
        blocks.add(null);
    }

    /** Index k of pool {@code pool} (in folder {@code folder}), appended and synced when new. */
    public synchronized int indexOf(UUID pool, Path folder) throws IOException {
        int i = uuids.indexOf(pool);
        if (i >= 0) return i + 1;
        if (uuids.size() >= MappingEntry.MAX_FOREIGN_POOLS) {
            throw new VdoException(Errno.ENOSPC, "pool " + dir + " names " + MappingEntry.MAX_FOREIGN_POOLS + " other pools already");
        }
        byte[] p = folder.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8);
        if (p.length > MAX_PATH) throw new VdoException(Errno.EINVAL, "pool folder name too long: " + folder);
        add(pool, folder.toAbsolutePath());
        try {
            persist();
        } catch (IOException | RuntimeException e) {
            int last = uuids.size() - 1;
            uuids.remove(last);
            dirs.remove(last);
            stores.remove(last);
            blocks.remove(last);
            throw e;
        }
        return uuids.size();
    }

    /** The number of pools in the table. */
    public synchronized int size() { return uuids.size(); }

    /** The UUID of pool k, or null. */
    public synchronized UUID uuid(int k) { return k >= 1 && k <= uuids.size() ? uuids.get(k - 1) : null; }

    /** The folder of pool k, or null. */
    public synchronized Path folder(int k) { return k >= 1 && k <= dirs.size() ? dirs.get(k - 1) : null; }

    /** Reads of pool k's blocks (its file opened on first use). */
    public synchronized StoredBlocks blocks(int k) throws IOException {
        if (k < 1 || k > uuids.size()) throw new CorruptPoolException("pool " + dir + ": a mapping names foreign pool " + k + ", which " + FILE + " lacks");
        StoredBlocks s = blocks.get(k - 1);
        if (s == null) {
            SegmentedBlockStore st = SegmentedBlockStore.open(dirs.get(k - 1));
            try {
                st.configure(org.jvdo.core.physical.SuperBlock.read(st).segmentShift);
            } catch (IOException | RuntimeException e) {
                st.close();
                throw e;
            }
            stores.set(k - 1, st);
            s = new StoredBlocks(new ReadOnly(st));
            blocks.set(k - 1, s);
        }
        return s;
    }

    /**
     * Another pool's file, read only. Its owner adds segment files as it grows: a read past the
     * segments opened looks for new ones once and retries.
     */
    private static final class ReadOnly implements org.jvdo.core.api.BlockStore {
        private final SegmentedBlockStore store;

        ReadOnly(SegmentedBlockStore store) { this.store = store; }

        @Override
        public void read(long blockNumber, ByteBuffer dst) throws IOException {
            int pos = dst.position();
            try {
                store.read(blockNumber, dst);
            } catch (java.io.EOFException e) {
                store.configure(store.segmentShift());
                dst.position(pos);
                store.read(blockNumber, dst);
            }
        }

        @Override
        public void write(long blockNumber, ByteBuffer src) throws IOException {
            throw new IOException("another pool's file is read only here: " + store.describe());
        }

        @Override public void sync() { }
        @Override public long sizeInBlocks() throws IOException { return store.sizeInBlocks(); }
        @Override public void extendTo(long blocks) throws IOException { throw new IOException("read only: " + store.describe()); }
        @Override public String describe() { return store.describe(); }
        @Override public void close() { }
    }

    private void persist() throws IOException {
        int size = 8 + 2 + 4;
        List<byte[]> paths = new ArrayList<>();
        for (Path d : dirs) {
            byte[] p = d.toString().getBytes(StandardCharsets.UTF_8);
            paths.add(p);
            size += 16 + 2 + p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC).putShort((short) uuids.size());
        for (int i = 0; i < uuids.size(); i++) {
            b.putLong(uuids.get(i).getMostSignificantBits()).putLong(uuids.get(i).getLeastSignificantBits());
            b.putShort((short) paths.get(i).length).put(paths.get(i));
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, size - 4);
        b.putInt((int) crc.getValue());
        Path tmp = dir.resolve(FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            b.flip();
            while (b.hasRemaining()) ch.write(b);
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        IOException first = null;
        for (int i = 0; i < stores.size(); i++) {
            SegmentedBlockStore s = stores.get(i);
            if (s == null) continue;
            try { s.close(); } catch (IOException e) { if (first == null) first = e; }
            stores.set(i, null);
            blocks.set(i, null);
        }
        if (first != null) throw first;
    }
}
