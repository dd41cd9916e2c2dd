package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.jvdo.testsupport.Await;
import org.jvdo.testsupport.Blocks;

import static org.jvdo.testsupport.Blocks.BS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A crashed pool (journal not yet applied) whose journal is damaged in a block that later,
 * valid blocks prove was durable: `check` reports it and writes nothing, the server refuses to
 * serve it, `check --repair` says what it discards, and afterwards no block reads content that
 * was never written to it. (Before: check said clean, zeroed the later blocks, and the server
 * served old versions of flushed blocks.)
 */
class JournalDamageTest {
    @TempDir Path dir;

    static byte[] content(int lbn, int version) {
        byte[] b = new byte[BS];
        ByteBuffer bb = ByteBuffer.wrap(b);
        for (int i = 0; i < BS; i += 16) bb.putInt(i, lbn).putInt(i + 4, version).putLong(i + 8, (long) lbn * 31 + version);
        return b;
    }

    static String sha(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"flip-middle", "zero-first"})
    void damagedJournalIsReportedRefusedAndRepairedExplicitly(String damage) throws Exception {
        PoolConfig cfg = PoolConfig.small(64L << 20);
        int lbns = 2000;
        try (Pool pool = Pool.create(dir, cfg)) {
            Volume v = pool.createVolume("v", (long) lbns * BS);
            // one flush per 100 writes: many group commits, each block records the commit point before it
            for (int i = 0; i < lbns; i++) {
                v.write((long) i * BS, ByteBuffer.wrap(content(i, 1)), false);
                if (i % 100 == 99) Await.value(v.flush(), "flush");
            }
            Await.value(v.flush(), "flush");
            pool.crash();
        }
        Path file = dir.resolve(Pool.DATA_FILE);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            long journalBlock = SuperBlock.JOURNAL_START + (damage.equals("zero-first") ? 0 : 5);
            if (damage.equals("zero-first")) {
                raf.seek(journalBlock * BS);
                raf.write(new byte[BS]);
            } else {
                raf.seek(journalBlock * BS + 200);
                int b = raf.read();
                raf.seek(journalBlock * BS + 200);
                raf.write(b ^ 0x40);
            }
        }
        String before = sha(file);
        PoolCheck.Result r = PoolCheck.run(dir, false, null);
        assertEquals(PoolCheck.ERRORS_LEFT, r.exitCode(), "check must not say clean: " + r);
        assertTrue(r.problems().stream().anyMatch(p -> p.what().contains("journal damaged")), "check names the damage: " + r.problems());
        assertEquals(before, sha(file), "check without --repair writes nothing");
        CorruptPoolException refused = assertThrows(CorruptPoolException.class, () -> Pool.open(dir, cfg).close());
        assertTrue(refused.getMessage().contains("were acknowledged and are lost") && refused.getMessage().contains("check --repair"),
                refused.getMessage());
        assertEquals(before, sha(file), "a refused open writes nothing");

        PoolCheck.Result repaired = PoolCheck.run(dir, true, null);
        assertTrue(repaired.repaired(), "repair: " + repaired);
        assertTrue(String.join("\n", repaired.notes()).contains("discarded"), "repair says what it discards: " + repaired.notes());
        try (Pool pool = Pool.open(dir, cfg)) {
            Volume v = pool.volume("v");
            int intact = 0;
            for (int i = 0; i < lbns; i++) {
                byte[] got = Volumes.read(v, (long) i * BS, BS);
                if (got[0] == 0 && got[BS - 1] == 0 && java.util.Arrays.equals(got, new byte[BS])) continue;  // its entry was discarded
                assertArrayEquals(content(i, 1), got, "lbn " + i + " holds content never written to it");
                intact++;
            }
            assertTrue(intact < lbns, "the damage lost some blocks (the test damaged a durable journal block)");
            assertEquals(java.util.List.of(), pool.verifyReferenceCounts());
        }
        assertEquals(PoolCheck.CLEAN, PoolCheck.run(dir, false, null).exitCode(), "clean after the repair");
    }
}
