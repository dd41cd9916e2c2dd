package org.jvdo.core.api;


/**
 * Settings of a pool: geometry used when it is formatted, and run-time sizes (thread counts,
 * caches, pools) that may change at every open.
 */
public final class PoolConfig {
    /** Maximum data blocks (physical size / 4096); the file grows a slab at a time up to it. */
    public long physicalBytes = 16L << 30;
    /** Data blocks per slab (format time). */
    public int slabDataBlocks = 32768;
    /** Journal ring size in blocks (format time). */
    public int journalBlocks = 8192;
    /** Block-map pages cached per volume. */
    public int blockMapCachePages = 16384;
    /** Bitmap pages of each volume's block-map tree cached besides its top (64 cover about 4 TiB of written space). */
    public int blockMapTreeCachePages = 64;    // BlockMapTree.DEFAULT_CACHE_PAGES
    /** In-flight 4 KiB requests (dm-vdo uses 2048). */
    public int vioPoolSize = 2048;
    /** LZ4 worker threads. */
    public int compressionThreads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    /** Threads running the write pipeline (zero check, fingerprint, index, verify) off the submitter's thread. */
    public int cpuThreads = Math.max(1, Runtime.getRuntime().availableProcessors());
    /** Threads serving reads and other storage work off the caller's thread. */
    public int ioThreads = Math.max(2, Runtime.getRuntime().availableProcessors());
    /** A packer bin is written at the latest this long after its first fragment arrived. */
    public long packerTimeoutMillis = 20;
    /** Dedup index entries at most (dense: at most 8 bytes each; sparse: hooks, 1 per 64 of these). */
    public int indexMaxSlots = 64 << 20;
    /**
     * The dedup index: "dense" (every fingerprint, at most 8 bytes per distinct block) or
     * "sparse" (1 in 64 fingerprints plus following the old block map: under 1 byte per block
     * written, for copies of images). Any other value is refused when the pool opens.
     */
    public String indexMode = "dense";
    /**
     * Builds the pool's dedup index from the pool's UUID instead of {@link #indexMode} and the
     * saved file (the clustered index; tests' indexes that answer later). Null: the embedded index.
     * The pool closes it; its {@code save} is called at a clean close (an external index may ignore it).
     */
    public java.util.function.Function<java.util.UUID, org.jvdo.core.index.DedupIndex> indexSupplier;
    /**
     * The cluster member opening the pool (docs/cluster.md): the open claims the pool first, bumping
     * the super block's owner epoch and naming this member, synced before anything else is written
     * (a 3.0 pool becomes 3.1 then). Null: not a cluster member; the epoch is kept as it is.
     */
    public java.util.UUID ownerMember;
    /**
     * Checked before every write, sync and extension of the pool file (a cluster member's lease,
     * docs/cluster.md); a refusal fails that I/O with {@link FencedException}. Null: no fence.
     */
    public WriteFence writeFence;
    /**
     * A cluster member's pool: pins and unpins of other pools' blocks (docs/cluster.md). Non-null
     * makes the pool format 4.0 at its claim and lets advice naming another pool be used.
     */
    public ForeignBlocks foreignBlocks;
    /**
     * With {@link #ownerMember}: open even when the lock file is held, by a former owner the
     * cluster declared dead (a stopped process keeps its lock); the claim's new epoch and the
     * former owner's fence keep it from writing. Never set outside a cluster takeover.
     */
    public boolean takeover;
    /** The compression engine for new volumes: "lz4", "none", or "qat" when available. */
    public String defaultEngine = "lz4";
    /** Open for checking only: nothing is written (read-only), stored reference counts are kept for comparison. */
    public boolean checkOnly;
    /** Rebuild reference counts from the block maps even after a clean close, and leave read-only mode (repair). */
    public boolean repair;
    /**
     * Engine policy at open: a volume configured for an engine that is unavailable (e.g. "qat"
     * without its library or device) uses "lz4" and counts fallbacks; with this set the pool
     * refuses to open instead, naming the volume and the reason.
     */
    public boolean strictEngines = false;
    /** Engines from {@code CompressionEngineProvider}s not to use (treated as unavailable). */
    public java.util.Set<String> disabledEngines = new java.util.HashSet<>();
    /** Settings for pluggable engines, by convention "{@code <engine>.<key>}", e.g. "qat.algorithm" = "deflate". */
    public java.util.Map<String, String> engineOptions = new java.util.HashMap<>();
    /** Wraps the pool file's store (fault injection in tests); identity by default. */
    public java.util.function.UnaryOperator<BlockStore> storeWrapper = s -> s;
    /**
     * The pool's clock in {@link System#nanoTime()} units: the packer's timestamps and timeout,
     * the background journal commit, the slab-ahead retry. Tests may drive time by hand.
     */
    public java.util.function.LongSupplier clock = System::nanoTime;
    /**
     * Hears the open's recovery work (phases {@code "journal replay"}, entries; {@code "reference
     * count rebuild"}, mapped blocks), besides the INFO log lines; the admin API's
     * {@code /health} shows it while the pool opens. Null: log only.
     */
    public ProgressListener recoveryProgress;
    /** Hears every progress change of a volume delete or resize, on the working thread (tests hold the work there). */
    public java.util.function.Consumer<Operation> operationObserver;

    public PoolConfig copy() {
        PoolConfig c = new PoolConfig();
        c.physicalBytes = physicalBytes; c.slabDataBlocks = slabDataBlocks; c.journalBlocks = journalBlocks;
        c.blockMapCachePages = blockMapCachePages; c.vioPoolSize = vioPoolSize;
        c.blockMapTreeCachePages = blockMapTreeCachePages;
        c.compressionThreads = compressionThreads; c.ioThreads = ioThreads; c.cpuThreads = cpuThreads;
        c.packerTimeoutMillis = packerTimeoutMillis; c.indexMaxSlots = indexMaxSlots;
        c.indexMode = indexMode; c.indexSupplier = indexSupplier; c.ownerMember = ownerMember; c.writeFence = writeFence; c.takeover = takeover; c.foreignBlocks = foreignBlocks;
        c.defaultEngine = defaultEngine;
        c.strictEngines = strictEngines;
        c.disabledEngines = new java.util.HashSet<>(disabledEngines);
        c.engineOptions = new java.util.HashMap<>(engineOptions);
        c.storeWrapper = storeWrapper;
        c.clock = clock;
        c.recoveryProgress = recoveryProgress;
        c.operationObserver = operationObserver;
        c.checkOnly = checkOnly;
        c.repair = repair;
        return c;
    }

    /** A small geometry for tests: 1 MiB slabs, a 256-block journal. */
    public static PoolConfig small(long physicalBytes) {
        PoolConfig c = new PoolConfig();
        c.physicalBytes = physicalBytes;
        c.slabDataBlocks = 256;
        c.journalBlocks = 256;
        c.blockMapCachePages = 64;
        c.vioPoolSize = 256;
        c.ioThreads = 2;
        c.compressionThreads = 2;
        return c;
    }

    /**
     * log2 of the blocks per pool segment file for a new pool; 0 (the default) probes the
     * filesystem ({@code SegmentedBlockStore.probeSegmentShift}). Tests set it small.
     */
    public int segmentShift = 0;
}
