package org.jvdo.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RecoveryJournalTest {

    private static final long NONCE = 0xC0FFEE_0000_0001L;
    private static final int PER_BLOCK = JournalBlockFormat.MAX_ENTRIES;

    private static JournalEntry entry(long i) {
        return JournalEntry.map((int) (i % 7), i, i * 3, i * 5 + 1);
    }

    private static List<JournalEntry> replay(JournalStore store, long nonce, long headBlock, long headEntry,
                                             ReplayResult[] result) throws IOException {
        List<JournalEntry> out = new ArrayList<>();
        RecoveryJournal j = RecoveryJournal.open(store, nonce, headBlock, headEntry, out::add);
        if (result != null) {
            result[0] = j.replayResult();
        }
        j.close();
        return out;
    }

    private static List<JournalEntry> replay(JournalStore store, long headBlock, long headEntry) throws IOException {
        return replay(store, NONCE, headBlock, headEntry, null);
    }

    /** Appends entries number from..to (inclusive) and checks the returned sequence numbers. */
    private static List<JournalEntry> appendRange(RecoveryJournal j, long from, long to, List<JournalEntry> sink) {
        for (long i = from; i <= to; i++) {
            JournalEntry e = entry(i);
            assertEquals(j.lastAppendedSeq() + 1, j.append(e));
            sink.add(e);
        }
        return sink;
    }

    @Test
    void appendCommitReopenReplaysSameEntriesInOrder() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(64);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> expected = new ArrayList<>();
        for (long i = 1; i <= 1000; i++) {
            JournalEntry e = entry(i);
            assertEquals(i, j.append(e));
            expected.add(e);
            if (i % 37 == 0) {
                assertEquals(i, j.commit());
            }
        }
        assertEquals(1000, j.commit());
        assertEquals(1000, j.durableEntrySeq());
        assertEquals(1000, j.entriesCommitted());
        assertTrue(j.blocksWritten() > 8, "more than several blocks: " + j.blocksWritten());
        assertEquals(j.blocksWritten(), j.usedBlocks());
        assertEquals(j.syncs(), store.syncCount());
        long blocks = j.blocksWritten();
        j.close();

        ReplayResult[] r = new ReplayResult[1];
        assertEquals(expected, replay(store, NONCE, 1, 1, r));
        assertEquals(blocks, r[0].blocksReplayed());
        assertEquals(1000, r[0].entriesReplayed());
        assertTrue(r[0].stopReason().contains("block seq " + (blocks + 1)), r[0].stopReason());
        assertEquals(0, r[0].scrubbedBlocks());
    }

    @Test
    void commitClosesPartialBlockNeverRewritesAndSkipsIdleSync() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        assertEquals(0, j.commit());
        assertEquals(0, store.syncCount());
        appendRange(j, 1, 3, new ArrayList<>());
        assertEquals(3, j.commit());
        assertEquals(3, j.commit());
        assertEquals(1, store.syncCount());
        appendRange(j, 4, 5, new ArrayList<>());
        assertEquals(5, j.commit());
        assertEquals(List.of(0L, 1L), store.writeLog());
        assertEquals(2, j.syncs());
        assertEquals(2, j.usedBlocks());
        j.close();
        assertThrows(IllegalStateException.class, () -> j.append(entry(6)));
        assertThrows(IllegalStateException.class, j::commit);
    }

    @Test
    void appendsAfterReopenContinueTheSequence() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> expected = appendRange(j, 1, 200, new ArrayList<>());
        j.commit();
        j.close();
        RecoveryJournal k = RecoveryJournal.open(store, NONCE, 1, 1, e -> { });
        assertEquals(200, k.durableEntrySeq());
        assertEquals(200, k.lastAppendedSeq());
        assertEquals(2, k.usedBlocks());
        assertEquals(201, k.append(entry(201)));
        expected.add(entry(201));
        assertEquals(201, k.commit());
        k.close();
        assertEquals(expected, replay(store, 1, 1));
    }

    @Test
    void invalidEntryIsRejectedWithoutConsumingASequence() throws IOException {
        RecoveryJournal j = RecoveryJournal.create(new MemoryJournalStore(4), NONCE);
        assertEquals(1, j.append(entry(1)));
        assertThrows(IllegalArgumentException.class, () -> j.append(new JournalEntry(0, 0, 1, 1, 1)));
        assertThrows(IllegalArgumentException.class, () -> j.append(new JournalEntry(1, 70000, 1, 1, 1)));
        assertEquals(2, j.append(entry(2)));
        assertEquals(2, j.commit());
    }

    @Test
    void groupCommitSharesSyncsAndLosesNothing() throws Exception {
        // every commit that does I/O closes its partial block, so the ring must hold one block per commit call
        MemoryJournalStore store = new MemoryJournalStore(1024);
        store.setSyncDelayMillis(2);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        int threads = 4;
        int perThread = 400;
        Map<Long, JournalEntry> acknowledged = new ConcurrentHashMap<>();
        AtomicLong commitCalls = new AtomicLong();
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Throwable> errors = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread w = new Thread(() -> {
                try {
                    start.await();
                    Map<Long, JournalEntry> mine = new java.util.HashMap<>();
                    for (int i = 0; i < perThread; i++) {
                        JournalEntry e = JournalEntry.map(id, i, id * 100_000L + i, i + 1);
                        mine.put(j.append(e), e);
                        if (i % 4 == 3 || i == perThread - 1) {
                            long durable = j.commit();
                            commitCalls.incrementAndGet();
                            for (var it = mine.entrySet().iterator(); it.hasNext(); ) {
                                var m = it.next();
                                if (m.getKey() <= durable) {
                                    acknowledged.put(m.getKey(), m.getValue());
                                    it.remove();
                                }
                            }
                        }
                    }
                    if (!mine.isEmpty()) {
                        throw new AssertionError("thread " + id + " has unacknowledged entries " + mine.keySet());
                    }
                } catch (Throwable e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                }
            });
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            w.join();
        }
        assertTrue(errors.isEmpty(), () -> "worker failed: " + errors);
        assertEquals(threads * perThread, acknowledged.size());
        assertTrue(j.syncs() < commitCalls.get(), "syncs " + j.syncs() + " commits " + commitCalls.get());
        assertEquals(j.syncs(), store.syncCount());
        long total = j.lastAppendedSeq();
        j.close();

        List<JournalEntry> replayed = replay(store, 1, 1);
        assertEquals(total, replayed.size());
        assertEquals(replayed.size(), new HashSet<>(replayed).size(), "an entry was replayed twice");
        for (var a : acknowledged.entrySet()) {
            assertEquals(a.getValue(), replayed.get((int) (a.getKey() - 1)), "entry seq " + a.getKey());
        }
        // per thread, entries appear in append order
        int[] nextLbn = new int[threads];
        for (JournalEntry e : replayed) {
            assertEquals(nextLbn[e.volume()]++, e.lbn());
        }
    }

    @Test
    void ringWrapsManyTimesAndReplaysOnlyFromTheHead() throws IOException {
        int ring = 8;
        MemoryJournalStore store = new MemoryJournalStore(ring);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = new ArrayList<>();
        Random rnd = new Random(42);
        long next = 1;
        for (int round = 0; round < 300; round++) {
            int n = 1 + rnd.nextInt(200);
            appendRange(j, next, next + n - 1, all);
            next += n;
            assertEquals(next - 1, j.commit());
            assertTrue(j.usedBlocks() <= ring);
            // checkpoint lagging behind by up to ~250 entries
            long keep = rnd.nextInt(250);
            long trimTo = Math.max(j.headEntrySeq(), j.durableEntrySeq() + 1 - keep);
            j.trim(trimTo);
            assertEquals(trimTo, j.headEntrySeq());
            if (round % 50 == 49) {
                long hb = j.headBlockSeq();
                long he = j.headEntrySeq();
                j.close();
                List<JournalEntry> got = new ArrayList<>();
                j = RecoveryJournal.open(store, NONCE, hb, he, got::add);
                assertEquals(all.subList((int) he - 1, all.size()), got, "reopen at round " + round);
                assertEquals(next - 1, j.durableEntrySeq());
            }
        }
        assertTrue(j.headBlockSeq() > 10L * ring, "wrapped many times: head " + j.headBlockSeq());
        long hb = j.headBlockSeq();
        long he = j.headEntrySeq();
        j.close();
        assertEquals(all.subList((int) he - 1, all.size()), replay(store, hb, he));
    }

    @Test
    void trimInTheMiddleOfABlockReplaysOnlyEntriesFromTheHeadEntry() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(8);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = appendRange(j, 1, 300, new ArrayList<>());
        j.commit();
        j.trim(200); // block 1 holds 1..119 -> freed; block 2 holds 120..238 -> kept
        assertEquals(2, j.headBlockSeq());
        assertEquals(200, j.headEntrySeq());
        assertEquals(2, j.usedBlocks());
        j.trim(150); // never backwards
        assertEquals(200, j.headEntrySeq());
        assertThrows(IllegalArgumentException.class, () -> j.trim(302));
        j.trim(301);
        assertEquals(4, j.headBlockSeq());
        assertEquals(0, j.usedBlocks());
        j.close();
        assertEquals(List.of(), replay(store, 4, 301));
        assertEquals(all.subList(199, 300), replay(store, 2, 200));
    }

    /** A crash inside one group commit: the later block of the batch reached the disk, the earlier one did not. Not damage. */
    @Test
    void tornBlockInsideTheLastGroupCommitIsACrashNotDamage() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = new ArrayList<>();
        appendRange(j, 1, 10, all);
        j.commit();                                      // block seq 1
        appendRange(j, 11, 10 + JournalBlockFormat.MAX_ENTRIES + 5, all);
        j.commit();                                      // block seqs 2 and 3 in one batch
        j.close();
        byte[] raw = store.raw(1);                       // block seq 2 torn: sectors 4..7 keep their old zeros
        for (int i = 2048; i < raw.length; i++) raw[i] = 0;
        List<JournalEntry> got = new ArrayList<>();
        RecoveryJournal k = RecoveryJournal.open(store, NONCE, 1, 1, got::add);
        ReplayResult r = k.replayResult();
        assertEquals(all.subList(0, 10), got);
        assertFalse(r.damaged(), "a torn batch is what a crash leaves: " + r.damage());
        assertEquals(1, r.scrubbedBlocks(), "block seq 3 behind it");
        k.close();
    }

    @Test
    void tornSecondToLastBlockStopsReplayAndLaterBlocksAreNeverChainedAgain() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = new ArrayList<>();
        for (int b = 0; b < 5; b++) { // five blocks of 10 entries
            appendRange(j, b * 10 + 1, b * 10 + 10, all);
            j.commit();
        }
        j.close();
        // tear block seq 4 (ring index 3): its second half never reached the disk (old zeros stay)
        byte[] raw = store.raw(3);
        for (int i = 2048; i < raw.length; i++) {
            raw[i] = 0;
        }

        ReplayResult[] r = new ReplayResult[1];
        List<JournalEntry> got = new ArrayList<>();
        RecoveryJournal k = RecoveryJournal.open(store, NONCE, 1, 1, got::add);
        r[0] = k.replayResult();
        assertEquals(all.subList(0, 30), got);
        assertEquals(3, r[0].blocksReplayed());
        assertTrue(r[0].stopReason().contains("checksum mismatch"), r[0].stopReason());
        assertTrue(r[0].stopReason().contains("block seq 4 (ring index 3)"), r[0].stopReason());
        // block 4 was committed before block 5 was written, and block 5 says so: this is damage
        // (durable entries lost), not a torn group commit; the evidence stays until discarded
        assertTrue(r[0].damaged(), "damage reported");
        assertTrue(r[0].damage().contains("entries 31..40 were acknowledged and are lost"), r[0].damage());
        assertEquals(0, r[0].scrubbedBlocks(), "nothing written before someone decides");
        assertEquals(all.subList(40, 50), r[0].discarded());
        assertEquals(1, k.discardBeyondEnd(), "the valid block seq 5 behind the torn one");
        assertEquals(30, k.durableEntrySeq());

        // new entries, exactly as many as the torn block had, so the old block 5 would chain if it were left
        List<JournalEntry> expected = new ArrayList<>(all.subList(0, 30));
        for (int i = 0; i < 10; i++) {
            JournalEntry e = JournalEntry.map(3, 9000 + i, 1, 2);
            assertEquals(31 + i, k.append(e));
            expected.add(e);
        }
        assertEquals(40, k.commit());
        assertEquals(List.of(3L), store.writeLog().subList(store.writeLog().size() - 1, store.writeLog().size()));
        k.close();

        assertEquals(expected, replay(store, NONCE, 1, 1, r));
        assertEquals(4, r[0].blocksReplayed());
        assertEquals(expected, replay(store, 1, 1));
    }

    @Test
    void tornWriteFromAFailingStoreIsDetectedOnReopen() throws IOException {
        FaultyJournalStore store = new FaultyJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = appendRange(j, 1, 130, new ArrayList<>());
        j.commit(); // blocks 1 (119) and 2 (11)
        appendRange(j, 131, 400, all); // blocks 3, 4 full, 5 partial
        store.failWrite(2, 1000); // block 4 torn after 1000 bytes
        IOException e = assertThrows(IOException.class, j::commit);
        assertTrue(e.getMessage().contains("block seq 4"), e.getMessage());
        assertSame(store.lastInjected, e.getCause());
        j.close();

        ReplayResult[] r = new ReplayResult[1];
        // block 3 was written but never synced; the in-memory store kept it, so it replays
        assertEquals(all.subList(0, 130 + PER_BLOCK), replay(store, NONCE, 1, 1, r));
        assertTrue(r[0].stopReason().contains("checksum mismatch"), r[0].stopReason());
        assertTrue(r[0].stopReason().endsWith("at block seq 4 (ring index 3)"), r[0].stopReason());
    }

    @Test
    void staleBlocksFromAnEarlierLapAreNotReplayed() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(4);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = new ArrayList<>();
        for (int b = 0; b < 6; b++) { // block seqs 1..6; 5 and 6 overwrite ring slots 0 and 1
            appendRange(j, b * 10 + 1, b * 10 + 10, all);
            j.commit();
            j.trim(b * 10 - 9 > 0 ? b * 10 - 9 : 1); // keep the two most recent blocks
        }
        assertEquals(5, j.headBlockSeq());
        assertEquals(41, j.headEntrySeq());
        j.close();
        ReplayResult[] r = new ReplayResult[1];
        assertEquals(all.subList(40, 60), replay(store, NONCE, 5, 41, r));
        assertEquals(2, r[0].blocksReplayed());
        // slot 2 still holds block seq 3 from the previous lap
        assertTrue(r[0].stopReason().contains("sequence 3 where 7 expected"), r[0].stopReason());
    }

    @Test
    void blocksWithAnotherNonceAreNotReplayed() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(8);
        RecoveryJournal old = RecoveryJournal.create(store, 111);
        appendRange(old, 1, 500, new ArrayList<>()); // 4 blocks under nonce 111
        old.commit();
        old.close();

        ReplayResult[] r = new ReplayResult[1];
        assertEquals(List.of(), replay(store, 222, 1, 1, r));
        assertTrue(r[0].stopReason().contains("wrong nonce"), r[0].stopReason());

        // a new pool reusing the region: its first block replaces slot 0, slots 1.. still hold valid old blocks
        RecoveryJournal fresh = RecoveryJournal.create(store, 222);
        List<JournalEntry> mine = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            JournalEntry e = JournalEntry.map(1, 70 + i, 0, 9);
            fresh.append(e);
            mine.add(e);
        }
        fresh.commit();
        fresh.close();
        assertEquals(mine, replay(store, 222, 1, 1, r));
        assertTrue(r[0].stopReason().contains("wrong nonce"), r[0].stopReason());
        assertTrue(r[0].stopReason().contains("block seq 2"), r[0].stopReason());
    }

    @Test
    void badMagicAndUnsupportedVersionAreReported() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(4);
        ReplayResult[] r = new ReplayResult[1];
        assertEquals(List.of(), replay(store, NONCE, 1, 1, r));
        assertTrue(r[0].stopReason().contains("bad magic 0x00000000 at block seq 1 (ring index 0)"), r[0].stopReason());

        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        appendRange(j, 1, 3, new ArrayList<>());
        j.commit();
        j.close();
        byte[] raw = store.raw(0);
        raw[4] = 1; // version 1, the format before per-sector checks
        assertEquals(List.of(), replay(store, NONCE, 1, 1, r));
        assertTrue(r[0].stopReason().contains("unsupported version 1"), r[0].stopReason());
        raw[0] = 'X';
        replay(store, NONCE, 1, 1, r);
        assertTrue(r[0].stopReason().contains("bad magic"), r[0].stopReason());
    }

    @Test
    void fullRingThrowsAndAfterTrimNothingIsLost() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(4);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = appendRange(j, 1, 4 * PER_BLOCK, new ArrayList<>());
        assertEquals(4 * PER_BLOCK, j.commit());
        assertEquals(4, j.usedBlocks());
        assertTrue(j.needsCheckpoint());

        appendRange(j, 4 * PER_BLOCK + 1, 4 * PER_BLOCK + 5, all);
        JournalFullException full = assertThrows(JournalFullException.class, j::commit);
        assertTrue(full.getMessage().contains("block seq 5"), full.getMessage());
        assertTrue(full.getMessage().contains("4 blocks"), full.getMessage());
        assertEquals(5, full.blockSeq());
        assertEquals(4, full.blockCount());
        assertEquals(4 * PER_BLOCK, j.durableEntrySeq());
        // still full, still an exception, and appends keep going into the same open block
        appendRange(j, 4 * PER_BLOCK + 6, 4 * PER_BLOCK + 7, all);
        assertThrows(JournalFullException.class, j::commit);
        assertEquals(4, store.writeLog().size());

        j.trim(PER_BLOCK + 1); // frees block 1 only
        assertEquals(2, j.headBlockSeq());
        assertEquals(4 * PER_BLOCK + 7, j.commit());
        assertEquals(5, store.writeLog().size());
        j.close();
        assertEquals(all.subList(PER_BLOCK, all.size()), replay(store, 2, PER_BLOCK + 1));
    }

    @Test
    void fullRingWritesWhatFitsAndKeepsTheRestPending() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(4);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = appendRange(j, 1, 3 * PER_BLOCK, new ArrayList<>());
        j.commit();
        appendRange(j, 3 * PER_BLOCK + 1, 5 * PER_BLOCK + 10, all); // blocks 4, 5 full, 6 open
        assertThrows(JournalFullException.class, j::commit);
        assertEquals(4 * PER_BLOCK, j.durableEntrySeq(), "block 4 fit and was made durable");
        j.trim(2 * PER_BLOCK + 1);
        assertEquals(5 * PER_BLOCK + 10, j.commit());
        long hb = j.headBlockSeq();
        j.close();
        assertEquals(3, hb);
        assertEquals(all.subList(2 * PER_BLOCK, all.size()), replay(store, 3, 2 * PER_BLOCK + 1));
    }

    @Test
    void writeErrorPropagatesWithBlockSeqAndPoisonsTheJournal() throws IOException {
        FaultyJournalStore store = new FaultyJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        appendRange(j, 1, 10, new ArrayList<>());
        j.commit();
        appendRange(j, 11, 20, new ArrayList<>());
        j.commit();
        appendRange(j, 21, 30, new ArrayList<>());
        store.failWrite(1, 0);
        IOException first = assertThrows(IOException.class, j::commit);
        assertTrue(first.getMessage().contains("block seq 3"), first.getMessage());
        IOException cause = store.lastInjected;
        assertSame(cause, first.getCause());
        assertEquals(20, j.durableEntrySeq());

        j.append(entry(31));
        IOException again = assertThrows(IOException.class, j::commit);
        assertSame(cause, again.getCause());
        assertTrue(again.getMessage().contains("block seq 3"), again.getMessage());
        assertEquals(20, j.durableEntrySeq());
        assertEquals(2, j.syncs());
    }

    @Test
    void syncErrorAlsoPoisonsTheJournal() throws IOException {
        FaultyJournalStore store = new FaultyJournalStore(16);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        appendRange(j, 1, 10, new ArrayList<>());
        store.failSync(1);
        IOException e = assertThrows(IOException.class, j::commit);
        assertTrue(e.getMessage().contains("sync"), e.getMessage());
        assertEquals(0, j.durableEntrySeq());
        assertThrows(IOException.class, j::commit); // the store would succeed now; the journal must not
        assertEquals(0, store.syncCount());
    }

    @Test
    void openingTwiceYieldsIdenticalEntries() throws IOException {
        MemoryJournalStore store = new MemoryJournalStore(8);
        RecoveryJournal j = RecoveryJournal.create(store, NONCE);
        List<JournalEntry> all = appendRange(j, 1, 600, new ArrayList<>());
        j.commit();
        j.trim(100);
        long hb = j.headBlockSeq();
        long he = j.headEntrySeq();
        j.close();
        ReplayResult[] r1 = new ReplayResult[1];
        ReplayResult[] r2 = new ReplayResult[1];
        List<JournalEntry> first = replay(store, NONCE, hb, he, r1);
        List<JournalEntry> second = replay(store, NONCE, hb, he, r2);
        assertEquals(all.subList(99, 600), first);
        assertEquals(first, second);
        assertEquals(r1[0], r2[0]);
    }

    @Test
    void needsCheckpointCountsPendingBlocks() throws IOException {
        RecoveryJournal j = RecoveryJournal.create(new MemoryJournalStore(6), NONCE);
        assertFalse(j.needsCheckpoint());
        appendRange(j, 1, 3 * PER_BLOCK, new ArrayList<>());
        assertFalse(j.needsCheckpoint()); // 3 of 6 is not more than half
        j.append(entry(3 * PER_BLOCK + 1));
        assertTrue(j.needsCheckpoint()); // 4th block open
        assertEquals(0, j.usedBlocks());
        j.commit();
        assertEquals(4, j.usedBlocks());
        j.trim(2 * PER_BLOCK + 1);
        assertFalse(j.needsCheckpoint());
        assertEquals(6, j.blockCount());
    }
}
