package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.index.DedupIndex;
import org.jvdo.core.index.MemoryIndex;
import org.jvdo.testsupport.Blocks;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The write path with an index that answers later, on its own thread (as the clustered index
 * does): the answer is used when it comes in time; a lookup never answered, or answered after
 * its timeout, lets the write go on without dedup ({@code dedupe_advice_timeouts}) and a late
 * answer is dropped (its vio may already carry another block); advice naming another member's
 * pool is counted and not used. In every case each block reads back as written.
 */
class AsyncIndexEngineTest {
    static final int BLOCKS = IndexModeEngineTest.BLOCKS;
    @TempDir Path dir;
    final ScheduledExecutorService answers = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "test-index-answers"));

    @AfterEach
    void stop() { answers.shutdownNow(); }

    /** How the test index answers. */
    enum Behaviour { SOON, NEVER, LATE_AND_WRONG, FOREIGN }

    /** A MemoryIndex whose lookups answer on another thread, as told. */
    final class LaterIndex implements DedupIndex {
        final MemoryIndex inner = new MemoryIndex(1024, 1 << 20);
        final Behaviour how;
        final long timeoutNanos;
        final AtomicLong asked = new AtomicLong(), lateAnswers = new AtomicLong();

        LaterIndex(Behaviour how, long timeoutNanos) { this.how = how; this.timeoutNanos = timeoutNanos; }

        @Override public boolean answersLater() { return true; }
        @Override public long answerTimeoutNanos() { return timeoutNanos; }

        @Override
        public void lookupAsync(long fpHigh, long fpLow, int volume, long lbn, Advice answer) {
            asked.incrementAndGet();
            long found = inner.lookup(fpHigh, fpLow);
            switch (how) {
                case SOON -> answers.schedule(() -> answer.advice(found, null), 50, TimeUnit.MICROSECONDS);
                case NEVER -> { }
                // after the timeout (the answer waits until the write went on without it), with a
                // mapping that is not this block's (the newest one stored): used by the vio now
                // carrying another block, it would map that block to wrong data
                case LATE_AND_WRONG -> answerWhenTimedOut(answer, System.nanoTime());
                case FOREIGN -> answers.execute(() -> answer.advice(found, UUID.randomUUID()));
            }
        }

        final AtomicLong last = new AtomicLong(-1);

        /** Polls each millisecond until the writer stopped waiting, then answers (wrongly). */
        void answerWhenTimedOut(Advice answer, long asked) {
            answers.schedule(() -> {
                if (!answer.done()) {
                    if (System.nanoTime() - asked > TimeUnit.SECONDS.toNanos(60)) throw new AssertionError("the timeout never fired");
                    answerWhenTimedOut(answer, asked);
                    return;
                }
                lateAnswers.incrementAndGet();
                answer.advice(last.get(), null);
            }, 1, TimeUnit.MILLISECONDS);
        }

        @Override public long lookup(long fpHigh, long fpLow) { throw new AssertionError("the write path must ask lookupAsync"); }

        @Override
        public void update(long fpHigh, long fpLow, long mapping) {
            inner.update(fpHigh, fpLow, mapping);
            last.set(mapping);
        }

        @Override public long entries() { return inner.entries(); }
        @Override public long memoryBytes() { return inner.memoryBytes(); }
        @Override public String mode() { return "test-later"; }
        @Override public void save(Path file) { }
    }

    Map<String, Long> writeTwoCopies(LaterIndex index) throws Exception {
        PoolConfig cfg = PoolConfig.small(256L << 20);
        cfg.indexSupplier = uuid -> index;
        byte[][] img = IndexModeEngineTest.image(7);
        try (Pool p = Pool.create(dir, cfg)) {
            assertSame(index, p.index);
            Volume a = p.createVolume("a", (long) BLOCKS * Blocks.BS);
            Volume b = p.createVolume("b", (long) BLOCKS * Blocks.BS);
            IndexModeEngineTest.write(a, img);
            IndexModeEngineTest.write(b, img);
            IndexModeEngineTest.assertReadsBack(a, img, index.how + ": volume a");
            IndexModeEngineTest.assertReadsBack(b, img, index.how + ": volume b");
            return p.stats();
        }
    }

    @Test
    @Timeout(120)
    void answersThatComeInTimeAreUsed() throws Exception {
        LaterIndex index = new LaterIndex(Behaviour.SOON, TimeUnit.SECONDS.toNanos(30));
        Map<String, Long> s = writeTwoCopies(index);
        long found = IndexModeEngineTest.found(s);
        assertTrue(found >= 0.95 * BLOCKS, "the second copy deduplicated through the later answers: found " + found + " of " + BLOCKS + "; " + s);
        assertEquals(0, s.get("dedupe_advice_timeouts"), "no lookup timed out");
        assertTrue(index.asked.get() > BLOCKS, "every block was looked up asynchronously: " + index.asked);
    }

    @Test
    @Timeout(120)
    void lookupsNeverAnsweredTimeOutAndTheWritesGoOn() throws Exception {
        LaterIndex index = new LaterIndex(Behaviour.NEVER, TimeUnit.MILLISECONDS.toNanos(2));
        Map<String, Long> s = writeTwoCopies(index);
        assertEquals(index.asked.get(), s.get("dedupe_advice_timeouts"), "each unanswered lookup counted once; " + s);
        assertEquals(0, s.get("dedupe_advice_valid"), "no advice, none used");
    }

    @Test
    @Timeout(120)
    void anAnswerAfterItsTimeoutIsDropped() throws Exception {
        LaterIndex index = new LaterIndex(Behaviour.LATE_AND_WRONG, TimeUnit.MILLISECONDS.toNanos(1));
        Map<String, Long> s = writeTwoCopies(index);
        assertEquals(index.asked.get(), s.get("dedupe_advice_timeouts"), "each lookup timed out once; " + s);
        assertTrue(index.lateAnswers.get() > 0, "late answers were sent");
        assertEquals(0, s.get("dedupe_advice_valid") + s.get("dedupe_advice_stale"), "no late answer was used; " + s);
    }

    @Test
    @Timeout(120)
    void adviceNamingAnotherPoolIsCountedAndNotUsed() throws Exception {
        LaterIndex index = new LaterIndex(Behaviour.FOREIGN, TimeUnit.SECONDS.toNanos(30));
        Map<String, Long> s = writeTwoCopies(index);
        assertTrue(s.get("dedupe_advice_foreign") >= 0.95 * BLOCKS, "the copy's advice named another pool: " + s);
        assertEquals(0, s.get("dedupe_advice_valid") + s.get("dedupe_advice_stale"), "foreign advice is not verified here; " + s);
    }
}
