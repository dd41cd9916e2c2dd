package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.FileModes;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.FencedBlockStore;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.core.volumes.VolumeAdmin;
import org.jvdo.journal.StorageErrors;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.UUID;

/**
 * A pool's folder: formatting a new pool and opening an existing one, each holding the lock file
 * (a second process is refused with EBUSY); a failed start closes what it opened and a refused
 * create removes the files it made, so no half-made pool is left. What it creates is private
 * ({@link FileModes}: the folder 0700 when it makes it, {@code lock}, {@code pool.jvdo} and its
 * segments, {@code index.jvdo} 0600).
 */
final class PoolFiles {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger("org.jvdo.core");
    private PoolFiles() { }

    /** Formats a new pool in {@code dir} (created if missing); refuses if one is there already. */
    static Pool create(Path dir, PoolConfig cfg) throws IOException {
        FileModes.createPrivateDirectories(dir);
        if (Pool.exists(dir)) throw new VdoException(Errno.EINVAL, "a pool already exists in " + dir);
        if (Files.exists(SegmentedBlockStore.segmentPath(dir, 1))) {
            throw new VdoException(Errno.EINVAL, "a segment file of an earlier pool is in " + dir + " (" + SegmentedBlockStore.segmentPath(dir, 1)
                    + "); remove it before creating a pool there");
        }
        if (cfg.physicalBytes < 4096L * 16) throw new VdoException(Errno.EINVAL, "physical size " + cfg.physicalBytes + " is too small");
        if (cfg.physicalBytes / 4096 > SuperBlock.MAX_PHYSICAL_BLOCKS) {
            throw new VdoException(Errno.EINVAL, "physical size " + cfg.physicalBytes + " bytes is beyond the limit of 256 TiB (SuperBlock.MAX_PHYSICAL_BLOCKS = 2^36 blocks)");
        }
        if (cfg.slabDataBlocks < 16 || cfg.journalBlocks < 16) throw new VdoException(Errno.EINVAL, "slab or journal size too small");
        return locked(dir, cfg, true, (lc, lock, stores) -> {
            int shift = cfg.segmentShift > 0 ? cfg.segmentShift : SegmentedBlockStore.probeSegmentShift(dir);
            SegmentedBlockStore file = SegmentedBlockStore.create(dir, shift);
            BlockStore store = stores.opened(cfg.storeWrapper.apply(fenced(file, cfg)));
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
            if (cfg.ownerMember != null) {
                sb.ownerEpoch = 1;
                sb.ownerMember = cfg.ownerMember;
            }
            if (cfg.foreignBlocks != null) { sb.major = SuperBlock.FOREIGN_MAJOR; sb.minor = 0; }
            VolumeAdmin.extendLayout(store, sb.nextRegionBlock, "the slab area for " + cfg.physicalBytes + " bytes of physical space");
            sb.write(store);
            if (cfg.ownerMember != null && cfg.writeFence != null) cfg.writeFence.claimed(sb.ownerEpoch);
            try {
                // the journal's space is allocated up front, so its writes cannot meet a full filesystem
                store.reserve(sb.journalStart, sb.journalBlocks);
            } catch (IOException e) {
                if (!StorageErrors.isNoSpace(e)) throw e;
                throw new VdoException(Errno.ENOSPC, "no space in the filesystem of " + store.describe() + " for the recovery journal ("
                        + sb.journalBlocks * 4096L + " bytes): " + e.getMessage(), e);
            }
            return new Pool(dir, cfg, lc, lock, store, sb, true);
        });
    }

    /** Opens an existing pool; after an unclean shutdown it replays the journal and rebuilds reference counts. */
    static Pool open(Path dir, PoolConfig cfg) throws IOException {
        if (!Pool.exists(dir)) throw new VdoException(Errno.EINVAL, "no pool in " + dir + " (missing " + dir.resolve(Pool.DATA_FILE) + ")");
        return locked(dir, cfg, false, (lc, lock, stores) -> {
            SegmentedBlockStore file = SegmentedBlockStore.open(dir);
            BlockStore store = stores.opened(cfg.storeWrapper.apply(fenced(file, cfg)));
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
            if (cfg.ownerMember != null && !cfg.checkOnly) {
                claim(sb, store, cfg.ownerMember, cfg.foreignBlocks != null);
                if (cfg.writeFence != null) cfg.writeFence.claimed(sb.ownerEpoch);
            }
            return new Pool(dir, cfg, lc, lock, store, sb, false);
        });
    }

    /**
     * A cluster member's claim (docs/cluster.md): the next owner epoch and this member, written
     * and synced before the open writes anything else (journal replay included), so a former
     * owner that checks the epoch finds it changed before any of the new owner's writes exist.
     */
    private static void claim(SuperBlock sb, BlockStore store, UUID member, boolean foreign) throws IOException {
        if (foreign) {
            // format 4.0: its block maps may name other pools' blocks from now on (docs/cluster.md)
            sb.major = SuperBlock.FOREIGN_MAJOR;
            sb.minor = 0;
        } else if (sb.major == SuperBlock.MAJOR) {
            sb.minor = Math.max(sb.minor, SuperBlock.MINOR);
        }
        sb.ownerEpoch++;
        sb.ownerMember = member;
        sb.write(store);
    }

    /**
     * The owner epoch and member in a pool's super block, read without opening or locking the pool
     * (a member checking whether it still owns a pool another may have claimed).
     */
    public static SuperBlock readSuperBlock(Path dir) throws IOException {
        try (SegmentedBlockStore file = SegmentedBlockStore.open(dir)) {
            return SuperBlock.read(file);
        }
    }

    /** The file behind the pool's write fence, when it has one (a cluster member's pool). */
    private static BlockStore fenced(BlockStore file, PoolConfig cfg) {
        return cfg.writeFence == null ? file : new FencedBlockStore(file, cfg.writeFence);
    }

    /** Remembers the store a {@link Opener} opened, so a failed start closes it. */
    private static final class Stores {
        BlockStore store;

        BlockStore opened(BlockStore s) { store = s; return s; }
    }

    private interface Opener {
        Pool open(FileChannel lockChannel, FileLock lock, Stores stores) throws IOException;
    }

    /**
     * Runs {@code body} holding the pool's lock file; a failure closes what it opened and releases
     * the lock, and a refused create also removes the files it made (no half-made pool is left).
     */
    private static Pool locked(Path dir, PoolConfig cfg, boolean creating, Opener body) throws IOException {
        FileChannel lc = FileModes.open(dir.resolve(Pool.LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock l;
        try {
            l = lc.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null;
        }
        if (l == null && cfg.takeover && cfg.ownerMember != null && !creating) {
            // a cluster takeover: the former owner, declared dead by the cluster, may still hold the
            // lock (a stopped process keeps it); the claim's epoch and its fence keep it from writing
            LOG.warning("pool " + dir + ": the lock file is held by another process (the former owner?); taking the pool over"
                    + " by its owner epoch (docs/cluster.md)");
        } else if (l == null) {
            lc.close();
            throw new VdoException(Errno.EBUSY, "pool " + dir + " is in use by another jvdo (lock file " + dir.resolve(Pool.LOCK_FILE) + ")");
        }
        Stores stores = new Stores();
        try {
            return body.open(lc, l, stores);
        } catch (IOException | RuntimeException e) {
            if (stores.store != null) stores.store.close();
            if (creating) {
                for (Path seg : SegmentedBlockStore.existingSegments(dir)) Files.deleteIfExists(seg);
            }
            if (l != null) l.release();
            lc.close();
            throw e;
        }
    }
}
