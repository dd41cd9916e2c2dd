package org.jvdo.core.volumes;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.Operation;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.durability.Checkpointer;
import org.jvdo.core.durability.ReadOnlyMode;
import org.jvdo.core.durability.SuperBlockWriter;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.core.write.WritePipeline;
import org.jvdo.journal.StorageErrors;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.regex.Pattern;

/**
 * The volumes of a pool and their administration: the registry, create, delete, resize and the
 * engine choice, each recorded in the super block. Lock order: the mapping lock, then the super
 * block's monitor ({@link SuperBlockWriter#lock()}); a volume's own monitor only around its
 * deleted flag.
 */
public final class VolumeAdmin {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** Whether {@code name} is a valid volume name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
    public static boolean isValidName(String name) { return name != null && NAME.matcher(name).matches(); }

    private final PoolConfig cfg;
    private final BlockStore store;
    private final SuperBlockWriter sbWriter;
    private final SuperBlock sb;
    private final EngineRegistry engines;
    private final ReadOnlyMode mode;
    private final ReentrantReadWriteLock mappingLock;
    private final Map<String, LogicalVolume> volumes = new ConcurrentHashMap<>();
    private final List<String> repairNotes;
    /** The deletes and resizes running, by id (so oldest first). */
    private final java.util.concurrent.ConcurrentSkipListMap<Long, Operation> running = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final java.util.concurrent.atomic.AtomicLong operationIds = new java.util.concurrent.atomic.AtomicLong();
    private Checkpointer checkpointer;
    private SlabDepot depot;
    private WritePipeline pipeline;

    public VolumeAdmin(PoolConfig cfg, BlockStore store, SuperBlockWriter sbWriter, EngineRegistry engines, ReadOnlyMode mode,
                       ReentrantReadWriteLock mappingLock, List<String> repairNotes) {
        this.cfg = cfg;
        this.store = store;
        this.sbWriter = sbWriter;
        this.sb = sbWriter.superBlock();
        this.engines = engines;
        this.mode = mode;
        this.mappingLock = mappingLock;
        this.repairNotes = repairNotes;
    }

    /** The parts built after the volumes are attached (recovery needs the volumes first). */
    public void attach(Checkpointer checkpointer, SlabDepot depot, WritePipeline pipeline) {
        this.checkpointer = checkpointer;
        this.depot = depot;
        this.pipeline = pipeline;
    }

    public LogicalVolume get(String name) { return volumes.get(name); }

    /** The deletes and resizes running now, oldest first. */
    public List<Operation> operations() { return List.copyOf(running.values()); }

    private Operation begin(String kind, String name) {
        Operation op = new Operation(operationIds.incrementAndGet(), kind, name, cfg.operationObserver);
        running.put(op.id(), op);
        return op;
    }

    public Collection<LogicalVolume> all() { return volumes.values(); }

    /** Opens the block map of a recorded volume and registers it. */
    public void attachVolume(SuperBlock.VolumeRecord r, Checkpointer gate) throws IOException {
        BlockMap map = new BlockMap(r.name, store, r.mapStart, r.mapPages, r.logicalBlocks, cfg.blockMapCachePages,
                cfg.blockMapTreeCachePages, gate::ensureDurable);
        if (cfg.repair && !cfg.checkOnly) map.repairBadPages(repairNotes::add);
        map.validateTree();     // the region's top bitmap page: refused when bad (rebuilt in repair mode)
        volumes.put(r.name, new LogicalVolume(r.id, r.name, r.logicalBlocks, r.usedBlocks, r.zeroBlocks, map,
                engines.forCode(r.engine, r.name)));
    }

    public LogicalVolume create(String name, long logicalBytes, String engine) throws IOException {
        if (!isValidName(name)) {
            throw new VdoException(Errno.EINVAL, "bad volume name '" + name + "': 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        }
        return createNamed(name, logicalBytes, engine);
    }

    /** An internal volume ("~" and a name no user volume can have: another pool's reference slots, docs/cluster.md). */
    public LogicalVolume createInternal(String name, long logicalBytes, String engine) throws IOException {
        if (!name.startsWith("~") || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > SuperBlock.MAX_NAME) {
            throw new IllegalArgumentException("not an internal volume name: " + name);
        }
        return createNamed(name, logicalBytes, engine);
    }

    private LogicalVolume createNamed(String name, long logicalBytes, String engine) throws IOException {
        if (logicalBytes <= 0 || logicalBytes % 4096 != 0) {
            throw new VdoException(Errno.EINVAL, "volume size must be a positive multiple of 4096 bytes, not " + logicalBytes);
        }
        int code = EngineRegistry.code(engine);
        engines.requireAvailable(engine);
        mode.checkWritable();
        synchronized (sbWriter.lock()) {
            if (volumes.containsKey(name)) throw new VdoException(Errno.EEXIST, "volume " + name + " already exists");
            if (sb.volumes.size() >= SuperBlock.MAX_VOLUMES) throw new VdoException(Errno.ENOSPC, "a pool holds at most " + SuperBlock.MAX_VOLUMES + " volumes");
            int id = 1;
            for (SuperBlock.VolumeRecord r : sb.volumes) id = Math.max(id, r.id + 1);
            long blocks = logicalBytes / 4096;
            SuperBlock.checkLogicalSize(name, blocks);
            long pages = BlockMap.pagesFor(blocks);
            // the region's (empty) tree is durable before the record that refers to it; the record and
            // the region's end go out in one synced write before any leaf page is written there
            long start = takeRegionLocked(BlockMap.regionBlocks(pages), "volume " + name);
            BlockMap.formatRegion(store, start, pages);
            store.sync();
            SuperBlock.VolumeRecord rec = new SuperBlock.VolumeRecord(id, name, code, blocks, start, pages);
            sb.volumes.add(rec);
            try {
                sbWriter.writeLocked();
            } catch (IOException | RuntimeException e) {
                sb.volumes.remove(rec); // not recorded: forget it (the layout end stays moved, which is safe)
                throw e;
            }
            attachVolume(rec, checkpointer);
            return volumes.get(name);
        }
    }

    /**
     * Chooses the compression engine for the volume's new writes (like zram's
     * {@code comp_algorithm}); blocks already stored read back whatever engine wrote them, since
     * each fragment records its encoding. Persisted in the super block.
     */
    public void setEngine(String volumeName, String engine) throws IOException {
        int code = EngineRegistry.code(engine);
        engines.requireAvailable(engine);
        mode.checkWritable();
        synchronized (sbWriter.lock()) {
            LogicalVolume v = volumes.get(volumeName);
            if (v == null) throw new VdoException(Errno.ENOENT, "no volume " + volumeName);
            for (SuperBlock.VolumeRecord r : sb.volumes) if (r.name.equals(volumeName)) r.engine = code;
            sbWriter.writeLocked();
            v.setEngine(engines.forCode(code, volumeName));
        }
    }

    /**
     * Deletes a volume and frees its blocks. New requests to it fail at once; requests in
     * flight finish first (up to 60 s, else EBUSY). Then, under the mapping write lock so no
     * journal entry can slip in between: a checkpoint (every block map written, the journal
     * trimmed past every entry of the volume, so a later volume that reuses its id cannot be
     * handed its entries by a replay) and the super block rewritten without the record. Only
     * then, under the read lock (other volumes' writes go on), every reference the volume's map
     * held is dropped, walking the block-map pages written (not the logical size). A crash before the super block write
     * leaves the volume whole; after it, recovery rebuilds counts from the remaining maps, so
     * nothing is resurrected or leaked. The block-map region is not reused.
     */
    public void delete(String name) throws IOException {
        mode.checkWritable();
        LogicalVolume v = volumes.get(name);
        if (v == null || !v.markDeleted()) throw new VdoException(Errno.ENOENT, "no volume " + name);
        Operation op = begin("delete", name);
        try {
            delete(name, v, op);
        } finally {
            running.remove(op.id());
        }
    }

    /**
     * The delete's work, in the phases its {@link Operation} shows: "waiting for requests in
     * flight", "checkpoint", "dropping block references" (done/total: mapped entries visited of
     * the volume's used blocks).
     */
    private void delete(String name, LogicalVolume v, Operation op) throws IOException {
        op.phase("waiting for requests in flight", 0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (v.activeRequests() > 0 || pipeline.hasRequestsOf(v.id())) {
            if (System.nanoTime() > deadline) {
                v.unmarkDeleted();
                throw new VdoException(Errno.EBUSY, "volume " + name + ": requests still in flight after 60 s; not deleted, retry"
                        + " (in flight: " + String.join("; ", pipeline.inFlight()) + ")");
            }
            pipeline.flushPacker();
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                v.unmarkDeleted();
                throw new IOException("interrupted while deleting volume " + name, e);
            }
        }
        long seq;
        boolean removed = false;
        op.phase("checkpoint", 0);
        mappingLock.writeLock().lock();
        try {
            mode.checkWritable();
            checkpointer.checkpoint();
            synchronized (sbWriter.lock()) {
                List<SuperBlock.VolumeRecord> before = new ArrayList<>(sb.volumes);
                sb.volumes.removeIf(r -> r.name.equals(name));
                volumes.remove(name);
                try {
                    sbWriter.writeLocked();
                } catch (IOException | RuntimeException e) {
                    // not recorded (a full filesystem is retried by the caller): the volume stays whole
                    sb.volumes.clear();
                    sb.volumes.addAll(before);
                    volumes.put(name, v);
                    throw e;
                }
                removed = true;
            }
            seq = checkpointer.lastAppendedSeq();
        } catch (IOException e) {
            throw mode.storageError("delete of volume " + name, e);
        } finally {
            mappingLock.writeLock().unlock();
            if (!removed) v.unmarkDeleted();
        }
        // the record is durably gone and no entry of the volume is in the journal: dropping its
        // references needs no exclusive lock (other volumes' I/O goes on); the read lock only keeps
        // a checkpoint or the clean close from running half-way through the walk, which visits the
        // written block-map pages only
        op.phase("dropping block references", v.usedBlocks());
        long[] visited = {0};
        mappingLock.readLock().lock();
        try {
            v.blockMap().forEachMapped((lbn, m) -> {
                if (Mapping.hasBlock(m)) depot.decrement(Mapping.pbn(m), seq);
                op.done(++visited[0]);
            });
            depot.releaseFreed(checkpointer.durableEntrySeq());
            v.resetUsage(0, 0);
        } catch (IOException e) {
            throw mode.storageError("delete of volume " + name + " (dropping its block references; a check --repair rebuilds them)", e);
        } finally {
            mappingLock.readLock().unlock();
        }
    }

    /**
     * Grows a volume to {@code newBytes} (a multiple of 4096) while it is in use. When the block
     * map's region has no room for the new size, a larger region is taken at the end of the
     * pool file and the pages are copied into it under the mapping write lock; the super block
     * then points at it (the old region is not reused). Shrinking is refused with EINVAL.
     */
    public void resize(String name, long newBytes) throws IOException {
        if (newBytes <= 0 || newBytes % 4096 != 0) {
            throw new VdoException(Errno.EINVAL, "volume size must be a positive multiple of 4096 bytes, not " + newBytes);
        }
        mode.checkWritable();
        LogicalVolume v = volumes.get(name);
        if (v == null || v.isDeleted()) throw new VdoException(Errno.ENOENT, "no volume " + name);
        long blocks = newBytes / 4096;
        SuperBlock.checkLogicalSize(name, blocks);
        Operation op = begin("resize", name);
        try {
            resize(name, v, blocks, newBytes, op);
        } finally {
            running.remove(op.id());
        }
    }

    /**
     * The resize's work, in the phases its {@link Operation} shows: "waiting for the mapping
     * lock", "journal commit", and when the map moves "copying the block map" (done/total: leaf
     * pages copied).
     */
    private void resize(String name, LogicalVolume v, long blocks, long newBytes, Operation op) throws IOException {
        op.phase("waiting for the mapping lock", 0);
        mappingLock.writeLock().lock();
        try {
            mode.checkWritable();
            if (blocks < v.logicalBlocks()) {
                throw new VdoException(Errno.EINVAL, "volume " + name + " cannot shrink from " + v.logicalBlocks() * 4096L + " to " + newBytes + " bytes");
            }
            if (blocks == v.logicalBlocks()) return;
            op.phase("journal commit", 0);
            checkpointer.commitNow();
            synchronized (sbWriter.lock()) {
                SuperBlock.VolumeRecord rec = null;
                for (SuperBlock.VolumeRecord r : sb.volumes) if (r.name.equals(name)) rec = r;
                if (rec == null) throw new VdoException(Errno.ENOENT, "no volume " + name);
                long pages = BlockMap.pagesFor(blocks);
                if (pages <= rec.mapPages) {
                    v.blockMap().grow(blocks, rec.mapStart, rec.mapPages);
                } else {
                    // reserve the region durably before copying into it, so a lost super-block write
                    // after the copy can never hand those pages to a later volume
                    long start = takeRegionLocked(BlockMap.regionBlocks(pages), "volume " + name);
                    sbWriter.writeLocked();
                    v.blockMap().grow(blocks, start, pages, op);
                    rec.mapStart = start;
                    rec.mapPages = pages;
                }
                rec.logicalBlocks = blocks;
                sbWriter.writeLocked();
                v.setLogicalBlocks(blocks);
            }
        } catch (IOException e) {
            throw mode.storageError("resize of volume " + name, e);
        } finally {
            mappingLock.writeLock().unlock();
        }
    }

    /**
     * Takes {@code pages} blocks ({@link BlockMap#regionBlocks}) at the layout's end for a block-map region: checks the layout
     * limit, extends the pool file to the new end (which also probes that the filesystem can hold
     * a file that large), then moves the end. The caller writes the super block before using it.
     */
    private long takeRegionLocked(long pages, String what) throws IOException {
        long start = sb.nextRegionBlock;
        if (pages > SuperBlock.MAX_LAYOUT_BLOCKS - start) {
            throw new VdoException(Errno.EINVAL, what + ": the pool layout would end beyond block " + SuperBlock.MAX_LAYOUT_BLOCKS + " (SuperBlock.MAX_LAYOUT_BLOCKS)");
        }
        extendLayout(store, start + pages, "a block map region of " + pages + " blocks for " + what);
        sb.nextRegionBlock = start + pages;
        return start;
    }

    /**
     * Extends the pool file to {@code blocks}; EINVAL naming the size when the filesystem cannot
     * hold a file that long (EFBIG, "File too large"); any other I/O error is passed on as it is.
     */
    public static void extendLayout(BlockStore store, long blocks, String what) throws IOException {
        try {
            store.extendTo(blocks);
        } catch (IOException e) {
            if (StorageErrors.isNoSpace(e)) {
                throw new VdoException(Errno.ENOSPC, "pool file " + store.describe() + " cannot grow to " + blocks * 4096 + " bytes for " + what
                        + ": host filesystem full (" + e.getMessage() + ")", e);
            }
            if (e.getMessage() == null || !e.getMessage().contains("File too large")) throw e;
            throw new VdoException(Errno.EINVAL, "pool file " + store.describe() + " cannot grow to " + blocks * 4096 + " bytes for " + what
                    + " (" + e.getMessage() + "): the filesystem's largest file is smaller; use a smaller size or a filesystem with larger files");
        }
    }
}
