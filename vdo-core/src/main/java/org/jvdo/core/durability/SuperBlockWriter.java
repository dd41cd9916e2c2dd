package org.jvdo.core.durability;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.physical.SuperBlock;

import java.io.IOException;
import java.util.function.Function;

/**
 * Writes the pool's super block with every volume record's usage brought up to date. Every
 * change of the super block's fields and its write happen under the super block's monitor
 * ({@link #lock()}); methods named {@code ...Locked} expect the caller to hold it.
 */
public final class SuperBlockWriter {
    private final SuperBlock sb;
    private final BlockStore store;
    private final Function<String, LogicalVolume> volumes;

    public SuperBlockWriter(SuperBlock sb, BlockStore store, Function<String, LogicalVolume> volumes) {
        this.sb = sb;
        this.store = store;
        this.volumes = volumes;
    }

    /** The monitor guarding the super block. */
    public Object lock() { return sb; }

    public SuperBlock superBlock() { return sb; }

    /** Updates each record's usage from its volume, then writes both copies. The caller holds {@link #lock()}. */
    public void writeLocked() throws IOException {
        for (SuperBlock.VolumeRecord r : sb.volumes) {
            LogicalVolume v = volumes.apply(r.name);
            if (v != null) { r.usedBlocks = v.usedBlocks(); r.zeroBlocks = v.zeroBlocks(); }
        }
        sb.write(store);
    }
}
