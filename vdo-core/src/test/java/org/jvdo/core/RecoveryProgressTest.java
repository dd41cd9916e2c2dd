package org.jvdo.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The open after a crash logs the journal replay's progress: INFO lines with entries replayed
 * of the total, percent and rate, one per 10% at most (the clock is held still, so no line is
 * due to time), and a final line with the counts and the duration; the listener hears the
 * phase from 0 to the total.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RecoveryProgressTest {
    static final int WRITES = 3000;
    static final Pattern PROGRESS = Pattern.compile("journal replay: (\\d+) of (\\d+) entries \\((\\d+)%\\), (\\d+|-) entries/s");
    static final Pattern FINAL = Pattern.compile("journal replay done: (\\d+) entries in (\\d+) blocks, (\\d+) mappings applied in [0-9.]+ s \\(.* entries/s\\)");

    @TempDir
    Path dir;

    /** Collects the records of one logger. */
    static final class Capture extends Handler implements AutoCloseable {
        final List<LogRecord> records = Collections.synchronizedList(new ArrayList<>());
        private final Logger logger;
        private final Level before;

        Capture(String name) {
            logger = Logger.getLogger(name);
            before = logger.getLevel();
            logger.setLevel(Level.ALL);
            logger.addHandler(this);
        }

        List<String> messages(Level level) {
            synchronized (records) {
                return records.stream().filter(r -> r.getLevel() == level).map(LogRecord::getMessage).toList();
            }
        }

        @Override public void publish(LogRecord r) { records.add(r); }
        @Override public void flush() { }
        @Override public void close() {
            logger.removeHandler(this);
            logger.setLevel(before);
        }
    }

    @Test
    void replayAfterACrashLogsItsProgressAndAFinalLine() throws Exception {
        Random r = new Random(3);
        Pool p = Pool.create(dir, PoolConfig.small(64L << 20));
        Volume v = p.createVolume("v", 32L << 20);
        for (int i = 0; i < WRITES; i++) Await.value(v.write(i * 4096L, ByteBuffer.wrap(Blocks.text(r)), false), "write " + i);
        Await.value(p.flush(), "flush");   // the entries are durable in the journal, the block map is not checkpointed
        p.crash();

        PoolConfig cfg = PoolConfig.small(64L << 20);
        cfg.clock = () -> 42L;             // time stands still: only the 10% steps bring lines
        List<String> heard = Collections.synchronizedList(new ArrayList<>());
        cfg.recoveryProgress = (phase, done, total) -> heard.add(phase + " " + done + "/" + total);
        try (Capture log = new Capture("org.jvdo.core.recovery"); Pool q = Pool.open(dir, cfg)) {
            assertTrue(q.replayedEntries() >= WRITES, "replayed " + q.replayedEntries());
            List<String> info = log.messages(Level.INFO);
            List<String> progress = info.stream().filter(m -> m.startsWith("journal replay: ")).toList();
            List<String> finals = info.stream().filter(m -> m.startsWith("journal replay done: ")).toList();
            assertEquals(1, finals.size(), "one final line: " + info);
            Matcher f = FINAL.matcher(finals.get(0));
            assertTrue(f.matches(), finals.get(0));
            long total = Long.parseLong(f.group(1));
            assertEquals(q.replayedEntries(), Long.parseLong(f.group(3)), finals.get(0));
            assertTrue(total >= WRITES, finals.get(0));

            assertEquals(9, progress.size(), "a line at 10%, 20%, ... 90%, no more: " + progress);
            int lastPercent = 0;
            for (String m : progress) {
                Matcher pm = PROGRESS.matcher(m);
                assertTrue(pm.matches(), m);
                assertEquals(total, Long.parseLong(pm.group(2)), "the total is known from the start: " + m);
                int pct = Integer.parseInt(pm.group(3));
                assertEquals(lastPercent / 10 + 1, pct / 10, "one line per 10% step: " + progress);
                assertEquals(Long.parseLong(pm.group(1)) * 100 / total, pct, m);
                lastPercent = pct;
            }
            assertTrue(info.stream().anyMatch(m -> m.startsWith("reference count rebuild done: ")), "the rebuild's final line: " + info);

            List<String> replay = heard.stream().filter(h -> h.startsWith("journal replay ")).toList();
            assertEquals("journal replay 0/" + total, replay.get(0));
            assertEquals("journal replay " + total + "/" + total, replay.get(replay.size() - 1));
        }
    }

    @Test
    void aCleanOpenLogsNoProgressAtInfo() throws Exception {
        try (Pool p = Pool.create(dir, PoolConfig.small(64L << 20))) {
            Await.value(p.createVolume("v", 1L << 20).write(0, ByteBuffer.wrap(Blocks.text(new Random(1))), false), "write");
        }
        try (Capture log = new Capture("org.jvdo.core.recovery"); Pool q = Pool.open(dir, PoolConfig.small(64L << 20))) {
            assertEquals(List.of(), log.messages(Level.INFO), "nothing to replay, nothing to say at INFO");
        }
    }
}
