package org.jvdo.core;

import org.jvdo.core.compress.CompressionEngine;
import org.jvdo.core.compress.CompressionEngineProvider;
import org.jvdo.core.compress.FallbackEngine;
import org.jvdo.core.compress.Lz4Engine;
import org.jvdo.core.compress.NoCompressionEngine;
import org.jvdo.journal.JournalEntry;
import org.jvdo.journal.RecoveryJournal;
import org.jvdo.journal.StorageErrors;
import org.jvdo.packer.Packer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * A pool: one backing file ({@value #DATA_FILE}) holding the super block, the recovery journal,
 * the slabs with their reference counts and every volume's block map; plus the saved dedup index
 * ({@value #INDEX_FILE}, advice only) and a lock file, all in one folder. Volumes share the slab
 * depot and the index, so a block written to two volumes is stored once.
 *
 * <p>Lifecycle: {@link #create} formats, {@link #open} opens, replaying the journal and rebuilding
 * reference counts from the block maps after a crash; {@link #close} is the clean shutdown.
 */
public final class Pool implements AutoCloseable {
    static final Logger LOG = Logger.getLogger("org.jvdo.core");
    public static final String DATA_FILE = "pool.jvdo";
    public static final String INDEX_FILE = "index.jvdo";
    public static final String LOCK_FILE = "lock";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** Whether {@code name} is a valid volume name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
    public static boolean isValidVolumeName(String name) { return name != null && NAME.matcher(name).matches(); }
    private static final ByteBuffer ZEROS = ByteBuffer.allocate(4096).asReadOnlyBuffer();
    public static final int ENGINE_LZ4 = 0;
    public static final int ENGINE_QAT = 1;
    public static final int ENGINE_NONE = 2;

    private final Path dir;
    private final PoolConfig cfg;
    final BlockStore store;
    private final SuperBlock sb;
    final SlabDepot depot;
    RecoveryJournal journal;
    final DedupIndex index;
    final Packer<DataVio> packer;
    final VioPool vios;
    final WritePath path;
    final FlushTracker flushTracker = new FlushTracker();
    final ReentrantReadWriteLock mappingLock = new ReentrantReadWriteLock();
    final LongAdder compressedBlocksWritten = new LongAdder();
    /** Writers that found the journal ring full and checkpointed before appending (back-pressure). */
    final LongAdder journalFullWaits = new LongAdder();
    /** Reads (and read-modify-writes) whose data did not match its stored checksum. */
    final LongAdder checksumErrors = new LongAdder();
    /** Write-path stage latencies (see {@link #stageLatencies()}). */
    final LatencyHistogram latHash = new LatencyHistogram(), latIndex = new LatencyHistogram(),
            latVerify = new LatencyHistogram(), latCompress = new LatencyHistogram(), latPack = new LatencyHistogram(),
            latJournal = new LatencyHistogram(), latAck = new LatencyHistogram();
    private final Map<String, Volume> volumes = new ConcurrentHashMap<>();
    private final Map<String, CompressionEngine> engines = new LinkedHashMap<>();
    /** Pluggable engines found but unusable now, with the reason; volumes configured for them fall back to lz4. */
    private final Map<String, String> unavailableEngines = new LinkedHashMap<>();
    private final Map<String, FallbackEngine> fallbackEngines = new LinkedHashMap<>();
    private final ExecutorService ioExecutor;
    private final ExecutorService cpuExecutor;
    private final ScheduledExecutorService flusher;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final AtomicLong flushReady = new AtomicLong();
    /** Blocks of submitted writes, trims and write-zeroes not yet in their LBN's queue (waiting for a vio). */
    private final AtomicLong vioWaits = new AtomicLong();
    private long flushSynced;
    private long lastBackgroundCommit = System.nanoTime();
    private volatile String readOnlyReason;
    private final Object readOnlyLock = new Object();
    /**
     * Set while the host filesystem is full for metadata this pool must write (journal blocks,
     * block-map pages at a checkpoint, the super block): new writes get ENOSPC, and every
     * checkpoint (the background one every 100 ms) retries; the first that succeeds clears it.
     * Not recorded in the super block: nothing is damaged. Null when space is fine.
     */
    private volatile String noSpaceReason;
    /** Storage operations that met a full host filesystem (each counted once, retries not counted). */
    final LongAdder noSpaceErrors = new LongAdder();
    /** Acknowledged writes that could not be stored for want of space, not yet reported by a flush. */
    private final AtomicLong lostWrites = new AtomicLong();
    private final LongAdder lostWritesTotal = new LongAdder();
    /** Flush tickets whose flush reports lost writes (every flush one sync served fails alike). */
    private long lossFromTicket = Long.MAX_VALUE, lossToTicket = Long.MIN_VALUE;
    /**
     * Early acknowledgement is off for the rest of this open once the file's space turned out
     * not to be reserved (a data write met ENOSPC, or the reservation at open failed): writes are
     * then acknowledged only once stored, so ENOSPC reaches their client instead of a flush.
     */
    private volatile boolean earlyAckOff;
    private volatile boolean closing;
    private volatile boolean closed;
    private volatile boolean crashed;
    private final String openReport;
    private boolean wasClean = true;
    private long replayedEntries;
    private boolean refcountsLoaded = true;
    private String recordedReadOnly;
    private volatile long checkpoints;
    private String journalDamage;
    /** What a repair open gave up (block-map pages that failed validation), for its report. */
    private final List<String> repairNotes = java.util.Collections.synchronizedList(new ArrayList<>());

    private Pool(Path dir, PoolConfig cfg, FileChannel lockChannel, FileLock lock, BlockStore store, SuperBlock sb,
                 boolean fresh) throws IOException {
        this.dir = dir;
        this.cfg = cfg;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.store = store;
        this.sb = sb;
        this.path = new WritePath(this);
        this.depot = new SlabDepot(sb.slabDataBlocks, sb.physicalLimit, sb.slabAreaStart, sb.slabsInUse, this::addSlab);
        engines.put("lz4", new Lz4Engine(cfg.compressionThreads, Math.max(1024, cfg.vioPoolSize * 2)));
        engines.put("none", new NoCompressionEngine());
        try {
            loadEngineProviders();
            for (SuperBlock.VolumeRecord r : sb.volumes) attachVolume(r);
        } catch (IOException | RuntimeException e) {
            for (CompressionEngine en : engines.values()) en.close();
            throw e;
        }
        JournalRegion region = new JournalRegion(store, sb.journalStart, sb.journalBlocks);
        StringBuilder report = new StringBuilder();
        if (fresh) {
            journal = RecoveryJournal.create(region, sb.nonce);
        } else {
            Map<Integer, Volume> byId = new LinkedHashMap<>();
            for (Volume v : volumes.values()) byId.put(v.id(), v);
            long[] replayed = {0, 0};
            try {
                journal = RecoveryJournal.open(region, sb.nonce, sb.journalHeadBlockSeq, sb.journalHeadEntrySeq, !cfg.checkOnly, e -> {
                    if (e.op() != JournalEntry.OP_MAP) return;
                    Volume v = byId.get(e.volume());
                    if (v == null) { replayed[1]++; return; }
                    if (!Mapping.isValid(e.newMapping()) || e.lbn() < 0 || e.lbn() >= v.logicalBlocks()) {
                        throw new CorruptPoolException(store.describe() + ": journal entry for volume " + v.name()
                                + " lbn " + e.lbn() + " holds invalid mapping " + Mapping.describe(e.newMapping()));
                    }
                    try {
                        v.blockMap().set(e.lbn(), e.newMapping(), e.checksum(), 0);
                    } catch (IOException io) {
                        throw new UncheckedIOException(io);
                    }
                    replayed[0]++;
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            org.jvdo.journal.ReplayResult rr = journal.replayResult();
            if (rr.damaged()) {
                journalDamage = rr.damage();
                if (cfg.checkOnly) {
                    report.append("journal damaged: ").append(rr.damage()).append("; ");
                } else if (cfg.repair) {
                    int n = journal.discardBeyondEnd();
                    report.append("repair: journal damaged (").append(rr.damage()).append("): discarded ").append(n)
                            .append(" journal blocks (the unreadable one if written completely, and the later ones) holding ")
                            .append(rr.discarded().size()).append(" readable entries")
                            .append(describeDiscarded(rr.discarded(), byId)).append("; ");
                } else {
                    throw new CorruptPoolException(store.describe() + ": " + rr.damage()
                            + "; the pool is not served. `jvdo check " + dir + "` shows the damage; `jvdo check --repair` discards the"
                            + " unreadable entries and the " + rr.discarded().size() + " readable ones that depend on them (it lists them)");
                }
            }
            boolean recover = !sb.clean || replayed[0] > 0;
            report.append("journal: ").append(rr.entriesReplayed()).append(" entries in ").append(rr.blocksReplayed())
                    .append(" blocks replayed");
            wasClean = !recover;
            replayedEntries = replayed[0];
            if (cfg.checkOnly && !recover) {
                refcountsLoaded = depot.load(store, sb.refcountCrc);
                if (!refcountsLoaded) report.append("; stored reference counts fail their checksum");
            } else if (recover || cfg.repair) {
                if (recover) report.append("; recovered after an unclean shutdown: replayed ").append(replayed[0]).append(" mappings");
                else report.append("; repair: reference counts rebuilt from the block maps");
                rebuildReferenceCounts();
            } else if (!depot.load(store, sb.refcountCrc)) {
                report.append("; reference counts failed their checksum: rebuilt from the block maps");
                rebuildReferenceCounts();
            }
            if (sb.readOnly && cfg.repair && !cfg.checkOnly) {
                report.append("; repair: left read-only mode (was: ").append(sb.readOnlyReason).append(")");
                sb.readOnly = false;
                sb.readOnlyReason = "";
            }
            if (sb.readOnly) readOnlyReason = sb.readOnlyReason.isEmpty() ? "read-only mode recorded in the super block" : sb.readOnlyReason;
            recordedReadOnly = sb.readOnly ? readOnlyReason : null;
            if (cfg.checkOnly) readOnlyReason = "opened for checking";
        }
        this.index = loadIndex(report);
        for (String n : repairNotes) report.append("; repair: ").append(n);
        this.openReport = report.toString();
        this.packer = new Packer<>(Packer.DEFAULT_BIN_COUNT, path::writeBin);
        this.vios = new VioPool(cfg.vioPoolSize, () -> new DataVio(path));
        this.ioExecutor = Executors.newFixedThreadPool(cfg.ioThreads, daemon("jvdo-io"));
        this.cpuExecutor = Executors.newFixedThreadPool(cfg.cpuThreads, daemon("jvdo-cpu"));
        this.flusher = Executors.newSingleThreadScheduledExecutor(daemon("jvdo-flusher"));
        if (!cfg.checkOnly && readOnlyReason == null) {
            reserveInUse();
            attachSlabAhead();
        }
        if (!fresh && readOnlyReason == null) {
            try {
                checkpoint();
            } catch (IOException e) {
                if (!StorageErrors.isNoSpace(e)) throw e;
                noSpace("checkpoint at open", e);   // served degraded: the background checkpoint retries
            }
        }
        synchronized (sb) {
            sb.clean = false;
            if (readOnlyReason == null) sb.write(store);
        }
        long period = Math.max(1, cfg.packerTimeoutMillis / 4);
        flusher.scheduleWithFixedDelay(this::packerTimeout, period, period, TimeUnit.MILLISECONDS);
        flusher.scheduleWithFixedDelay(this::background, 100, 100, TimeUnit.MILLISECONDS);
        PoolObserver.notifyOpened(this);
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        AtomicLong n = new AtomicLong();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    // ---------------------------------------------------------------- lifecycle

    public static boolean exists(Path dir) { return Files.exists(dir.resolve(DATA_FILE)); }

    /** Formats a new pool in {@code dir} (created if missing); refuses if one is there already. */
    public static Pool create(Path dir, PoolConfig cfg) throws IOException {
        Files.createDirectories(dir);
        if (exists(dir)) throw new VdoException(Errno.EINVAL, "a pool already exists in " + dir);
        if (Files.exists(SegmentedBlockStore.segmentPath(dir, 1))) {
            throw new VdoException(Errno.EINVAL, "a segment file of an earlier pool is in " + dir + " (" + SegmentedBlockStore.segmentPath(dir, 1)
                    + "); remove it before creating a pool there");
        }
        if (cfg.physicalBytes < 4096L * 16) throw new VdoException(Errno.EINVAL, "physical size " + cfg.physicalBytes + " is too small");
        if (cfg.physicalBytes / 4096 > SuperBlock.MAX_PHYSICAL_BLOCKS) {
            throw new VdoException(Errno.EINVAL, "physical size " + cfg.physicalBytes + " bytes is beyond the limit of 256 TiB (SuperBlock.MAX_PHYSICAL_BLOCKS = 2^36 blocks)");
        }
        if (cfg.slabDataBlocks < 16 || cfg.journalBlocks < 16) throw new VdoException(Errno.EINVAL, "slab or journal size too small");
        FileChannel lc = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = acquireLock(dir, lc);
        BlockStore store = null;
        boolean created = false;
        try {
            int shift = cfg.segmentShift > 0 ? cfg.segmentShift : SegmentedBlockStore.probeSegmentShift(dir);
            SegmentedBlockStore file = SegmentedBlockStore.create(dir, shift);
            created = true;
            store = cfg.storeWrapper.apply(file);
            SecureRandom rnd = new SecureRandom();
            SuperBlock sb = new SuperBlock();
            sb.uuid = UUID.randomUUID();
            sb.nonce = rnd.nextLong();
            sb.journalBlocks = cfg.journalBlocks;
            sb.slabDataBlocks = cfg.slabDataBlocks;
            sb.slabRefBlocks = SlabDepot.refBlocksFor(cfg.slabDataBlocks);
            sb.physicalLimit = cfg.physicalBytes / 4096;
            sb.segmentShift = shift;
            sb.formatLayout();
            extendLayout(store, sb.nextRegionBlock, "the slab area for " + cfg.physicalBytes + " bytes of physical space");
            sb.write(store);
            try {
                // the journal's space is allocated up front, so its writes cannot meet a full filesystem
                store.reserve(sb.journalStart, sb.journalBlocks);
            } catch (IOException e) {
                if (!StorageErrors.isNoSpace(e)) throw e;
                throw new VdoException(Errno.ENOSPC, "no space in the filesystem of " + store.describe() + " for the recovery journal ("
                        + sb.journalBlocks * 4096L + " bytes): " + e.getMessage(), e);
            }
            return new Pool(dir, cfg, lc, lock, store, sb, true);
        } catch (IOException | RuntimeException e) {
            if (store != null) store.close();
            if (created) {  // a refused create leaves no half-made pool
                for (Path seg : SegmentedBlockStore.existingSegments(dir)) Files.deleteIfExists(seg);
            }
            lock.release();
            lc.close();
            throw e;
        }
    }

    /** Opens an existing pool; after an unclean shutdown it replays the journal and rebuilds reference counts. */
    public static Pool open(Path dir, PoolConfig cfg) throws IOException {
        if (!exists(dir)) throw new VdoException(Errno.EINVAL, "no pool in " + dir + " (missing " + dir.resolve(DATA_FILE) + ")");
        FileChannel lc = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = acquireLock(dir, lc);
        BlockStore store = null;
        try {
            SegmentedBlockStore file = SegmentedBlockStore.open(dir);
            store = cfg.storeWrapper.apply(file);
            if (store.sizeInBlocks() < SuperBlock.JOURNAL_START) {
                throw new CorruptPoolException(store.describe() + ": file is truncated (" + store.sizeInBlocks() + " blocks, no complete super block)");
            }
            SuperBlock sb = SuperBlock.read(store);
            file.configure(sb.segmentShift);
            if (sb.journalStart != SuperBlock.JOURNAL_START || sb.slabRefBlocks != SlabDepot.refBlocksFor(sb.slabDataBlocks)) {
                throw new CorruptPoolException(store.describe() + ": super block geometry is inconsistent");
            }
            if (store.sizeInBlocks() < sb.nextRegionBlock) {
                throw new CorruptPoolException(store.describe() + ": file is truncated: " + store.sizeInBlocks() + " blocks, but its layout ends at block "
                        + sb.nextRegionBlock + " (" + sb.nextRegionBlock * 4096 + " bytes)");
            }
            return new Pool(dir, cfg, lc, lock, store, sb, false);
        } catch (IOException | RuntimeException e) {
            if (store != null) store.close();
            lock.release();
            lc.close();
            throw e;
        }
    }

    public static Pool openOrCreate(Path dir, PoolConfig cfg) throws IOException {
        return exists(dir) ? open(dir, cfg) : create(dir, cfg);
    }

    private static FileLock acquireLock(Path dir, FileChannel lc) throws IOException {
        FileLock l;
        try {
            l = lc.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            lc.close();
            throw new VdoException(Errno.EBUSY, "pool " + dir + " is in use by another jvdo (lock file " + dir.resolve(LOCK_FILE) + ")");
        }
        return l;
    }

    private static String describeDiscarded(List<JournalEntry> entries, Map<Integer, Volume> byId) {
        StringBuilder b = new StringBuilder(" (the blocks they mapped keep their older contents:");
        int shown = 0;
        for (JournalEntry e : entries) {
            if (e.op() != JournalEntry.OP_MAP) continue;
            if (shown++ == 32) { b.append(" ..."); break; }
            Volume v = byId.get(e.volume());
            b.append(' ').append(v != null ? v.name() : "volume#" + e.volume()).append(" lbn ").append(e.lbn());
        }
        return b.append(')').toString();
    }

    /** The journal damage the open found (durable entries unreadable), or null. */
    public String journalDamage() { return journalDamage; }

    /** False when the open found an unclean shutdown and recovered. */
    public boolean wasClean() { return wasClean; }

    /** Why one super-block copy was unusable when the pool was opened (null: both were valid). */
    String superBlockDamage() { return sb.badCopy; }

    public long replayedEntries() { return replayedEntries; }

    /** For a check-only open of a clean pool: whether the stored reference counts passed their checksum. */
    public boolean storedRefcountsValid() { return refcountsLoaded; }

    /** The read-only reason recorded in the super block at open, or null. */
    public String recordedReadOnlyReason() { return recordedReadOnly; }

    /** What the open found and did (journal replay, rebuilds), for the log. */
    public String openReport() { return openReport; }

    private DedupIndex loadIndex(StringBuilder report) {
        Path f = dir.resolve(INDEX_FILE);
        int initial = (int) Math.min(cfg.indexMaxSlots, Math.max(1024, depot.dataBlocksUsed() * 2));
        try {
            MemoryIndex idx = MemoryIndex.load(f, cfg.indexMaxSlots);
            report.append("; index: loaded ").append(idx.entries()).append(" entries");
            return idx;
        } catch (NoSuchFileException e) {
            return new MemoryIndex(initial, cfg.indexMaxSlots);
        } catch (IOException | RuntimeException e) {
            LOG.warning("dedup index unusable, starting an empty one (advice only, no data lost): " + e.getMessage());
            report.append("; index: ").append(e.getMessage()).append(" - started empty");
            return new MemoryIndex(initial, cfg.indexMaxSlots);
        }
    }

    private void attachVolume(SuperBlock.VolumeRecord r) throws IOException {
        BlockMap map = new BlockMap(r.name, store, r.mapStart, r.mapPages, r.logicalBlocks, cfg.blockMapCachePages,
                cfg.blockMapTreeCachePages, this::ensureDurable);
        if (cfg.repair && !cfg.checkOnly) map.repairBadPages(repairNotes::add);
        map.validateTree();     // the region's top bitmap page: refused when bad (rebuilt in repair mode)
        volumes.put(r.name, new Volume(this, r, map, engineFor(r.engine, r.name)));
    }

    /**
     * Finds {@link CompressionEngineProvider}s on the class path; each available one (and not in
     * {@link PoolConfig#disabledEngines}) becomes an engine, the others are recorded with why.
     */
    private void loadEngineProviders() {
        java.util.Iterator<CompressionEngineProvider> it = java.util.ServiceLoader.load(CompressionEngineProvider.class).iterator();
        while (true) {
            CompressionEngineProvider p;
            try {
                if (!it.hasNext()) break;
                p = it.next();
            } catch (java.util.ServiceConfigurationError e) {
                LOG.log(Level.WARNING, "compression engine provider failed to load", e);
                continue;
            }
            String name = p.name();
            if (!"qat".equals(name)) {
                LOG.warning("ignoring compression engine provider '" + name + "': only 'qat' has a super-block engine code");
                continue;
            }
            if (engines.containsKey(name) || unavailableEngines.containsKey(name)) continue;
            String reason;
            if (cfg.disabledEngines.contains(name)) {
                reason = "disabled by configuration";
            } else {
                try {
                    CompressionEngineProvider.Availability a = p.availability(cfg);
                    if (a.available()) {
                        engines.put(name, p.create(cfg));
                        continue;
                    }
                    reason = a.reason();
                } catch (RuntimeException | LinkageError e) {
                    reason = e.toString();
                }
            }
            unavailableEngines.put(name, reason);
            LOG.fine("compression engine " + name + " unavailable: " + reason);
        }
    }

    private String engineName(int code) {
        return switch (code) {
            case ENGINE_NONE -> "none";
            case ENGINE_QAT -> "qat";
            default -> "lz4";
        };
    }

    /** The engine for a volume's recorded engine code, applying the fallback policy when it is unavailable. */
    private CompressionEngine engineFor(int code, String volumeName) {
        String name = engineName(code);
        CompressionEngine e = engines.get(name);
        if (e != null) return e;
        String reason = unavailableEngines.getOrDefault(name, "no provider for it on the class path (qat-bridge missing)");
        if (cfg.strictEngines) {
            throw new VdoException(Errno.ENOTSUP, "volume " + volumeName + " is configured for compression engine " + name
                    + ", which is unavailable: " + reason + " (strict engine policy; without it the volume would use lz4)");
        }
        LOG.warning("volume " + volumeName + ": compression engine " + name + " unavailable (" + reason + "), using lz4");
        return fallbackEngines.computeIfAbsent(name, n -> new FallbackEngine(n, reason, engines.get("lz4")));
    }

    private static int engineCode(String name) {
        return switch (name) {
            case "lz4" -> ENGINE_LZ4;
            case "none" -> ENGINE_NONE;
            case "qat" -> ENGINE_QAT;
            default -> throw new VdoException(Errno.EINVAL, "unknown compression engine '" + name + "' (lz4, none, qat)");
        };
    }

    /** Refuses an engine that cannot be used now (for new volumes and engine changes). */
    private void requireAvailable(String name) {
        if (engines.containsKey(name)) return;
        String reason = unavailableEngines.getOrDefault(name, "no provider for it on the class path (qat-bridge missing)");
        throw new VdoException(Errno.ENOTSUP, "compression engine " + name + " is unavailable: " + reason);
    }

    /** Rebuilds every reference count and each volume's usage from the block maps, the truth after a crash. */
    private void rebuildReferenceCounts() throws IOException {
        depot.clear();
        for (Volume v : volumes.values()) {
            long[] used = {0, 0};
            v.blockMap().forEachMapped((lbn, m) -> {
                used[0]++;
                if (Mapping.state(m) == Mapping.ZERO) used[1]++;
                if (Mapping.hasBlock(m) && !depot.increment(Mapping.pbn(m))) {
                    throw new CorruptPoolException(store.describe() + ": volume " + v.name() + " lbn " + lbn + " maps "
                            + Mapping.describe(m) + ", which is not a usable data block");
                }
            });
            v.resetUsage(used[0], used[1]);
        }
    }

    /** The clean shutdown: everything acknowledged is written, the journal checkpointed, counts and index saved. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closing = true;
        try {
            if (readOnlyReason == null) {
                try {
                    flush().get(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException | TimeoutException e) {
                    LOG.log(Level.WARNING, "final flush failed", e);
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((vios.inUse() > 0 || flushTracker.outstandingWrites() > 0) && System.nanoTime() < deadline) {
                packer.flush();
                try { Thread.sleep(2); } catch (InterruptedException e) { Thread.currentThread().interrupt(); break; }
            }
            flusher.shutdown();
            try { flusher.awaitTermination(10, TimeUnit.SECONDS); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            PoolObserver.notifyClosing(this);
            if (readOnlyReason == null) {
                checkpoint();
                synchronized (sb) {
                    sb.refcountCrc = depot.save(store);
                    sb.slabsInUse = depot.slabCount();
                    store.sync();
                    sb.clean = true;
                    writeSuperBlockLocked();
                }
                try {
                    index.save(dir.resolve(INDEX_FILE));
                } catch (IOException e) {
                    LOG.warning("could not save the dedup index (advice only): " + e.getMessage());
                }
            }
        } finally {
            closed = true;
            shutdownThreads();
            store.close();
            lock.release();
            lockChannel.close();
        }
    }

    /**
     * Stops the pool as a crash would: no flush, no checkpoint, nothing more written. What was
     * written before stays in the file, as after {@code kill -9}. For tests.
     */
    public synchronized void crash() throws IOException {
        if (closed) return;
        crashed = true;
        closing = true;
        closed = true;
        flusher.shutdownNow();
        shutdownThreads();
        store.close();
        lock.release();
        lockChannel.close();
    }

    private void shutdownThreads() {
        flusher.shutdownNow();
        ioExecutor.shutdownNow();
        cpuExecutor.shutdownNow();
        for (CompressionEngine e : engines.values()) e.close();
    }

    // ---------------------------------------------------------------- volumes

    public Volume createVolume(String name, long logicalBytes) throws IOException {
        return createVolume(name, logicalBytes, cfg.defaultEngine);
    }

    public Volume createVolume(String name, long logicalBytes, String engine) throws IOException {
        if (!isValidVolumeName(name)) {
            throw new VdoException(Errno.EINVAL, "bad volume name '" + name + "': 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        }
        if (logicalBytes <= 0 || logicalBytes % 4096 != 0) {
            throw new VdoException(Errno.EINVAL, "volume size must be a positive multiple of 4096 bytes, not " + logicalBytes);
        }
        int code = engineCode(engine);
        requireAvailable(engine);
        checkWritable();
        synchronized (sb) {
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
                writeSuperBlockLocked();
            } catch (IOException | RuntimeException e) {
                sb.volumes.remove(rec); // not recorded: forget it (the layout end stays moved, which is safe)
                throw e;
            }
            attachVolume(rec);
            return volumes.get(name);
        }
    }

    public Volume volume(String name) { return volumes.get(name); }

    /**
     * Chooses the compression engine for the volume's new writes (like zram's
     * {@code comp_algorithm}); blocks already stored read back whatever engine wrote them, since
     * each fragment records its encoding. Persisted in the super block.
     */
    public void setVolumeEngine(String volumeName, String engine) throws IOException {
        int code = engineCode(engine);
        requireAvailable(engine);
        checkWritable();
        synchronized (sb) {
            Volume v = volumes.get(volumeName);
            if (v == null) throw new VdoException(Errno.ENOENT, "no volume " + volumeName);
            for (SuperBlock.VolumeRecord r : sb.volumes) if (r.name.equals(volumeName)) r.engine = code;
            writeSuperBlockLocked();
            v.setEngine(engineFor(code, volumeName));
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
    public void deleteVolume(String name) throws IOException {
        checkWritable();
        Volume v = volumes.get(name);
        if (v == null) throw new VdoException(Errno.ENOENT, "no volume " + name);
        synchronized (v) {
            if (v.isDeleted()) throw new VdoException(Errno.ENOENT, "no volume " + name);
            v.markDeleted();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (v.activeRequests() > 0 || hasLbnLocks(v)) {
            if (System.nanoTime() > deadline) {
                synchronized (v) { v.unmarkDeleted(); }
                throw new VdoException(Errno.EBUSY, "volume " + name + ": requests still in flight after 60 s; not deleted, retry");
            }
            packer.flush();
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                synchronized (v) { v.unmarkDeleted(); }
                throw new IOException("interrupted while deleting volume " + name, e);
            }
        }
        long seq;
        boolean removed = false;
        mappingLock.writeLock().lock();
        try {
            checkWritable();
            checkpoint();
            synchronized (sb) {
                List<SuperBlock.VolumeRecord> before = new ArrayList<>(sb.volumes);
                sb.volumes.removeIf(r -> r.name.equals(name));
                volumes.remove(name);
                try {
                    writeSuperBlockLocked();
                } catch (IOException | RuntimeException e) {
                    // not recorded (a full filesystem is retried by the caller): the volume stays whole
                    sb.volumes.clear();
                    sb.volumes.addAll(before);
                    volumes.put(name, v);
                    throw e;
                }
                removed = true;
            }
            seq = journal.lastAppendedSeq();
        } catch (IOException e) {
            throw storageError("delete of volume " + name, e);
        } finally {
            mappingLock.writeLock().unlock();
            if (!removed) synchronized (v) { v.unmarkDeleted(); }
        }
        // the record is durably gone and no entry of the volume is in the journal: dropping its
        // references needs no exclusive lock (other volumes' I/O goes on); the read lock only keeps
        // a checkpoint or the clean close from running half-way through the walk, which visits the
        // written block-map pages only
        mappingLock.readLock().lock();
        try {
            v.blockMap().forEachMapped((lbn, m) -> {
                if (Mapping.hasBlock(m)) depot.decrement(Mapping.pbn(m), seq);
            });
            depot.releaseFreed(journal.durableEntrySeq());
            v.resetUsage(0, 0);
        } catch (IOException e) {
            throw storageError("delete of volume " + name + " (dropping its block references; a check --repair rebuilds them)", e);
        } finally {
            mappingLock.readLock().unlock();
        }
    }

    private boolean hasLbnLocks(Volume v) {
        long id = v.id();
        for (Long k : path.lbnLocks.keySet()) if ((k >>> 48) == id) return true;
        return false;
    }

    /**
     * Grows a volume to {@code newBytes} (a multiple of 4096) while it is in use. When the block
     * map's region has no room for the new size, a larger region is taken at the end of the
     * pool file and the pages are copied into it under the mapping write lock; the super block
     * then points at it (the old region is not reused). Shrinking is refused with EINVAL.
     */
    public void resizeVolume(String name, long newBytes) throws IOException {
        if (newBytes <= 0 || newBytes % 4096 != 0) {
            throw new VdoException(Errno.EINVAL, "volume size must be a positive multiple of 4096 bytes, not " + newBytes);
        }
        checkWritable();
        Volume v = volumes.get(name);
        if (v == null || v.isDeleted()) throw new VdoException(Errno.ENOENT, "no volume " + name);
        long blocks = newBytes / 4096;
        SuperBlock.checkLogicalSize(name, blocks);
        mappingLock.writeLock().lock();
        try {
            checkWritable();
            if (blocks < v.logicalBlocks()) {
                throw new VdoException(Errno.EINVAL, "volume " + name + " cannot shrink from " + v.size() + " to " + newBytes + " bytes");
            }
            if (blocks == v.logicalBlocks()) return;
            commitJournalNow();
            synchronized (sb) {
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
                    writeSuperBlockLocked();
                    v.blockMap().grow(blocks, start, pages);
                    rec.mapStart = start;
                    rec.mapPages = pages;
                }
                rec.logicalBlocks = blocks;
                writeSuperBlockLocked();
                v.setLogicalBlocks(blocks);
            }
        } catch (IOException e) {
            throw storageError("resize of volume " + name, e);
        } finally {
            mappingLock.writeLock().unlock();
        }
    }

    /**
     * A waiting FLUSH needs the packer's bins written, but not one fragment at a time: once every
     * write still in flight is a fragment waiting in a bin, nothing more is coming to pack with
     * them, so the bins go now. (Writes held behind a waiting fragment kick its bin; the packer
     * timeout is the backstop.)
     */
    /** {@link #packForFlush} on the flusher thread (from a completion: never packs inside the write path's own call). */
    void packForFlushSoon() {
        try {
            flusher.execute(this::packForFlush);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // shutting down: the close writes every bin
        }
    }

    void packForFlush() {
        if (flushTracker.flushWaiting() && flushTracker.outstandingWrites() <= packer.fragmentsWaiting()) packer.flush();
    }

    /** Names of the engines this pool can use now. */
    public List<String> engineNames() { return new ArrayList<>(engines.keySet()); }

    /** Engines found on the class path but unusable now, each with the reason. */
    public Map<String, String> unavailableEngines() { return new LinkedHashMap<>(unavailableEngines); }

    /** Per-engine counters as {@code engine_<name>_<key>}: requests, bytes_in, bytes_out, fallbacks, errors. */
    public Map<String, Long> engineStats() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (CompressionEngine e : engines.values()) {
            for (Map.Entry<String, Long> s : e.stats().entrySet()) m.put("engine_" + e.name() + "_" + s.getKey(), s.getValue());
        }
        for (FallbackEngine f : fallbackEngines.values()) {
            for (Map.Entry<String, Long> s : f.stats().entrySet()) m.put("engine_" + f.configured() + "_" + s.getKey(), s.getValue());
        }
        return m;
    }

    public Collection<Volume> volumes() {
        List<Volume> l = new ArrayList<>(volumes.values());
        l.sort((a, b) -> Integer.compare(a.id(), b.id()));
        return l;
    }

    /**
     * The slab area is laid out at format time (slab i at a computed position), so a new slab
     * changes nothing persistent: no super-block write, and no lock beyond the depot's.
     */
    private long addSlab() throws IOException {
        int i = depot.slabCount();
        long start = depot.slabStart(i);
        long blocks = depot.slabRefBlocks() + Math.min(depot.slabDataBlocks(), depot.physicalLimit() - (long) i * depot.slabDataBlocks());
        try {
            // its file range is allocated for real before any block of it is handed out, so data
            // writes into the slab (some acknowledged before they are stored) cannot meet ENOSPC
            store.reserve(start, blocks);
        } catch (IOException e) {
            if (!StorageErrors.isNoSpace(e)) throw e;
            noSpaceErrors.increment();
            throw new VdoException(Errno.ENOSPC, "host filesystem full: no space for slab " + i + " (" + blocks * 4096 + " bytes) in "
                    + store.describe() + ": " + e.getMessage(), e);
        }
        return start;
    }

    private long slabAheadRetryAt;

    /**
     * Keeps a quarter slab of attached, reserved free blocks ahead of the writers (at open and
     * every 100 ms), so early acknowledgement, which only counts on attached slabs, goes on across
     * slab boundaries. A full filesystem is retried after a second; writes then meet it themselves.
     */
    private void attachSlabAhead() {
        long now = System.nanoTime();
        if (now < slabAheadRetryAt) return;
        try {
            depot.attachAhead(Math.max(1, depot.slabDataBlocks() / 4));
        } catch (VdoException e) {
            if (e.errno() != Errno.ENOSPC) throw e;
            slabAheadRetryAt = now + TimeUnit.SECONDS.toNanos(1);
        } catch (IOException e) {
            slabAheadRetryAt = now + TimeUnit.SECONDS.toNanos(1);
            LOG.log(Level.WARNING, "could not attach a slab ahead of need", e);
        }
    }

    /**
     * At open: allocates the journal's and every attached slab's file range (pools written before
     * ranges were reserved, slabs re-attached by a rebuild). Cheap where they are allocated
     * already. On a full filesystem early acknowledgement is turned off instead.
     */
    private void reserveInUse() throws IOException {
        try {
            store.reserve(sb.journalStart, sb.journalBlocks);
            for (int i = 0; i < depot.slabCount(); i++) {
                long[] r = depot.slabRange(i);
                store.reserve(r[0], r[1]);
            }
        } catch (IOException e) {
            if (!StorageErrors.isNoSpace(e)) throw e;
            noSpaceErrors.increment();
            earlyAckOff = true;
            LOG.warning("pool " + dir + ": could not reserve the file space of the slabs in use (" + e.getMessage()
                    + "): writes are acknowledged only once stored");
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
    private static void extendLayout(BlockStore store, long blocks, String what) throws IOException {
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

    private void writeSuperBlockLocked() throws IOException {
        for (SuperBlock.VolumeRecord r : sb.volumes) {
            Volume v = volumes.get(r.name);
            if (v != null) { r.usedBlocks = v.usedBlocks(); r.zeroBlocks = v.zeroBlocks(); }
        }
        sb.write(store);
    }

    // ---------------------------------------------------------------- I/O entry points

    private void checkWritable() {
        checkWritableIgnoringSpace();
        String full = noSpaceReason;
        if (full != null) throw new VdoException(Errno.ENOSPC, "pool " + dir + ": host filesystem full, writes refused until space is freed: " + full);
    }

    /** TRIM and WRITE_ZEROES store no data: they are taken in the no-space state too. */
    private void checkWritableIgnoringSpace() {
        if (readOnlyReason != null) throw new VdoException(Errno.EROFS, "pool " + dir + " is read-only: " + readOnlyReason);
        if (closing) throw new VdoException(Errno.ESHUTDOWN, "pool " + dir + " is shutting down");
    }

    CompletableFuture<Void> submitWrite(Volume vol, long offset, ByteBuffer src, boolean fua, int kind) {
        try {
            checkWritable();
        } catch (VdoException e) {
            return CompletableFuture.failedFuture(e);
        }
        int len = src.remaining();
        if (len == 0) return fua ? flush() : CompletableFuture.completedFuture(null);
        long first = offset / 4096, last = (offset + len - 1) / 4096;
        int n = (int) (last - first + 1);
        IoRequest req = newRequest(n, fua);
        int base = src.position();
        vioWaits.addAndGet(n);
        for (int i = 0; i < n; i++) {
            long lbn = first + i;
            long blockStart = lbn * 4096;
            int from = (int) (Math.max(offset, blockStart) - blockStart);
            int to = (int) (Math.min(offset + len, blockStart + 4096) - blockStart);
            ByteBuffer slice = src.slice(base + (int) (blockStart + from - offset), to - from);
            vios.acquire(v -> {
                try {
                    v.volume = vol;
                    v.lbn = lbn;
                    v.kind = kind;
                    v.request = req;
                    if (from == 0 && to == 4096) {
                        slice.get(0, v.data);
                    } else {
                        v.partialSrc = slice;
                        v.partialOffset = from;
                    }
                } catch (Throwable t) {
                    // not accepted: the vio goes back, the request hears of it
                    vios.release(v);
                    req.fail(t);
                    vioWaits.decrementAndGet();
                    return;
                }
                try {
                    path.accept(v);
                } finally {
                    vioWaits.decrementAndGet();
                }
            });
        }
        src.position(src.limit());
        return req.future;
    }

    private IoRequest newRequest(int n, boolean fua) {
        IoRequest[] holder = new IoRequest[1];
        Runnable fuaDone = fua ? () -> flush().whenComplete((r, e) -> {
            if (e != null) holder[0].future.completeExceptionally(e);
            else holder[0].future.complete(null);
        }) : null;
        holder[0] = new IoRequest(n, fuaDone);
        return holder[0];
    }

    /** TRIM and WRITE_ZEROES: mapping-only for whole blocks, zeros written into partial edge blocks. */
    CompletableFuture<Void> submitRange(Volume vol, long offset, long length, boolean fua, int kind) {
        try {
            checkWritableIgnoringSpace();
        } catch (VdoException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (length == 0) return fua ? flush() : CompletableFuture.completedFuture(null);
        long end = offset + length;
        long firstFull = (offset + 4095) / 4096, endFull = end / 4096;
        List<CompletableFuture<Void>> parts = new ArrayList<>(3);
        if (firstFull >= endFull) {
            // no whole block inside: one or two partial blocks
            long b = offset / 4096;
            long cut = Math.min(end, (b + 1) * 4096);
            parts.add(submitWrite(vol, offset, ZEROS.duplicate().limit((int) (cut - offset)), false, DataVio.WRITE));
            if (cut < end) parts.add(submitWrite(vol, cut, ZEROS.duplicate().limit((int) (end - cut)), false, DataVio.WRITE));
        } else {
            if (offset < firstFull * 4096) {
                parts.add(submitWrite(vol, offset, ZEROS.duplicate().limit((int) (firstFull * 4096 - offset)), false, DataVio.WRITE));
            }
            if (end > endFull * 4096) {
                parts.add(submitWrite(vol, endFull * 4096, ZEROS.duplicate().limit((int) (end - endFull * 4096)), false, DataVio.WRITE));
            }
            parts.add(submitMappingOnly(vol, firstFull, endFull, kind));
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(parts.toArray(new CompletableFuture[0]));
        return fua ? all.thenCompose(x -> flush()) : all;
    }

    private CompletableFuture<Void> submitMappingOnly(Volume vol, long firstLbn, long endLbn, int kind) {
        long wanted = kind == DataVio.TRIM ? Mapping.UNMAPPED_ENTRY : Mapping.ZERO_ENTRY;
        // skip blocks that already hold the wanted mapping and have no write in flight: a large
        // discard of an unused range costs a map lookup per block, not a request per block
        // (only while no request waits for a vio: a write submitted before this one but not yet
        // in its LBN's queue would otherwise land after the skipped trim)
        boolean maySkip = vioWaits.get() == 0;
        List<Long> todo = new ArrayList<>();
        try {
            for (long lbn = firstLbn; lbn < endLbn; lbn++) {
                if (maySkip && !path.lbnLocks.containsKey(WritePath.key(vol, lbn)) && vol.blockMap().get(lbn) == wanted) continue;
                todo.add(lbn);
            }
        } catch (IOException e) {
            return CompletableFuture.failedFuture(new VdoException(Errno.EIO, "volume " + vol.name() + ": block map read failed: " + e.getMessage(), e));
        }
        IoRequest req = newRequest(todo.size(), false);
        vioWaits.addAndGet(todo.size());
        for (long lbn : todo) {
            vios.acquire(v -> {
                v.volume = vol;
                v.lbn = lbn;
                v.kind = kind;
                v.request = req;
                try {
                    path.accept(v);
                } finally {
                    vioWaits.decrementAndGet();
                }
            });
        }
        return req.future;
    }

    CompletableFuture<Void> submitRead(Volume vol, long offset, ByteBuffer dst) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        try {
            ioExecutor.execute(() -> {
                try {
                    readRange(vol, offset, dst);
                    f.complete(null);
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            f.completeExceptionally(new VdoException(Errno.ESHUTDOWN, "pool " + dir + " is shut down"));
        }
        return f;
    }

    private static final int READ_BATCH = 64;
    private static final ThreadLocal<byte[]> READ_BUF = ThreadLocal.withInitial(() -> new byte[READ_BATCH * 4096]);

    private void readRange(Volume vol, long offset, ByteBuffer dst) throws IOException {
        long end = offset + dst.remaining();
        byte[] buf = READ_BUF.get();
        long pos = offset;
        while (pos < end) {
            long first = pos / 4096;
            long last = Math.min((end - 1) / 4096, first + READ_BATCH - 1);
            int n = (int) (last - first + 1);
            path.readBlocks(vol, first, n, buf);
            int from = (int) (pos - first * 4096);
            int to = (int) Math.min((long) n * 4096, end - first * 4096);
            dst.put(buf, from, to - from);
            pos = first * 4096 + to;
        }
    }

    /** The mapping a read would see now (a write in flight counts as data). */
    long currentMapping(Volume vol, long lbn) throws IOException {
        final long[] pending = {-1};
        // read the queue inside compute: LbnLock is guarded by the map's per-key lock
        path.lbnLocks.computeIfPresent(WritePath.key(vol, lbn), (k, l) -> {
            DataVio tail = l.writes.peekLast();
            if (tail != null) {
                pending[0] = switch (tail.kind) {
                    case DataVio.TRIM -> Mapping.UNMAPPED_ENTRY;
                    case DataVio.WRITE_ZERO -> Mapping.ZERO_ENTRY;
                    default -> Mapping.raw(0);
                };
            }
            return l;
        });
        return pending[0] != -1 ? pending[0] : vol.blockMap().get(lbn);
    }

    // ---------------------------------------------------------------- flush, journal, checkpoint

    /** Makes every write acknowledged before this call durable. */
    public CompletableFuture<Void> flush() {
        if (readOnlyReason != null) {
            return CompletableFuture.failedFuture(new VdoException(Errno.EIO, "pool " + dir + " is read-only: " + readOnlyReason));
        }
        if (closed) return CompletableFuture.failedFuture(new VdoException(Errno.ESHUTDOWN, "pool " + dir + " is closed"));
        CompletableFuture<Void> f = new CompletableFuture<>();
        try {
            flushTracker.flush(() -> {
                long ticket = flushReady.incrementAndGet();
                flusher.execute(() -> doFlush(f, ticket));
            });
            flusher.execute(this::packForFlush);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            f.completeExceptionally(new VdoException(Errno.ESHUTDOWN, "pool " + dir + " is shut down"));
        }
        return f;
    }

    /** On the flusher thread: one data sync and one journal commit serve every flush that was ready when it started. */
    private void doFlush(CompletableFuture<Void> f, long ticket) {
        if (ticket <= flushSynced) {
            if (ticket >= lossFromTicket && ticket <= lossToTicket) f.completeExceptionally(lostWritesError(-1));
            else f.complete(null);
            return;
        }
        long target = flushReady.get();
        try {
            if (readOnlyReason != null) throw new VdoException(Errno.EIO, "pool " + dir + " is read-only: " + readOnlyReason);
            commitJournalNow();
            long prev = flushSynced;
            flushSynced = target;
            long lost = lostWrites.getAndSet(0);
            if (lost > 0) {
                // every write acknowledged before this flush is durable, except these: the client hears of them here
                lossFromTicket = prev + 1;
                lossToTicket = target;
                f.completeExceptionally(lostWritesError(lost));
            } else {
                f.complete(null);
            }
            if (noSpaceReason != null) retryAfterNoSpace();
            else if (journal.needsCheckpoint()) checkpoint();
        } catch (IOException e) {
            f.completeExceptionally(storageError("flush", e));
        } catch (Throwable t) {
            f.completeExceptionally(t);
        }
    }

    private VdoException lostWritesError(long n) {
        return new VdoException(Errno.ENOSPC, "pool " + dir + ": " + (n > 0 ? n + " acknowledged writes" : "acknowledged writes")
                + " since the previous flush could not be stored (host filesystem full); the blocks they wrote keep their older contents");
    }

    /** Data first, then the journal entries that point at it: after this, acknowledged writes survive a crash. */
    void commitJournalNow() throws IOException {
        store.sync();
        long durable = journal.commit();
        depot.releaseFreed(durable);
    }

    private void ensureDurable(long seq) throws IOException {
        if (journal != null && journal.durableEntrySeq() < seq) commitJournalNow();
    }

    /** Writes dirty block-map pages and moves the journal head past everything they now hold. */
    /**
     * The super block gets the new journal head before the journal is trimmed in memory: if that
     * write fails (a full filesystem, retried later), no ring slot the durable head still points
     * replay at is reused. A checkpoint that succeeds ends the no-space state: everything pending
     * is written.
     */
    void checkpoint() throws IOException {
        mappingLock.writeLock().lock();
        try {
            commitJournalNow();
            for (Volume v : volumes.values()) v.blockMap().writeDirtyPages();
            store.sync();
            long trimTo = journal.lastAppendedSeq() + 1;
            long[] head = journal.headAfterTrim(trimTo);
            synchronized (sb) {
                sb.journalHeadBlockSeq = head[0];
                sb.journalHeadEntrySeq = head[1];
                writeSuperBlockLocked();
            }
            journal.trim(trimTo);
            checkpoints++;
            if (noSpaceReason != null) leaveNoSpace();
        } finally {
            mappingLock.writeLock().unlock();
        }
    }

    /**
     * Back-pressure for a writer that found the journal ring full: checkpoints (on the caller's
     * thread, serialised by the mapping write lock) so the ring is trimmed; the writer then
     * appends again. A full journal slows writers down; it is never an error.
     */
    void makeJournalSpace() throws IOException {
        mappingLock.writeLock().lock();
        try {
            if (readOnlyReason != null) throw new VdoException(Errno.EROFS, "pool " + dir + " is read-only: " + readOnlyReason);
            if (!journal.isFull()) return;   // another writer's checkpoint made room
            journalFullWaits.increment();
            checkpoint();
        } finally {
            mappingLock.writeLock().unlock();
        }
    }

    private void packerTimeout() {
        try {
            packer.flushOlderThan(System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(cfg.packerTimeoutMillis));
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "packer timeout flush failed", t);
        }
    }

    /** Every 100 ms: keep the journal short and blocks freed by overwrites reusable. */
    private void background() {
        if (readOnlyReason != null || crashed) return;
        if (noSpaceReason != null) {
            retryAfterNoSpace();
            return;
        }
        try {
            long now = System.nanoTime();
            if (journal.lastAppendedSeq() > journal.durableEntrySeq()
                    && (journal.needsCheckpoint() || now - lastBackgroundCommit > TimeUnit.SECONDS.toNanos(1))) {
                lastBackgroundCommit = now;
                commitJournalNow();
            }
            if (journal.needsCheckpoint()) checkpoint();
            attachSlabAhead();
        } catch (IOException e) {
            storageError("background journal commit", e);
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "background work failed", t);
        }
    }

    /** Runs a pipeline step on the CPU threads (inline once they are shut down). */
    void runOnCpu(Runnable step) {
        try {
            cpuExecutor.execute(() -> Trampoline.run(step));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            Trampoline.run(step);
        }
    }

    void kickPacker(DataVio waiting) {
        try {
            flusher.execute(() -> packer.flushBinOf(waiting));
        } catch (java.util.concurrent.RejectedExecutionException ignored) {
            // shutting down: the final flush writes every bin
        }
    }

    // ---------------------------------------------------------------- read-only mode, no space

    /**
     * A storage failure: the pool stops taking writes (dm-vdo's read-only mode) and says why.
     * A full host filesystem is not damage: it is the no-space state instead ({@link #noSpace}),
     * ENOSPC to the caller, and clears itself once a checkpoint gets through.
     */
    VdoException storageError(String op, IOException e) {
        String msg = op + " failed on " + store.describe() + ": " + e.getMessage();
        if (StorageErrors.isNoSpace(e)) return noSpace(msg, e);
        enterReadOnly(msg, e);
        return new VdoException(Errno.EIO, msg, e);
    }

    /** Enters (or stays in) the no-space state; the ENOSPC error for the caller. */
    VdoException noSpace(String msg, Throwable cause) {
        noSpaceErrors.increment();
        boolean first = false;
        synchronized (readOnlyLock) {
            if (noSpaceReason == null && readOnlyReason == null) { noSpaceReason = msg; first = true; }
        }
        if (first) {
            LOG.warning("pool " + dir + ": host filesystem full (" + msg + "): new writes get ENOSPC until space is freed;"
                    + " the pending metadata is retried every 100 ms, no repair or restart is needed");
        }
        return new VdoException(Errno.ENOSPC, "host filesystem full: " + msg, cause);
    }

    /**
     * A data write (raw or packed block) met a full filesystem although its slab's space should
     * have been reserved (the filesystem cannot reserve, or it is copy-on-write): no state to
     * retry, the write fails with ENOSPC; early acknowledgement is turned off so later writes
     * that cannot be stored fail to their own client.
     */
    VdoException dataNoSpace(String msg, IOException cause) {
        noSpaceErrors.increment();
        if (!earlyAckOff) {
            earlyAckOff = true;
            LOG.warning("pool " + dir + ": a data write found the host filesystem full (" + msg + "); writes are acknowledged"
                    + " only once stored from now on (until the pool is reopened)");
        }
        return new VdoException(Errno.ENOSPC, "host filesystem full: " + msg, cause);
    }

    /** An acknowledged write could not be stored for want of space: the next flush fails with ENOSPC (no read-only mode). */
    void lostWrite(String what, Throwable cause) {
        lostWrites.incrementAndGet();
        lostWritesTotal.increment();
        earlyAckOff = true;
        LOG.log(Level.WARNING, "pool " + dir + ": acknowledged write " + what + " could not be stored (host filesystem full);"
                + " the next flush reports it", cause);
    }

    /** True when writes may be acknowledged before they are stored. */
    boolean earlyAckAllowed() { return !earlyAckOff && noSpaceReason == null; }

    /** A checkpoint attempt while in the no-space state (background, flushes); failing again changes nothing. */
    private void retryAfterNoSpace() {
        try {
            checkpoint();
        } catch (IOException e) {
            if (!StorageErrors.isNoSpace(e)) storageError("checkpoint after a full filesystem", e);
            else LOG.fine(() -> "pool " + dir + ": still no space: " + e.getMessage());
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "checkpoint after a full filesystem failed", t);
        }
    }

    private void leaveNoSpace() {
        String was;
        synchronized (readOnlyLock) {
            was = noSpaceReason;
            noSpaceReason = null;
        }
        if (was != null) LOG.warning("pool " + dir + ": space is back, writes are accepted again (was: " + was + ")");
    }

    void enterReadOnly(String reason, Throwable cause) {
        if (crashed) return;
        synchronized (readOnlyLock) {
            if (readOnlyReason != null) return;
            readOnlyReason = reason;
        }
        LOG.log(Level.SEVERE, "pool " + dir + " entering read-only mode: " + reason, cause);
        try {
            synchronized (sb) {
                sb.readOnly = true;
                sb.readOnlyReason = reason;
                sb.write(store);
            }
        } catch (Throwable t) {
            LOG.log(Level.SEVERE, "could not record read-only mode in the super block", t);
        }
    }

    public boolean isReadOnly() { return readOnlyReason != null; }

    public String readOnlyReason() { return readOnlyReason; }

    public String mode() { return readOnlyReason != null ? "read-only" : noSpaceReason != null ? "no-space" : "normal"; }

    /** Why the host filesystem is considered full for this pool, or null (see {@link #mode()}). */
    public String noSpaceReason() { return noSpaceReason; }

    // ---------------------------------------------------------------- statistics

    /** Pool statistics: {@code vdostats --verbose} names in snake_case, plus zram's same_pages. */
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        long logical = 0, used = 0, zero = 0, mapPages = 0;
        Map<String, Long> sum = new LinkedHashMap<>();
        for (Volume v : volumes.values()) {
            logical += v.logicalBlocks();
            used += v.usedBlocks();
            zero += v.zeroBlocks();
            mapPages += BlockMap.regionBlocks(Math.max(1, BlockMap.pagesFor(v.usedBlocks())));
            v.counters.addTo(sum);
        }
        long data = depot.dataBlocksUsed();
        m.put("logical_blocks", logical);
        m.put("logical_blocks_used", used);
        m.put("physical_blocks", depot.physicalLimit());
        m.put("data_blocks_used", data);
        m.put("overhead_blocks_used", 2L * SuperBlock.COPY_BLOCKS + sb.journalBlocks + depot.overheadBlocks() + mapPages);
        m.put("saving_percent", used == 0 ? 0 : Math.max(0, (used - data) * 100 / used));
        m.put("compressed_fragments_written", sum.getOrDefault("compressed_fragments_written", 0L));
        m.put("compressed_blocks_written", compressedBlocksWritten.sum());
        m.put("compressed_fragments_in_packer", (long) packer.fragmentsWaiting());
        m.put("dedupe_advice_valid", sum.getOrDefault("dedupe_advice_valid", 0L));
        m.put("dedupe_advice_stale", sum.getOrDefault("dedupe_advice_stale", 0L));
        m.put("concurrent_data_matches", sum.getOrDefault("concurrent_data_matches", 0L));
        m.put("concurrent_hash_collisions", sum.getOrDefault("concurrent_hash_collisions", 0L));
        m.put("journal_entries_committed", journal.entriesCommitted());
        m.put("journal_blocks_written", journal.blocksWritten());
        m.put("journal_syncs", journal.syncs());
        m.put("same_pages", zero);
        for (Map.Entry<String, Long> e : sum.entrySet()) m.putIfAbsent(e.getKey(), e.getValue());
        m.put("index_entries", index.entries());
        m.put("index_memory_bytes", index.memoryBytes());
        m.put("vio_pool_size", (long) vios.size());
        m.put("vio_pool_in_use", (long) vios.inUse());
        m.put("blocks_pending_free", depot.pendingFree());
        m.put("checkpoints", checkpoints);
        m.put("journal_full_waits", journalFullWaits.sum());
        m.put("checksum_errors", checksumErrors.sum());
        m.put("read_only", readOnlyReason != null ? 1L : 0L);
        m.put("no_space", noSpaceReason != null ? 1L : 0L);
        m.put("no_space_errors", noSpaceErrors.sum());
        m.put("no_space_lost_writes", lostWritesTotal.sum());
        m.putAll(engineStats());
        return m;
    }

    /** Reference counts recomputed from every block map compared with the depot's; returns a description of each difference (empty when consistent). */
    public List<String> verifyReferenceCounts() throws IOException {
        Map<Long, Integer> expected = new java.util.HashMap<>();
        for (Volume v : volumes.values()) {
            v.blockMap().forEachMapped((lbn, m) -> {
                if (Mapping.hasBlock(m)) expected.merge(Mapping.pbn(m), 1, Integer::sum);
            });
        }
        List<String> problems = new ArrayList<>();
        depot.forEachUsed((count, pbn) -> {
            int want = expected.getOrDefault(pbn, 0);
            if (want != count) problems.add("block " + pbn + ": reference count " + count + ", block maps reference it " + want + " times");
        });
        for (Map.Entry<Long, Integer> e : expected.entrySet()) {
            int have = depot.refcount(e.getKey());
            if (have == 0) problems.add("block " + e.getKey() + ": free but referenced " + e.getValue() + " times");
            if (have < 0) problems.add("block " + e.getKey() + ": not a data block of an attached slab but referenced " + e.getValue() + " times");
        }
        return problems;
    }

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

    /**
     * Latency of each write-path stage: hash (fingerprint), index (lookup), verify (read and
     * compare of dedupe advice), compress (engine submit to completion), pack (waiting in the
     * packer until the block is written), journal (append), ack (accept to acknowledgement).
     */
    public Map<String, LatencyHistogram> stageLatencies() {
        Map<String, LatencyHistogram> m = new LinkedHashMap<>();
        m.put("hash", latHash);
        m.put("index", latIndex);
        m.put("verify", latVerify);
        m.put("compress", latCompress);
        m.put("pack", latPack);
        m.put("journal", latJournal);
        m.put("ack", latAck);
        return m;
    }

    /** Vios waiting for a free slot in the vio pool (back-pressure). */
    public int vioPoolWaiting() { return vios.waiting(); }

    public Path directory() { return dir; }

    public PoolConfig config() { return cfg; }
}
