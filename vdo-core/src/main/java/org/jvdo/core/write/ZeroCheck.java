package org.jvdo.core.write;

import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;

/**
 * Stage "zero check" (zram's same_pages): a trim maps the LBN to nothing, a write-zeroes and an
 * all-zero block to {@code ZERO}; no storage, no fingerprint. Anything else goes on to be
 * fingerprinted. Returns whether the vio was settled here.
 */
final class ZeroCheck {
    private final SlabDepot depot;

    ZeroCheck(SlabDepot depot) { this.depot = depot; }

    boolean settle(DataVio v) {
        if (v.kind == DataVio.TRIM) { v.newMapping = Mapping.UNMAPPED_ENTRY; return true; }
        if (v.kind == DataVio.WRITE_ZERO) { v.newMapping = Mapping.ZERO_ENTRY; return true; }
        if (!v.isZeroBlock()) return false;
        v.newMapping = Mapping.ZERO_ENTRY;
        v.volume.counters.zeroBlocksWritten.increment();
        v.releaseReservation(depot);
        return true;
    }
}
