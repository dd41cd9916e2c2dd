package org.jvdo.journal;

import java.io.IOException;

/**
 * Thrown by {@link RecoveryJournal#commit()} when a block that must be written has no free slot in
 * the ring, because the caller has not checkpointed and {@link RecoveryJournal#trim trimmed} for a
 * while. It exists so callers can tell "checkpoint now and retry" apart from a real I/O failure:
 * unlike a store error it does not poison the journal, and no appended entry is lost (they stay
 * pending for the next commit).
 */
public final class JournalFullException extends IOException {

    private static final long serialVersionUID = 1L;

    private final long blockSeq;
    private final long headBlockSeq;
    private final int blockCount;

    public JournalFullException(long blockSeq, long headBlockSeq, int blockCount, long pendingEntries) {
        super("recovery journal full: block seq " + blockSeq + " cannot be written while head block seq is "
                + headBlockSeq + " (" + (blockSeq - headBlockSeq) + " blocks in use, ring holds " + blockCount
                + " blocks of " + JournalBlockFormat.MAX_ENTRIES + " entries; " + pendingEntries
                + " entries pending); checkpoint and trim first");
        this.blockSeq = blockSeq;
        this.headBlockSeq = headBlockSeq;
        this.blockCount = blockCount;
    }

    /** The block sequence that could not be written. */
    public long blockSeq() {
        return blockSeq;
    }

    /** The head block sequence at the time. */
    public long headBlockSeq() {
        return headBlockSeq;
    }

    /** Ring size in blocks. */
    public int blockCount() {
        return blockCount;
    }
}
