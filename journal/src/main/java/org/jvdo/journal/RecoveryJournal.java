package org.jvdo.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Write-ahead log for block-map changes: a ring of checksummed 4 KiB blocks in a
 * {@link JournalStore}. It exists so a block-map change can be acknowledged once its entry is
 * durable here (one sequential block write plus one sync, shared by concurrent committers),
 * while the block map itself is written lazily and repaired after a crash by replay.
 *
 * <p>Life cycle: {@link #append} entries (cheap, in memory), {@link #commit} to make them durable
 * (group commit), and after the caller has checkpointed its block map, {@link #trim} to free ring
 * blocks. The caller persists {@link #headBlockSeq()} and {@link #headEntrySeq()} in its super
 * block and passes them to {@link #open} after a restart, which replays every durable entry from
 * the head onward.
 *
 * <p>Blocks are never rewritten once written: a commit closes the partially filled current block.
 * Stale blocks (an earlier lap of the ring, another pool's nonce, torn writes) are recognised by
 * sequence number, nonce and CRC32C, so the region never needs zeroing.
 *
 * <p>All methods are thread-safe.
 *
 * <p>About 600 lines on purpose: appending, group commit, trimming and the open's replay all
 * work on one ring state (block sequence numbers, the end-entry table, the pending blocks)
 * under one lock; split apart they would have to share that state through accessors. The block
 * layout itself is in {@code org.jvdo.format.JournalBlockLayout}, its examination in
 * {@link JournalBlockFormat}.
 *
 * <p>Why over 400 lines: appending, committing, the write-ahead gate, replay and reaping share one
 * sequence-number state under one lock; the block layout itself is the format module's.
 */
public final class RecoveryJournal implements AutoCloseable {

    private static final int MAX_FREE_BUFFERS = 8;

    private final JournalStore store;
    private final long nonce;
    private final int blockCount;
    private final ReplayResult replayResult;

    /** Guards all fields below except where noted. */
    private final Object lock = new Object();
    /** Serialises the I/O part of commits. */
    private final ReentrantLock commitLock = new ReentrantLock();

    private long headBlockSeq;
    private long headEntrySeq;
    /** First block seq not yet written; blocks [headBlockSeq, nextWriteSeq) are on disk. */
    private long nextWriteSeq;
    /** Sequence the next started block gets. */
    private long nextBlockSeq;
    private long nextEntrySeq;
    private long durableEntrySeq;
    /** For on-disk blocks: exclusive end entry seq, indexed by ring index. */
    private final long[] blockEnd;

    /** The block appends currently go into, or null. */
    private ByteBuffer current;
    private long currentBlockSeq;
    private long currentFirstEntry;
    private int currentCount;
    /** Closed, not yet written blocks in sequence order. */
    private final ArrayDeque<PendingBlock> pending = new ArrayDeque<>();
    private final ArrayDeque<ByteBuffer> freeBuffers = new ArrayDeque<>();

    private IOException failure;
    private boolean closed;
    /** The open found the block at nextWriteSeq written completely but rotten (damage); guarded by lock. */
    private boolean stopBlockDamaged;

    private long entriesCommitted;
    private long blocksWritten;
    private long syncs;

    private record PendingBlock(ByteBuffer buffer, long blockSeq, long firstEntrySeq, int count) {
    }

    private RecoveryJournal(JournalStore store, long nonce, long headBlockSeq, long headEntrySeq,
                            ReplayResult replayResult) {
        this.store = store;
        this.nonce = nonce;
        this.blockCount = store.blockCount();
        this.blockEnd = new long[blockCount];
        this.headBlockSeq = headBlockSeq;
        this.headEntrySeq = headEntrySeq;
        this.nextWriteSeq = headBlockSeq;
        this.nextBlockSeq = headBlockSeq;
        this.nextEntrySeq = headEntrySeq;
        this.durableEntrySeq = headEntrySeq - 1;
        this.replayResult = replayResult;
    }

    /**
     * Creates a new, empty journal on {@code store} (next block seq 1, next entry seq 1). Nothing is
     * written: whatever the region holds is rejected later by nonce and sequence checks.
     */
    public static RecoveryJournal create(JournalStore store, long nonce) {
        checkStore(store);
        return new RecoveryJournal(store, nonce, 1, 1, new ReplayResult(0, 0, "new journal", 0));
    }

    /**
     * Opens an existing journal and replays it: starting at block {@code headBlockSeq}, blocks are
     * read while they are valid (magic, version, CRC, nonce) and carry exactly the expected
     * consecutive block and entry sequence numbers; entries with seq {@code >= headEntrySeq} are
     * passed to {@code replay} in order. Reading stops at the first invalid block; appends then
     * continue at that block sequence, overwriting the bad slot. Valid blocks beyond the end (left
     * by a group commit that was interrupted after a later block but not an earlier one reached the
     * disk) are overwritten with zeros and synced before returning, so they can never be mistaken
     * for a continuation of blocks written later.
     *
     * @see #replayResult()
     */
    public static RecoveryJournal open(JournalStore store, long nonce, long headBlockSeq, long headEntrySeq,
                                       Consumer<JournalEntry> replay) throws IOException {
        return open(store, nonce, headBlockSeq, headEntrySeq, true, replay);
    }

    /**
     * As {@link #open(JournalStore, long, long, long, Consumer)}; with {@code scrub} false nothing is
     * written (a check): the blocks beyond the end are examined but left as they are, and the
     * returned journal must not be appended to.
     *
     * <p>Damage: when a valid block beyond the end records a commit point at or past the first
     * entry that could not be replayed, entries that were durable (acknowledged by a flush) are
     * unreadable. So too when the block where replay stopped is not a torn write: judged sector
     * by sector ({@link JournalBlockFormat#examine}), none of its sectors holds older contents
     * (a crash tears a write only at sector boundaries, leaving old sectors) and some sector
     * verifies as nothing, so it was written completely and then rotted. The result says so
     * ({@link ReplayResult#damaged()}) and lists the entries not replayed (those still readable
     * in the rotten block, then those of the valid blocks beyond the end); the caller decides
     * (refuse, report, or discard with {@code --repair}).
     */
    public static RecoveryJournal open(JournalStore store, long nonce, long headBlockSeq, long headEntrySeq,
                                       boolean scrub, Consumer<JournalEntry> replay) throws IOException {
        checkStore(store);
        Objects.requireNonNull(replay, "replay");
        if (headBlockSeq < 1 || headEntrySeq < 1) {
            throw new IllegalArgumentException("head block seq and head entry seq start at 1, got "
                    + headBlockSeq + " and " + headEntrySeq);
        }
        int blockCount = store.blockCount();
        long[] ends = new long[blockCount];
        ByteBuffer buf = JournalBlockFormat.allocate();
        Walk w = walk(store, nonce, headBlockSeq, headEntrySeq, ends, buf, replay);
        long seq = w.seq();
        long end = w.end();
        long blocks = w.blocks();
        long entries = w.entries();
        String stop = w.stop();
        boolean stopBlockInvalid = w.stopBlockInvalid();
        String damage = null;
        List<JournalEntry> discarded = new ArrayList<>();
        // the block where replay stopped: torn by a crash (the end), or written completely and rotten
        boolean stopBlockDamaged = false;
        if (stopBlockInvalid) {
            long index = JournalBlockFormat.ringIndex(seq, blockCount);
            buf.clear();
            store.readBlock(index, buf);
            JournalBlockFormat.Examined ex = JournalBlockFormat.examine(buf, nonce, seq, end);
            if (ex.damaged()) {
                stopBlockDamaged = true;
                long first = ex.firstEntrySeq();
                long last = first + Math.max(ex.entryBound(), 1) - 1;
                damage = "journal block seq " + seq + " (ring index " + index + ") is unreadable (" + stop
                        + "), but it is not a torn write: no sector holds older contents, so it was written completely, and sector(s) "
                        + ex.indexes(JournalBlockFormat.SectorState.CORRUPT) + " fail(s) verification [" + ex.describe()
                        + "]: entries " + first + ".." + last + " were acknowledged and are lost"
                        + (ex.countKnown() ? "" : " (at most: the sector with the entry count is unreadable)")
                        + (ex.readable().isEmpty() ? "" : "; " + ex.readable().size() + " of them are still readable");
                discarded.addAll(ex.readable());
            }
        }
        // look beyond the end: a later block whose commit point covers entry `end` proves damage
        for (long s = seq + 1; s - headBlockSeq < blockCount; s++) {
            long index = JournalBlockFormat.ringIndex(s, blockCount);
            buf.clear();
            store.readBlock(index, buf);
            JournalBlockFormat.DecodedBlock later = JournalBlockFormat.decode(buf, nonce, s);
            if (!later.valid()) continue;
            if (later.commitPoint() >= end && damage == null) {
                damage = "journal block seq " + seq + " (ring index " + JournalBlockFormat.ringIndex(seq, blockCount)
                        + ") is unreadable (" + stop + "), but block seq " + s + ", written later, records entries up to "
                        + later.commitPoint() + " as durable: entries " + end + ".." + later.commitPoint()
                        + " were acknowledged and are lost";
            }
            if (damage != null || later.commitPoint() >= end) discarded.addAll(later.entries());
        }
        if (damage == null) discarded.clear();
        // a damaged journal keeps its evidence until someone decides to discard it (discardBeyondEnd)
        int scrubbed = scrub && damage == null ? scrubBeyond(store, nonce, headBlockSeq, seq, buf) : 0;
        RecoveryJournal j = new RecoveryJournal(store, nonce, headBlockSeq, headEntrySeq,
                new ReplayResult(blocks, entries, stop, scrubbed, damage, List.copyOf(discarded)));
        System.arraycopy(ends, 0, j.blockEnd, 0, blockCount);
        j.stopBlockDamaged = stopBlockDamaged;
        j.nextWriteSeq = seq;
        j.nextBlockSeq = seq;
        j.nextEntrySeq = end;
        j.durableEntrySeq = end - 1;
        return j;
    }

    /** Where a walk of the chain from the head stopped and what it passed. */
    private record Walk(long seq, long end, long blocks, long entries, String stop, boolean stopBlockInvalid) { }

    /**
     * Walks the chain of valid blocks from the head: each entry with seq {@code >= headEntrySeq}
     * goes to {@code replay}; {@code ends[ringIndex]} receives the entry seq after each block.
     */
    private static Walk walk(JournalStore store, long nonce, long headBlockSeq, long headEntrySeq, long[] ends, ByteBuffer buf,
                             Consumer<JournalEntry> replay) throws IOException {
        int blockCount = store.blockCount();
        long seq = headBlockSeq;
        long end = headEntrySeq;
        long blocks = 0;
        long entries = 0;
        String stop;
        boolean stopBlockInvalid = false;
        while (true) {
            if (seq - headBlockSeq >= blockCount) {
                stop = "end of journal (every ring block replayed)";
                break;
            }
            long index = JournalBlockFormat.ringIndex(seq, blockCount);
            buf.clear();
            store.readBlock(index, buf);
            JournalBlockFormat.DecodedBlock block = JournalBlockFormat.decode(buf, nonce, seq);
            String failure = block.failure();
            stopBlockInvalid = failure != null;
            if (failure == null) {
                long first = block.firstEntrySeq();
                long last = first + block.entries().size();
                if (blocks == 0) {
                    if (first > headEntrySeq || last < headEntrySeq) {
                        failure = "entries " + first + ".." + (last - 1) + " do not contain head entry " + headEntrySeq;
                    }
                } else if (first != end) {
                    failure = "entry sequence " + first + " where " + end + " expected";
                }
            }
            if (failure != null) {
                stop = "end of journal: " + failure + " at block seq " + seq + " (ring index " + index + ")";
                break;
            }
            long entrySeq = block.firstEntrySeq();
            for (JournalEntry e : block.entries()) {
                if (entrySeq >= headEntrySeq) {
                    replay.accept(e);
                    entries++;
                }
                entrySeq++;
            }
            end = entrySeq;
            ends[(int) index] = end;
            blocks++;
            seq++;
        }
        return new Walk(seq, end, blocks, entries, stop, stopBlockInvalid);
    }

    /**
     * How many entries {@link #open} would replay from this head: the same walk, reading only,
     * with nothing applied (so a replay can report its progress against a total). Costs one read
     * of the blocks to replay.
     */
    public static long countReplayable(JournalStore store, long nonce, long headBlockSeq, long headEntrySeq) throws IOException {
        checkStore(store);
        if (headBlockSeq < 1 || headEntrySeq < 1) return 0;
        return walk(store, nonce, headBlockSeq, headEntrySeq, new long[store.blockCount()], JournalBlockFormat.allocate(), e -> { })
                .entries();
    }

    /**
     * Repair of a damaged journal: zeroes the valid blocks beyond the end (their entries, listed in
     * {@link ReplayResult#discarded()}, are given up), and the unreadable block at the end itself
     * when it was found written completely but rotten (so it is not found again), so appends can
     * continue. Returns how many blocks it zeroed.
     */
    public int discardBeyondEnd() throws IOException {
        long end;
        long head;
        boolean zeroEnd;
        synchronized (lock) {
            end = nextWriteSeq;
            head = headBlockSeq;
            zeroEnd = stopBlockDamaged;
            stopBlockDamaged = false;
        }
        int n = 0;
        if (zeroEnd) {
            store.writeBlock(JournalBlockFormat.ringIndex(end, blockCount), JournalBlockFormat.allocate());
            store.sync();
            n++;
        }
        return n + scrubBeyond(store, nonce, head, end, JournalBlockFormat.allocate());
    }

    /** Zeroes valid blocks of this nonce whose seq lies in (endSeq, headBlockSeq + blockCount). */
    private static int scrubBeyond(JournalStore store, long nonce, long headBlockSeq, long endSeq, ByteBuffer buf)
            throws IOException {
        int blockCount = store.blockCount();
        int scrubbed = 0;
        for (long s = endSeq + 1; s - headBlockSeq < blockCount; s++) {
            long index = JournalBlockFormat.ringIndex(s, blockCount);
            buf.clear();
            store.readBlock(index, buf);
            if (JournalBlockFormat.check(buf, nonce, s) == null) {
                ByteBuffer zero = JournalBlockFormat.allocate();
                store.writeBlock(index, zero);
                scrubbed++;
            }
        }
        if (scrubbed > 0) {
            store.sync();
        }
        return scrubbed;
    }

    private static void checkStore(JournalStore store) {
        Objects.requireNonNull(store, "store");
        if (store.blockCount() < 1) {
            throw new IllegalArgumentException("journal store needs at least one block, has " + store.blockCount());
        }
    }

    /** What {@link #open} replayed; for {@link #create} a result with stop reason "new journal". */
    public ReplayResult replayResult() {
        return replayResult;
    }

    /**
     * Adds an entry to the current block in memory and returns its global sequence number. No I/O;
     * the entry is durable once {@link #commit()} returns a value {@code >=} that number.
     *
     * @throws IllegalArgumentException if the entry cannot be encoded
     * @throws IllegalStateException    if the journal is closed
     */
    public long append(JournalEntry e) {
        Objects.requireNonNull(e, "entry");
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("recovery journal is closed");
            }
            if (current == null) {
                ByteBuffer b = freeBuffers.pollFirst();
                current = b != null ? b : JournalBlockFormat.allocate();
                currentBlockSeq = nextBlockSeq++;
                currentFirstEntry = nextEntrySeq;
                currentCount = 0;
            }
            e.encodeTo(current, JournalBlockFormat.entryOffset(currentCount)); // validates first
            currentCount++;
            long seq = nextEntrySeq++;
            if (currentCount == JournalBlockFormat.MAX_ENTRIES) {
                closeCurrent();
            }
            return seq;
        }
    }

    /**
     * Like {@link #append}, but only if the entry's block fits in the ring beside the untrimmed
     * blocks: returns -1 when it does not (the caller checkpoints, then tries again). An entry
     * this accepts can always be committed, so a full ring is back-pressure, never an error.
     */
    public long tryAppend(JournalEntry e) {
        Objects.requireNonNull(e, "entry");
        synchronized (lock) {
            if (current == null && !fits(nextBlockSeq)) {
                return -1;
            }
            return append(e);
        }
    }

    /** True when no new block fits in the ring until the journal is trimmed. */
    public boolean isFull() {
        synchronized (lock) {
            return current == null && !fits(nextBlockSeq);
        }
    }

    private void closeCurrent() {
        pending.addLast(new PendingBlock(current, currentBlockSeq, currentFirstEntry, currentCount));
        current = null;
        currentCount = 0;
    }

    /**
     * Group commit: writes every appended-but-unwritten entry (closing the current partial block),
     * syncs the store once, and returns the highest durable entry sequence. A caller whose entries
     * were already made durable by a concurrent commit returns without I/O. Entries appended while
     * a commit is writing go to the next commit.
     *
     * <p>If some block has no free ring slot, the blocks that fit are still written and synced, and
     * if the caller's entries are not all durable a {@link JournalFullException} is thrown; nothing
     * is lost and a later commit (after {@link #trim}) writes the rest.
     *
     * @throws JournalFullException if the ring has no room for the caller's entries
     * @throws IOException          if the store failed now or during an earlier commit; after such
     *                              a failure every later commit throws too, except when the store
     *                              was full ({@link StorageErrors#isNoSpace}): then the unwritten
     *                              blocks stay pending and a later commit retries them
     */
    public long commit() throws IOException {
        long target;
        synchronized (lock) {
            checkUsable();
            target = nextEntrySeq - 1;
            if (target <= durableEntrySeq) {
                return durableEntrySeq;
            }
        }
        commitLock.lock();
        try {
            List<PendingBlock> batch = new ArrayList<>();
            synchronized (lock) {
                checkUsable();
                if (durableEntrySeq >= target) {
                    return durableEntrySeq; // another committer's sync covered us
                }
                if (current != null && currentCount > 0 && fits(currentBlockSeq)) {
                    closeCurrent();
                }
                for (PendingBlock b : pending) {
                    if (!fits(b.blockSeq())) {
                        break;
                    }
                    batch.add(b);
                }
            }
            if (!batch.isEmpty()) {
                writeAndSync(batch);
            }
            synchronized (lock) {
                if (durableEntrySeq < target) {
                    long blocked = !pending.isEmpty() ? pending.peekFirst().blockSeq() : currentBlockSeq;
                    throw new JournalFullException(blocked, headBlockSeq, blockCount, nextEntrySeq - 1 - durableEntrySeq);
                }
                return durableEntrySeq;
            }
        } finally {
            commitLock.unlock();
        }
    }

    /** Called with commitLock held; the batch buffers are no longer touched by appenders. */
    private void writeAndSync(List<PendingBlock> batch) throws IOException {
        long commitPoint;
        synchronized (lock) {
            commitPoint = durableEntrySeq;
        }
        for (PendingBlock b : batch) {
            ByteBuffer buf = b.buffer();
            JournalBlockFormat.seal(buf, b.count(), b.blockSeq(), b.firstEntrySeq(), nonce, commitPoint);
            long index = JournalBlockFormat.ringIndex(b.blockSeq(), blockCount);
            buf.clear();
            try {
                store.writeBlock(index, buf);
            } catch (IOException | RuntimeException e) {
                throw fail("recovery journal write of block seq " + b.blockSeq() + " (ring index " + index
                        + ") failed: " + e, e);
            }
            synchronized (lock) {
                blocksWritten++;
            }
        }
        PendingBlock first = batch.get(0);
        PendingBlock last = batch.get(batch.size() - 1);
        try {
            store.sync();
        } catch (IOException | RuntimeException e) {
            throw fail("recovery journal sync after writing block seq " + first.blockSeq() + ".." + last.blockSeq()
                    + " failed: " + e, e);
        }
        synchronized (lock) {
            syncs++;
            for (PendingBlock b : batch) {
                PendingBlock removed = pending.pollFirst();
                assert removed == b;
                long end = b.firstEntrySeq() + b.count();
                blockEnd[(int) JournalBlockFormat.ringIndex(b.blockSeq(), blockCount)] = end;
                entriesCommitted += b.count();
                if (freeBuffers.size() < MAX_FREE_BUFFERS) {
                    freeBuffers.addLast(b.buffer());
                }
            }
            nextWriteSeq = last.blockSeq() + 1;
            durableEntrySeq = last.firstEntrySeq() + last.count() - 1;
        }
    }

    /**
     * A failed write or sync. A full filesystem ({@link StorageErrors#isNoSpace}) is transient:
     * the batch stays pending (nothing was marked durable) and the next commit writes it again
     * into the same ring slots. Any other failure makes the journal unusable for good.
     */
    private IOException fail(String message, Throwable cause) {
        IOException e = new IOException(message, cause);
        if (StorageErrors.isNoSpace(cause)) {
            return e;
        }
        synchronized (lock) {
            if (failure == null) {
                failure = e;
            }
        }
        return e;
    }

    private boolean fits(long blockSeq) {
        return blockSeq - headBlockSeq < blockCount;
    }

    private void checkUsable() throws IOException {
        if (closed) {
            throw new IllegalStateException("recovery journal is closed");
        }
        if (failure != null) {
            throw new IOException("recovery journal unusable after an earlier failure: " + failure.getMessage(),
                    failure.getCause());
        }
    }

    /**
     * Declares that every entry with seq {@code < entrySeq} is durable elsewhere (a checkpoint),
     * freeing the ring blocks that hold only such entries. Never moves backwards.
     *
     * @throws IllegalArgumentException if {@code entrySeq > durableEntrySeq() + 1}: the journal
     *                                  cannot be trimmed past what it has made durable
     */
    public void trim(long entrySeq) {
        synchronized (lock) {
            if (entrySeq > durableEntrySeq + 1) {
                throw new IllegalArgumentException("cannot trim to entry " + entrySeq
                        + ": only entries up to " + durableEntrySeq + " are durable");
            }
            if (entrySeq <= headEntrySeq) {
                return;
            }
            headEntrySeq = entrySeq;
            while (headBlockSeq < nextWriteSeq
                    && blockEnd[(int) JournalBlockFormat.ringIndex(headBlockSeq, blockCount)] <= entrySeq) {
                headBlockSeq++;
            }
        }
    }

    /**
     * The head ({@code {headBlockSeq, headEntrySeq}}) that {@link #trim trim(entrySeq)} would
     * leave, without trimming: a checkpoint records it in the super block first and trims only
     * once that write succeeded, so ring slots are never reused while the durable super block
     * still points replay at them.
     */
    public long[] headAfterTrim(long entrySeq) {
        synchronized (lock) {
            if (entrySeq > durableEntrySeq + 1) {
                throw new IllegalArgumentException("cannot trim to entry " + entrySeq
                        + ": only entries up to " + durableEntrySeq + " are durable");
            }
            if (entrySeq <= headEntrySeq) {
                return new long[]{headBlockSeq, headEntrySeq};
            }
            long block = headBlockSeq;
            while (block < nextWriteSeq
                    && blockEnd[(int) JournalBlockFormat.ringIndex(block, blockCount)] <= entrySeq) {
                block++;
            }
            return new long[]{block, entrySeq};
        }
    }

    /** Block seq replay must start from; store it in the super block. */
    public long headBlockSeq() {
        synchronized (lock) {
            return headBlockSeq;
        }
    }

    /** First entry seq still needed; store it in the super block. */
    public long headEntrySeq() {
        synchronized (lock) {
            return headEntrySeq;
        }
    }

    /** Highest entry seq made durable (0 if none). */
    public long durableEntrySeq() {
        synchronized (lock) {
            return durableEntrySeq;
        }
    }

    /** Highest entry seq appended so far (0 if none ever). */
    public long lastAppendedSeq() {
        synchronized (lock) {
            return nextEntrySeq - 1;
        }
    }

    /** Ring blocks holding written, untrimmed entries. */
    public int usedBlocks() {
        synchronized (lock) {
            return (int) (nextWriteSeq - headBlockSeq);
        }
    }

    /** Ring size in blocks. */
    public int blockCount() {
        return blockCount;
    }

    /** True when used blocks plus blocks still to be written exceed half the ring. */
    public boolean needsCheckpoint() {
        synchronized (lock) {
            long inUse = nextWriteSeq - headBlockSeq + pending.size() + (current != null && currentCount > 0 ? 1 : 0);
            return inUse * 2 > blockCount;
        }
    }

    /** Entries made durable by commits of this instance. */
    public long entriesCommitted() {
        synchronized (lock) {
            return entriesCommitted;
        }
    }

    /** Blocks written by commits of this instance. */
    public long blocksWritten() {
        synchronized (lock) {
            return blocksWritten;
        }
    }

    /** Store syncs issued by commits of this instance. */
    public long syncs() {
        synchronized (lock) {
            return syncs;
        }
    }

    /** Marks the journal closed; commits nothing (call {@link #commit()} first if wanted). */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
        }
    }
}
