package org.jvdo.core.durability;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.core.write.JournalAppender;
import org.jvdo.journal.JournalEntry;
import org.jvdo.journal.RecoveryJournal;
import org.jvdo.journal.StorageErrors;

import java.io.IOException;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The recovery journal as the pool keeps it: commits (data synced first, then the entries that
 * point at it; blocks freed by durable entries released), checkpoints (dirty block-map pages
 * written, the super block given the new journal head, then the ring trimmed), journal-full
 * back-pressure, and the background task that keeps the journal short (every 100 ms).
 */
public final class Checkpointer implements JournalAppender {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");

    private final BlockStore store;
    private final SlabDepot depot;
    private final ReentrantReadWriteLock mappingLock;
    private final Supplier<Collection<LogicalVolume>> volumes;
    private final SuperBlockWriter sbWriter;
    private final ReadOnlyMode mode;
    private final LongSupplier clock;
    private RecoveryJournal journal;
    private volatile long checkpoints;
    /** Writers that found the journal ring full and checkpointed before appending (back-pressure). */
    private final LongAdder journalFullWaits = new LongAdder();
    private long lastBackgroundCommit;

    public Checkpointer(BlockStore store, SlabDepot depot, ReentrantReadWriteLock mappingLock, Supplier<Collection<LogicalVolume>> volumes,
                        SuperBlockWriter sbWriter, ReadOnlyMode mode, LongSupplier clock) {
        this.store = store;
        this.depot = depot;
        this.mappingLock = mappingLock;
        this.volumes = volumes;
        this.sbWriter = sbWriter;
        this.mode = mode;
        this.clock = clock;
        this.lastBackgroundCommit = clock.getAsLong();
    }

    /** The journal, once opened or created (block maps ask {@link #ensureDurable} before that, during replay). */
    public void attach(RecoveryJournal journal) { this.journal = journal; }

    public RecoveryJournal journal() { return journal; }

    @Override
    public long tryAppend(JournalEntry e) { return journal.tryAppend(e); }

    @Override
    public long lastAppendedSeq() { return journal.lastAppendedSeq(); }

    public long durableEntrySeq() { return journal.durableEntrySeq(); }

    /** Data first, then the journal entries that point at it: after this, acknowledged writes survive a crash. */
    @Override
    public void commitNow() throws IOException {
        store.sync();
        long durable = journal.commit();
        depot.releaseFreed(durable);
    }

    /** The block-map write gate: a page holding entry {@code seq} is written only once that entry is durable. */
    public void ensureDurable(long seq) throws IOException {
        if (journal != null && journal.durableEntrySeq() < seq) commitNow();
    }

    /**
     * Writes dirty block-map pages and moves the journal head past everything they now hold.
     * The super block gets the new journal head before the journal is trimmed in memory: if that
     * write fails (a full filesystem, retried later), no ring slot the durable head still points
     * replay at is reused. A checkpoint that succeeds ends the no-space state: everything pending
     * is written.
     */
    public void checkpoint() throws IOException {
        mappingLock.writeLock().lock();
        try {
            commitNow();
            for (LogicalVolume v : volumes.get()) v.blockMap().writeDirtyPages();
            store.sync();
            long trimTo = journal.lastAppendedSeq() + 1;
            long[] head = journal.headAfterTrim(trimTo);
            synchronized (sbWriter.lock()) {
                SuperBlock sb = sbWriter.superBlock();
                sb.journalHeadBlockSeq = head[0];
                sb.journalHeadEntrySeq = head[1];
                sbWriter.writeLocked();
            }
            journal.trim(trimTo);
            checkpoints++;
            if (mode.noSpaceReason() != null) mode.leaveNoSpace();
        } finally {
            mappingLock.writeLock().unlock();
        }
    }

    /**
     * Back-pressure for a writer that found the journal ring full: checkpoints (on the caller's
     * thread, serialised by the mapping write lock) so the ring is trimmed; the writer then
     * appends again. A full journal slows writers down; it is never an error.
     */
    @Override
    public void makeSpace() throws IOException {
        mappingLock.writeLock().lock();
        try {
            mode.checkNotReadOnly();
            if (!journal.isFull()) return;   // another writer's checkpoint made room
            journalFullWaits.increment();
            checkpoint();
        } finally {
            mappingLock.writeLock().unlock();
        }
    }

    /** After a flush's commit: retry a checkpoint in the no-space state, or checkpoint when the ring is half full. */
    public void afterFlush() throws IOException {
        if (mode.noSpaceReason() != null) retryAfterNoSpace();
        else if (journal.needsCheckpoint()) checkpoint();
    }

    /** Every 100 ms: keep the journal short and blocks freed by overwrites reusable. */
    public void background() throws IOException {
        if (mode.noSpaceReason() != null) {
            retryAfterNoSpace();
            return;
        }
        long now = clock.getAsLong();
        if (journal.lastAppendedSeq() > journal.durableEntrySeq()
                && (journal.needsCheckpoint() || now - lastBackgroundCommit > TimeUnit.SECONDS.toNanos(1))) {
            lastBackgroundCommit = now;
            commitNow();
        }
        if (journal.needsCheckpoint()) checkpoint();
    }

    /** A checkpoint attempt while in the no-space state (background, flushes); failing again changes nothing. */
    private void retryAfterNoSpace() {
        try {
            checkpoint();
        } catch (IOException e) {
            if (!StorageErrors.isNoSpace(e)) mode.storageError("checkpoint after a full filesystem", e);
            else LOG.fine(() -> "still no space: " + e.getMessage());
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "checkpoint after a full filesystem failed", t);
        }
    }

    public long checkpoints() { return checkpoints; }

    public long journalFullWaits() { return journalFullWaits.sum(); }
}
