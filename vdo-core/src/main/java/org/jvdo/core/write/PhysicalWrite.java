package org.jvdo.core.write;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.journal.StorageErrors;
import org.jvdo.packer.Bin;
import org.jvdo.packer.PackedBlock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;

/**
 * Stage "packing and physical write": a block is allocated (from the vio's reservation if it
 * holds one), write-locked in the depot until its data write is done (so dedupe cannot verify
 * against the block's old bytes meanwhile), and written: uncompressed, or as a packed block of
 * the fragments of a packer bin (a bin of one fragment is written uncompressed). Runs on the
 * thread that finished compression or flushed the bin.
 */
final class PhysicalWrite {
    private final Flow flow;
    private final SlabDepot depot;
    private final BlockStore store;
    private final Faults faults;
    private final JournalAppender journal;
    private final LatencyHistogram latPack;
    final LongAdder compressedBlocksWritten = new LongAdder();

    PhysicalWrite(Flow flow, SlabDepot depot, BlockStore store, Faults faults, JournalAppender journal, LatencyHistogram latPack) {
        this.flow = flow;
        this.depot = depot;
        this.store = store;
        this.faults = faults;
        this.journal = journal;
        this.latPack = latPack;
    }

    void writeRaw(DataVio v) {
        long pbn;
        try {
            pbn = allocate(v, 1);
        } catch (Throwable t) {
            flow.fail(v, t);
            return;
        }
        v.newMapping = Mapping.raw(pbn);
        v.holdsRef = true;
        IOException error = null;
        try {
            store.write(pbn, ByteBuffer.wrap(v.data));
        } catch (IOException e) {
            error = e;
        } finally {
            depot.endWrite(pbn);   // the block holds its new data (or is lost): dedup may look at it now
        }
        if (error != null) {
            String op = "write of " + v + " to block " + pbn;
            flow.fail(v, StorageErrors.isNoSpace(error) ? faults.dataNoSpace(op, error) : faults.storageError(op, error));
            return;
        }
        v.volume.counters.rawBlocksWritten.increment();
        flow.stored(v);
    }

    private long allocate(DataVio v, int refs) throws IOException {
        if (v.reserved) {
            v.reserved = false;
            return depot.allocateReserved(refs);
        }
        try {
            return depot.allocate(refs);
        } catch (VdoException e) {
            if (e.errno() != Errno.ENOSPC || depot.pendingFree() == 0) throw e;
            journal.commitNow();
            return depot.allocate(refs);
        }
    }

    /** The packer's bin writer: one packed block for many fragments; a lone fragment is stored raw. */
    void writeBin(Bin<DataVio> bin) {
        int n = bin.size();
        for (int i = 0; i < n; i++) {
            bin.owner(i).inPacker = false;
            bin.owner(i).stage = Stage.PHYSICAL_WRITE;
        }
        if (n == 1) { writeRaw(bin.owner(0)); return; }
        DataVio payer = null;
        for (int i = 0; i < n; i++) if (bin.owner(i).reserved) { payer = bin.owner(i); break; }
        long pbn;
        try {
            pbn = allocate(payer != null ? payer : bin.owner(0), n);
        } catch (Throwable t) {
            for (int i = 0; i < n; i++) flow.fail(bin.owner(i), t);
            return;
        }
        for (int i = 0; i < n; i++) {
            DataVio o = bin.owner(i);
            o.releaseReservation(depot);
            o.newMapping = Mapping.packed(pbn, i);
            o.holdsRef = true;
        }
        ByteBuffer out = ByteBuffer.allocate(PackedBlock.BLOCK_SIZE);
        try {
            bin.encode(out);
            out.clear();
            store.write(pbn, out);
        } catch (Throwable t) {
            depot.endWrite(pbn);
            Throwable e = !(t instanceof IOException io) ? t : StorageErrors.isNoSpace(io)
                    ? faults.dataNoSpace("write of packed block " + pbn, io) : faults.storageError("write of packed block " + pbn, io);
            for (int i = 0; i < n; i++) flow.fail(bin.owner(i), e);
            return;
        }
        depot.endWrite(pbn);
        compressedBlocksWritten.increment();
        for (int i = 0; i < n; i++) {
            DataVio o = bin.owner(i);
            latPack.since(o.stageStart);
            o.volume.counters.compressedFragmentsWritten.increment();
            flow.stored(o);
        }
    }
}
