package org.jvdo.core.durability;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.journal.StorageErrors;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Slab growth and the file space behind it. The slab area is laid out at format time (slab i at
 * a computed position), so a new slab changes nothing persistent; its file range is allocated
 * for real before any block of it is handed out, so data writes into it (some acknowledged
 * before they are stored) cannot meet ENOSPC. A quarter slab of attached free blocks is kept
 * ahead of the writers.
 */
public final class SpaceReservation {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");

    private final BlockStore store;
    private final SuperBlock sb;
    private final ReadOnlyMode mode;
    private final LongSupplier clock;
    private SlabDepot depot;
    private long slabAheadRetryAt;

    public SpaceReservation(BlockStore store, SuperBlock sb, ReadOnlyMode mode, LongSupplier clock) {
        this.store = store;
        this.sb = sb;
        this.mode = mode;
        this.clock = clock;
        this.slabAheadRetryAt = clock.getAsLong();
    }

    /** The depot this reserves for (it calls {@link #addSlab} as it grows). */
    public void attach(SlabDepot depot) { this.depot = depot; }

    /** The depot's slab allocator: reserves slab i's file range and returns where it starts. */
    public long addSlab() throws IOException {
        int i = depot.slabCount();
        long start = depot.slabStart(i);
        long blocks = depot.slabRefBlocks() + Math.min(depot.slabDataBlocks(), depot.physicalLimit() - (long) i * depot.slabDataBlocks());
        try {
            store.reserve(start, blocks);
        } catch (IOException e) {
            if (!StorageErrors.isNoSpace(e)) throw e;
            mode.countNoSpace();
            throw new VdoException(Errno.ENOSPC, "host filesystem full: no space for slab " + i + " (" + blocks * 4096 + " bytes) in "
                    + store.describe() + ": " + e.getMessage(), e);
        }
        return start;
    }

    /**
     * Keeps a quarter slab of attached, reserved free blocks ahead of the writers (at open and
     * every 100 ms), so early acknowledgement, which only counts on attached slabs, goes on across
     * slab boundaries. A full filesystem is retried after a second; writes then meet it themselves.
     */
    public void attachSlabAhead() {
        long now = clock.getAsLong();
        if (now - slabAheadRetryAt < 0) return;
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
    public void reserveInUse() throws IOException {
        try {
            store.reserve(sb.journalStart, sb.journalBlocks);
            for (int i = 0; i < depot.slabCount(); i++) {
                long[] r = depot.slabRange(i);
                store.reserve(r[0], r[1]);
            }
        } catch (IOException e) {
            if (!StorageErrors.isNoSpace(e)) throw e;
            mode.countNoSpace();
            mode.turnEarlyAckOff("could not reserve the file space of the slabs in use (" + e.getMessage() + ")");
        }
    }
}
