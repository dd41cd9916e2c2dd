package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.durability.Checkpointer;
import org.jvdo.core.durability.Flusher;
import org.jvdo.core.durability.ReadOnlyMode;
import org.jvdo.core.durability.Recovery;
import org.jvdo.core.durability.SpaceReservation;
import org.jvdo.core.durability.SuperBlockWriter;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.index.IndexFactory;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.core.read.ForeignPools;
import org.jvdo.core.read.ReadPath;
import org.jvdo.core.read.StoredBlocks;
import org.jvdo.core.volumes.EngineRegistry;
import org.jvdo.core.volumes.VolumeAdmin;
import org.jvdo.core.write.PipelineThreads;
import org.jvdo.core.write.WritePipeline;
import org.jvdo.journal.StorageErrors;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A pool: one backing file ({@value #DATA_FILE}, with segment files beside it) holding the super
 * block, the recovery journal, the slabs with their reference counts and every volume's block
 * map; plus the saved dedup index ({@value #INDEX_FILE}, advice only) and a lock file, all in
 * one folder. Volumes share the slab depot and the index, so a block written to two volumes is
 * stored once.
 *
 * <p>This class is the composition root and the lifecycle: {@link #create} formats, {@link #open}
 * opens ({@link Recovery} replays the journal and rebuilds reference counts after a crash),
 * {@link #close} is the clean shutdown. The work is done by the packages it wires together:
 * {@code write} (the {@link WritePipeline}, one class per stage), {@code read} ({@link ReadPath}),
 * {@code durability} (flush, checkpoint, recovery, read-only mode, slab space), {@code volumes}
 * (volume administration, compression engines), over {@code logical} (block maps),
 * {@code physical} (slab depot, super block, files) and {@code index}.
 *
 * <p>Threads: {@code jvdo-cpu-*} run the write pipeline, {@code jvdo-io-*} the reads,
 * {@code jvdo-flusher-1} flushes, the packer timeout and the background journal work; the
 * compression engines have their own workers.
 *
 * <p>Why about 400 lines: the lifecycle (create, open, close, crash) and the wiring of ~20 parts
 * are kept together on purpose, so that construction order and close order can be read side by
 * side; every stage's logic lives in its own package.
 */
public final class Pool implements AutoCloseable {
    static final Logger LOG = Logger.getLogger("org.jvdo.core");
    public static final String DATA_FILE = SegmentedBlockStore.DATA_FILE;
    public static final String INDEX_FILE = "index.jvdo";
    public static final String LOCK_FILE = "lock";
    public static final int ENGINE_LZ4 = EngineRegistry.ENGINE_LZ4;
    public static final int ENGINE_QAT = EngineRegistry.ENGINE_QAT;
    public static final int ENGINE_NONE = EngineRegistry.ENGINE_NONE;

    /** Whether {@code name} is a valid volume name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
    public static boolean isValidVolumeName(String name) { return VolumeAdmin.isValidName(name); }

    private final Path dir;
    private final PoolConfig cfg;
    final BlockStore store;
    final SuperBlock sb;
    private final FileChannel lockChannel;
    private final FileLock lock;
    final SlabDepot depot;
    final DedupIndex index;
    final ReentrantReadWriteLock mappingLock = new ReentrantReadWriteLock();
    final ReadOnlyMode mode;
    private final SuperBlockWriter sbWriter;
    private final EngineRegistry engines;
    final VolumeAdmin admin;
    final Checkpointer checkpointer;
    private final SpaceReservation space;
    private final Recovery recovery;
    final StoredBlocks storedBlocks;
    /** The pools this pool's foreign mappings name (format 4.0; empty otherwise). */
    final ForeignPools foreignPools;
    final WritePipeline pipeline;
    private final ReadPath reads;
    private final Flusher flusher;
    private final ExecutorService ioExecutor;
    private final ExecutorService cpuExecutor;
    private final ScheduledExecutorService flusherThread;
    /** The public face of each volume, one per {@link LogicalVolume}. */
    private final Map<LogicalVolume, Volume> faces = new ConcurrentHashMap<>();
    private final String openReport;
    private volatile boolean closing;
    private volatile boolean closed;

    Pool(Path dir, PoolConfig cfg, FileChannel lockChannel, FileLock lock, BlockStore store, SuperBlock sb,
                 boolean fresh) throws IOException {
        String indexMode;
        try {
            indexMode = IndexFactory.checkMode(cfg.indexMode);
        } catch (IllegalArgumentException e) {
            throw new org.jvdo.core.api.VdoException(org.jvdo.core.api.Errno.EINVAL, e.getMessage());
        }
        this.dir = dir;
        this.cfg = cfg;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.store = store;
        this.sb = sb;
        this.mode = new ReadOnlyMode(dir.toString(), store, sb);
        List<String> repairNotes = Collections.synchronizedList(new ArrayList<>());
        this.engines = new EngineRegistry(cfg);
        this.sbWriter = new SuperBlockWriter(sb, store, name -> volumeState(name));
        this.admin = new VolumeAdmin(cfg, store, sbWriter, engines, mode, mappingLock, repairNotes);
        this.space = new SpaceReservation(store, sb, mode, cfg.clock);
        this.depot = new SlabDepot(sb.slabDataBlocks, sb.physicalLimit, sb.slabAreaStart, sb.slabsInUse, space::addSlab);
        space.attach(depot);
        this.checkpointer = new Checkpointer(store, depot, mappingLock, admin::all, sbWriter, mode, cfg.clock);
        this.recovery = new Recovery();
        try {
            for (SuperBlock.VolumeRecord r : sb.volumes) admin.attachVolume(r, checkpointer);
        } catch (IOException | RuntimeException e) {
            engines.close();
            throw e;
        }
        checkpointer.attach(fresh ? Recovery.createJournal(store, sb) : recovery.open(dir, store, sb, cfg, admin.all(), depot, mode));
        StringBuilder report = recovery.report();
        // starts small (or at the saved file's size) and grows in small steps: its memory follows its entries
        if (cfg.indexSupplier != null) {
            this.index = cfg.indexSupplier.apply(sb.uuid);
            report.append("; index: ").append(index.mode());
        } else {
            this.index = IndexFactory.loadOrEmpty(dir.resolve(INDEX_FILE), indexMode, Math.min(cfg.indexMaxSlots, 1024),
                    cfg.indexMaxSlots, sb.mapAreaStart, this::mappingAt, report);
        }
        for (String n : repairNotes) report.append("; repair: ").append(n);
        this.openReport = report.toString();
        this.ioExecutor = Executors.newFixedThreadPool(cfg.ioThreads, daemon("jvdo-io"));
        this.cpuExecutor = Executors.newFixedThreadPool(cfg.cpuThreads, daemon("jvdo-cpu"));
        this.flusherThread = Executors.newSingleThreadScheduledExecutor(daemon("jvdo-flusher"));
        this.storedBlocks = new StoredBlocks(store);
        this.foreignPools = ForeignPools.load(dir);
        storedBlocks.foreignPools(foreignPools);
        this.pipeline = new WritePipeline(cfg.vioPoolSize, store, depot, index, checkpointer, mode, mappingLock, storedBlocks,
                new PipelineThreads(cpuExecutor, flusherThread), this::flush, cfg.clock);
        this.reads = new ReadPath(storedBlocks, pipeline.logicalReads(), ioExecutor, dir.toString());
        this.flusher = new Flusher(dir.toString(), pipeline, checkpointer, mode, flusherThread, () -> closed);
        admin.attach(checkpointer, depot, pipeline);
        if (!cfg.checkOnly && !mode.isReadOnly()) {
            space.reserveInUse();
            space.attachSlabAhead();
        }
        if (!fresh && !mode.isReadOnly()) {
            try {
                checkpointer.checkpoint();
            } catch (IOException e) {
                if (!StorageErrors.isNoSpace(e)) throw e;
                mode.noSpace("checkpoint at open", e);   // served degraded: the background checkpoint retries
            }
        }
        synchronized (sb) {
            sb.clean = false;
            if (!mode.isReadOnly()) sb.write(store);
        }
        long period = Math.max(1, cfg.packerTimeoutMillis / 4);
        flusherThread.scheduleWithFixedDelay(this::packerTimeout, period, period, TimeUnit.MILLISECONDS);
        flusherThread.scheduleWithFixedDelay(this::background, 100, 100, TimeUnit.MILLISECONDS);
        if (cfg.foreignBlocks != null && !cfg.checkOnly && !mode.isReadOnly()) {
            pipeline.enableForeign(cfg.foreignBlocks, foreignPools, this::uuid, this::ownerEpoch, admin::all);
        }
        PoolObserver.notifyOpened(this);
    }

    /**
     * The mapping of {@code volume}'s LBN as the block map holds it now (foreign mappings
     * included; {@code Mapping.UNMAPPED_ENTRY} for a hole), for the cluster's pins.
     */
    public long mappingOf(String volume, long lbn) throws IOException {
        LogicalVolume v = admin.get(volume);
        if (v == null || v.isDeleted()) throw new org.jvdo.core.api.VdoException(org.jvdo.core.api.Errno.ENOENT, "no volume " + volume);
        if (lbn < 0 || lbn >= v.logicalBlocks()) throw new org.jvdo.core.api.VdoException(org.jvdo.core.api.Errno.EINVAL, "lbn " + lbn + " beyond volume " + volume);
        return v.blockMap().get(lbn);
    }

    /**
     * Creates an internal volume (name starting with "~": another pool's reference slots,
     * docs/cluster.md); never exported.
     */
    public Volume createInternalVolume(String name, long logicalBytes) throws IOException {
        if (!name.startsWith("~")) throw new IllegalArgumentException("not an internal volume name: " + name);
        return face(admin.createInternal(name, logicalBytes, cfg.defaultEngine));
    }

    /**
     * Makes every journal entry appended so far durable (data first, then the journal), without
     * waiting for the writes in flight as {@link #flush} does: the pins of another pool (docs/cluster.md).
     */
    public void commitJournal() throws IOException { checkpointer.commitNow(); }

    /** Pins done, pins refused, unpins sent, unpins waiting for their pool's owner (a cluster member's pool). */
    public long[] foreignFigures() { return pipeline.foreignFigures(); }

    /** A volume's current mapping at an LBN for the sparse index (-1: no such volume or LBN, no block, unreadable). */
    private long mappingAt(int volumeId, long lbn) {
        for (LogicalVolume v : admin.all()) {
            if (v.id() != volumeId) continue;
            if (v.isDeleted() || lbn < 0 || lbn >= v.logicalBlocks()) return -1;
            try {
                long m = v.blockMap().get(lbn);
                return org.jvdo.core.logical.Mapping.hasBlock(m) ? m : -1;
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }
        return -1;
    }

    private static ThreadFactory daemon(String name) {
        AtomicLong n = new AtomicLong();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    // ---------------------------------------------------------------- lifecycle

    /** The owner epoch (format 3.1) this pool was opened or claimed with; 0 when never claimed by a cluster member. */
    public long ownerEpoch() { synchronized (sb) { return sb.ownerEpoch; } }

    /**
     * The owner epoch in the super block of the pool in {@code dir}, read now from the file without
     * opening or locking the pool (a member's lease checking that nobody took the pool over).
     */
    public static long storedOwnerEpoch(java.nio.file.Path dir) throws java.io.IOException {
        return PoolFiles.readSuperBlock(dir).ownerEpoch;
    }

    /** The pool's UUID (its super block's). */
    public java.util.UUID uuid() { synchronized (sb) { return sb.uuid; } }

    /** The super block's owner epoch and member, read from the pool file without opening it (see docs/cluster.md). */
    public static SuperBlock superBlockOf(Path dir) throws IOException { return PoolFiles.readSuperBlock(dir); }

    public static boolean exists(Path dir) { return Files.exists(dir.resolve(DATA_FILE)); }

    /** Formats a new pool in {@code dir} (created if missing); refuses if one is there already (see {@link PoolFiles#create}). */
    public static Pool create(Path dir, PoolConfig cfg) throws IOException { return PoolFiles.create(dir, cfg); }

    /** Opens an existing pool; after an unclean shutdown it replays the journal and rebuilds reference counts. */
    public static Pool open(Path dir, PoolConfig cfg) throws IOException { return PoolFiles.open(dir, cfg); }

    public static Pool openOrCreate(Path dir, PoolConfig cfg) throws IOException {
        return exists(dir) ? open(dir, cfg) : create(dir, cfg);
    }

    /** The clean shutdown: everything acknowledged is written, the journal checkpointed, counts and index saved. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closing = true;
        mode.shutdown();
        try {
            if (!mode.isReadOnly()) {
                try {
                    flush().get(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException | TimeoutException e) {
                    LOG.log(Level.WARNING, "final flush failed", e);
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (pipeline.busy() && System.nanoTime() < deadline) {
                pipeline.flushPacker();
                try { Thread.sleep(2); } catch (InterruptedException e) { Thread.currentThread().interrupt(); break; }
            }
            if (pipeline.busy()) LOG.warning("pool " + dir + ": closing with writes still in flight after 30 s: " + String.join("; ", pipeline.inFlight()));
            pipeline.stopForeign(true);
            flusherThread.shutdown();
            try { flusherThread.awaitTermination(10, TimeUnit.SECONDS); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            PoolObserver.notifyClosing(this);
            if (!mode.isReadOnly()) {
                checkpointer.checkpoint();
                synchronized (sb) {
                    sb.refcountCrc = depot.save(store);
                    sb.slabsInUse = depot.slabCount();
                    store.sync();
                    sb.clean = true;
                    sbWriter.writeLocked();
                }
                try {
                    if (cfg.writeFence != null) cfg.writeFence.check(); // a fenced member writes no file of the pool
                    index.save(dir.resolve(INDEX_FILE));
                } catch (IOException e) {
                    LOG.warning("could not save the dedup index (advice only): " + e.getMessage());
                }
            }
        } finally {
            closed = true;
            shutdownThreads();
            try {
                index.close();
            } catch (RuntimeException e) {
                LOG.warning("closing the dedup index: " + e);
            }
            try {
                foreignPools.close();
            } catch (IOException e) {
                LOG.fine("closing foreign pools: " + e);
            }
            store.close();
            if (lock != null) lock.release();
            lockChannel.close();
        }
    }

    /**
     * Stops the pool as a crash would: no flush, no checkpoint, nothing more written. What was
     * written before stays in the file, as after {@code kill -9}. For tests.
     */
    public synchronized void crash() throws IOException {
        if (closed) return;
        mode.crashed();
        closing = true;
        closed = true;
        pipeline.stopForeign(false);
        shutdownThreads();
        store.close();
        if (lock != null) lock.release();
        lockChannel.close();
    }

    private void shutdownThreads() {
        flusherThread.shutdownNow();
        ioExecutor.shutdownNow();
        cpuExecutor.shutdownNow();
        engines.close();
    }

    /** On the flusher: every bin whose oldest fragment has waited the packer timeout is written. */
    private void packerTimeout() {
        try {
            pipeline.flushPackerOlderThan(cfg.clock.getAsLong() - TimeUnit.MILLISECONDS.toNanos(cfg.packerTimeoutMillis));
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "packer timeout flush failed", t);
        }
    }

    /** On the flusher, every 100 ms: keep the journal short, blocks freed by overwrites reusable, a slab ahead. */
    private void background() {
        if (mode.isReadOnly() || mode.isCrashed()) return;
        try {
            boolean normal = mode.noSpaceReason() == null;
            checkpointer.background();
            if (normal) space.attachSlabAhead();
        } catch (IOException e) {
            mode.storageError("background journal commit", e);
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "background work failed", t);
        }
    }

    /** What the open found and did (journal replay, rebuilds), for the log. */
    public String openReport() { return openReport; }

    /** The journal damage the open found (durable entries unreadable), or null. */
    public String journalDamage() { return recovery.journalDamage(); }

    /** False when the open found an unclean shutdown and recovered. */
    public boolean wasClean() { return recovery.wasClean(); }

    public long replayedEntries() { return recovery.replayedEntries(); }

    /** How long the open's recovery work (journal replay, reference counts) took, in milliseconds (0 for a new pool). */
    public long recoveryMillis() { return recovery.durationNanos() / 1_000_000; }

    /** Mapped blocks the open's reference-count rebuild visited, or -1 when the stored counts were loaded. */
    public long rebuiltBlocks() { return recovery.rebuiltBlocks(); }

    /** The volume deletes and resizes running now, oldest first. */
    public List<org.jvdo.core.api.Operation> operations() { return admin.operations(); }

    /** For a check-only open of a clean pool: whether the stored reference counts passed their checksum. */
    public boolean storedRefcountsValid() { return recovery.storedRefcountsValid(); }

    /** The read-only reason recorded in the super block at open, or null. */
    public String recordedReadOnlyReason() { return recovery.recordedReadOnlyReason(); }

    /** Why one super-block copy was unusable when the pool was opened (null: both were valid). */
    String superBlockDamage() { return sb.badCopy; }

    // ---------------------------------------------------------------- volumes

    public Volume createVolume(String name, long logicalBytes) throws IOException {
        return createVolume(name, logicalBytes, cfg.defaultEngine);
    }

    public Volume createVolume(String name, long logicalBytes, String engine) throws IOException {
        return face(admin.create(name, logicalBytes, engine));
    }

    public Volume volume(String name) { return face(admin.get(name)); }

    LogicalVolume volumeState(String name) { return admin.get(name); }

    private Volume face(LogicalVolume v) {
        return v == null ? null : faces.computeIfAbsent(v, x -> new Volume(this, x));
    }

    /** The volumes users see (and serve): every volume but the internal ones ({@link #allVolumes}). */
    public Collection<Volume> volumes() {
        List<Volume> l = new ArrayList<>();
        for (LogicalVolume v : admin.all()) if (!v.isInternal()) l.add(face(v));
        l.sort((a, b) -> Integer.compare(a.id(), b.id()));
        return l;
    }

    /** Every volume, the internal ones included (other pools' reference slots, docs/cluster.md). */
    public Collection<Volume> allVolumes() {
        List<Volume> l = new ArrayList<>();
        for (LogicalVolume v : admin.all()) l.add(face(v));
        l.sort((a, b) -> Integer.compare(a.id(), b.id()));
        return l;
    }

    /** Chooses the compression engine for the volume's new writes; persisted in the super block (see {@link VolumeAdmin#setEngine}). */
    public void setVolumeEngine(String volumeName, String engine) throws IOException { admin.setEngine(volumeName, engine); }

    /** Deletes a volume and frees its blocks (see {@link VolumeAdmin#delete}). */
    public void deleteVolume(String name) throws IOException {
        if (name.startsWith("~")) {
            // its slots are other pools' references: dropping them would free blocks those pools map
            throw new org.jvdo.core.api.VdoException(org.jvdo.core.api.Errno.EPERM, "volume " + name
                    + " holds another pool's references (docs/cluster.md) and cannot be deleted");
        }
        admin.delete(name);
        faces.keySet().removeIf(v -> admin.get(v.name()) != v);
    }

    /** Grows a volume while it is in use; shrinking is refused (see {@link VolumeAdmin#resize}). */
    public void resizeVolume(String name, long newBytes) throws IOException { admin.resize(name, newBytes); }

    /** Names of the engines this pool can use now. */
    public List<String> engineNames() { return engines.names(); }

    /** Engines found on the class path but unusable now, each with the reason. */
    public Map<String, String> unavailableEngines() { return engines.unavailable(); }

    /** Per-engine counters as {@code engine_<name>_<key>}: requests, bytes_in, bytes_out, fallbacks, errors. */
    public Map<String, Long> engineStats() { return engines.stats(); }

    // ---------------------------------------------------------------- I/O entry points (from Volume)

    WritePipeline pipeline() { return pipeline; }

    ReadPath reads() { return reads; }

    /** Makes every write acknowledged before this call durable. */
    public CompletableFuture<Void> flush() { return flusher.flush(); }

    /** Writes dirty block-map pages and trims the journal (tests; the pool does it by itself). */
    void checkpoint() throws IOException { checkpointer.checkpoint(); }

    // ---------------------------------------------------------------- mode

    /**
     * A write, trim or zeroing on a fenced pool (docs/cluster.md: another member took it over)
     * fails at once instead of being acknowledged into memory; null while this process may write.
     */
    java.util.concurrent.CompletableFuture<Void> refusedByFence() {
        org.jvdo.core.api.WriteFence f = cfg.writeFence;
        if (f == null) return null;
        try {
            f.check();
            return null;
        } catch (org.jvdo.core.api.FencedException e) {
            return java.util.concurrent.CompletableFuture.failedFuture(new org.jvdo.core.api.VdoException(org.jvdo.core.api.Errno.EIO, e.getMessage(), e));
        }
    }

    public boolean isReadOnly() { return mode.isReadOnly(); }

    public String readOnlyReason() { return mode.readOnlyReason(); }

    /** {@code normal}, {@code read-only} or {@code no-space}. */
    public String mode() { return mode.mode(); }

    /** Why the host filesystem is considered full for this pool, or null (see {@link #mode()}). */
    public String noSpaceReason() { return mode.noSpaceReason(); }

    // ---------------------------------------------------------------- statistics

    /** Pool statistics: {@code vdostats --verbose} names in snake_case, plus zram's same_pages (see {@link PoolStatistics}). */
    public Map<String, Long> stats() { return PoolStatistics.of(this); }

    /** zram's mm_stat fields with jvdo's meanings (see {@link PoolStatistics#mmStat}); walks the block maps. */
    public Map<String, Long> mmStat() throws IOException { return PoolStatistics.mmStat(this); }

    /** As {@link #mmStat()}, and puts the blocks saved by zero blocks, dedupe and compression into {@code saved} in the same walk. */
    public Map<String, Long> mmStat(Map<String, Long> saved) throws IOException { return PoolStatistics.mmStat(this, saved); }

    /** Reference counts recomputed from every block map compared with the depot's; returns a description of each difference (empty when consistent). */
    public List<String> verifyReferenceCounts() throws IOException { return PoolStatistics.verifyReferenceCounts(this); }

    /** Blocks until no write is in flight (tests, statistics snapshots). */
    public void quiesce() throws IOException {
        try {
            flush().get(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("flush failed: " + e.getMessage(), e);
        }
    }

    /** Latency of each write-path stage (see {@link WritePipeline#stageLatencies()}). */
    public Map<String, LatencyHistogram> stageLatencies() { return pipeline.stageLatencies(); }

    /** The writes in flight, one line each with the stage it is in, then queue and lock counts (for a dump when stuck). */
    public List<String> inFlight() { return pipeline.inFlight(); }

    /** Vios waiting for a free slot in the vio pool (back-pressure). */
    public int vioPoolWaiting() { return pipeline.vioPoolWaiting(); }

    public Path directory() { return dir; }

    public PoolConfig config() { return cfg; }
}
