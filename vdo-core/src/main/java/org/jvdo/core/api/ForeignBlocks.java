package org.jvdo.core.api;

import java.io.IOException;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Blocks of other pools (docs/cluster.md, "Dedup across members"): what a cluster member's pool
 * asks of the owners of other pools. Implemented by the cluster module; every call blocks the
 * pool's {@code jvdo-pins} thread (never a CPU thread) up to the implementation's timeout.
 *
 * <p>The other pool keeps, for each (this pool, volume), an internal volume of reference slots:
 * slot {@code 2 * lbn + parity} holds the block this pool's LBN maps to. A pin writes the block's
 * bytes into the slot (the owner deduplicates them against its copy, so no data is added) and
 * makes it durable; an unpin trims the slot if it still holds the given mapping. The engine sends
 * a pin only after its own journal holds every earlier change durably, and an unpin only after
 * the change that stopped using the slot is durable, in the order it made them.
 */
public interface ForeignBlocks {
    /** The folder of pool {@code pool} on shared storage, or null when no member knows it. */
    Path folder(UUID pool);

    /**
     * Pins: pool {@code target}'s owner holds slot {@code slots[i]} of (source, volume) mapped to a
     * block holding {@code data[i]} (4096 bytes each), durably. Returns the target pool's mapping of
     * each slot (-1: refused). {@code volumeBlocks} is the source volume's size, so the owner can
     * size the reference volume (two slots per LBN).
     */
    long[] pin(UUID source, long sourceEpoch, UUID target, int volume, long volumeBlocks, long[] slots, byte[][] data)
            throws IOException;

    /**
     * Reconciliation: for each volume {@code volumes[v]} of the source, {@code slots[v]} (with
     * {@code mappings[v]}) are the slots its mappings use; the target trims, durably, every other
     * slot of the source's reference volumes (those of volumes not listed: all). Returns the slots trimmed.
     */
    long reconcile(UUID source, long sourceEpoch, UUID target, int[] volumes, long[][] slots, long[][] mappings) throws IOException;

    /** Unpins: each slot that still holds {@code mappings[i]} is trimmed, durably. */
    void unpin(UUID source, long sourceEpoch, UUID target, int volume, long[] slots, long[] mappings) throws IOException;
}
