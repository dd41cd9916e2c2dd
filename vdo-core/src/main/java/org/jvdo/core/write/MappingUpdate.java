package org.jvdo.core.write;

import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.journal.JournalEntry;

import java.io.IOException;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Stage "mapping update": the write takes effect. Reads of the old mapping in progress are
 * waited for first. Then, under the mapping read lock: the block-map page is loaded (and
 * validated), the journal entry (volume, LBN, old, new, checksum) appended, the block map set,
 * the old block's count dropped. A full journal ring makes the writer checkpoint and retry (it
 * slows writers down, it is never an error). A block-map update failing after its entry was
 * appended leaves the new block referenced and the pool read-only, so recovery can never map a
 * block that was freed and reused.
 */
final class MappingUpdate {
    private final Flow flow;
    private final LogicalLocks locks;
    private final ReentrantReadWriteLock mappingLock;
    private final JournalAppender journal;
    private final SlabDepot depot;
    private final Faults faults;
    private final LatencyHistogram latJournal, latAck;
    private final ForeignPins foreign;

    MappingUpdate(Flow flow, LogicalLocks locks, ReentrantReadWriteLock mappingLock, JournalAppender journal, SlabDepot depot,
                  Faults faults, LatencyHistogram latJournal, LatencyHistogram latAck, ForeignPins foreign) {
        this.flow = flow;
        this.foreign = foreign;
        this.locks = locks;
        this.mappingLock = mappingLock;
        this.journal = journal;
        this.depot = depot;
        this.faults = faults;
        this.latJournal = latJournal;
        this.latAck = latAck;
    }

    /** Waits for reads of the old mapping in progress (the last one to leave records it), else records now. */
    void finish(DataVio v) {
        final boolean[] wait = {false};
        locks.locks.compute(v.key, (k, l) -> {
            if (l.readers > 0) { l.finishWaiter = v; wait[0] = true; v.stage = Stage.READERS_WAIT; }
            return l;
        });
        if (!wait[0]) flow.recordMapping(v);
    }

    private static int checksumOf(DataVio v) { return Mapping.hasBlock(v.newMapping) || Mapping.isForeign(v.newMapping) ? v.checksum : 0; }

    /** Journal entry, block map, reference counts: the write takes effect. */
    void record(DataVio v) {
        LogicalVolume vol = v.volume;
        long old, seq;
        while (true) {
            mappingLock.readLock().lock();
            try {
                // the page is loaded (and validated) before anything is journaled: a failure here
                // leaves no entry behind that a replay could apply
                old = vol.blockMap().get(v.lbn);
                long tj = System.nanoTime();
                seq = journal.tryAppend(JournalEntry.map(vol.id(), v.lbn, old, v.newMapping, checksumOf(v)));
                latJournal.since(tj);
            } catch (Throwable t) {
                mappingLock.readLock().unlock();
                flow.fail(v, t instanceof IOException io ? faults.storageError("block map read for " + v, io) : t);
                return;
            }
            if (seq >= 0) break;
            // the journal ring is full: this writer waits for (runs) the checkpoint that frees it
            mappingLock.readLock().unlock();
            try {
                journal.makeSpace();
            } catch (Throwable t) {
                flow.fail(v, t instanceof IOException io ? faults.storageError("checkpoint for journal space", io) : t);
                return;
            }
        }
        try {
            vol.blockMap().set(v.lbn, v.newMapping, checksumOf(v), seq);
            v.holdsRef = false;
            if (Mapping.hasBlock(old)) depot.decrement(Mapping.pbn(old), seq);
            else if (Mapping.isForeign(old)) foreign.unpinLater(vol, v.lbn, old);
            vol.noteMappingChange(old, v.newMapping);
        } catch (Throwable t) {
            mappingLock.readLock().unlock();
            // the entry is journaled and another thread's commit will make it durable, so a replay
            // may apply it: the new block stays referenced (never freed and reused under a mapping
            // that recovery brings back) and the pool stops taking writes
            v.holdsRef = false;
            Throwable e = t instanceof IOException io ? faults.storageError("block map update of " + v, io) : t;
            faults.enterReadOnly("block map update of " + v + " failed after its journal entry: " + t, t);
            flow.fail(v, e);
            return;
        }
        mappingLock.readLock().unlock();
        if (v.claimAck()) { latAck.since(v.acceptedAt); v.request.ack(); }
        flow.release(v, null);
    }
}
