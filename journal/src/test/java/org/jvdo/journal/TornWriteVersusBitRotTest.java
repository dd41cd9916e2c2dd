package org.jvdo.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The newest block of a journal, where replay stops: a crash tears its write only at 512-byte
 * sector boundaries (every sector old or new), which is the end of the journal; a block written
 * completely and then hit by bit rot is damage, never the clean end.
 */
class TornWriteVersusBitRotTest {

    private static final long NONCE = 0x5EC7_0000_0000_0042L;
    private static final int SECTOR = JournalBlockFormat.SECTOR_SIZE;
    private static final int SECTORS = JournalBlockFormat.SECTORS;

    /** A ring of 4 whose newest block, seq 5, overwrote seq 1 in slot 0; replay starts at block 2. */
    private static final class Fixture {
        final MemoryJournalStore store = new MemoryJournalStore(4);
        final List<JournalEntry> all = new ArrayList<>();
        byte[] older;   // slot 0 before block seq 5 was written: block seq 1
        byte[] newest;  // slot 0 after: block seq 5 (entries 41..50)

        Fixture() throws IOException {
            RecoveryJournal j = RecoveryJournal.create(store, NONCE);
            for (int b = 0; b < 4; b++) {
                append(j, 10);
                j.commit();
            }
            j.trim(11);
            assertEquals(2, j.headBlockSeq());
            older = store.raw(0).clone();
            append(j, 10);
            assertEquals(50, j.commit());
            newest = store.raw(0).clone();
            j.close();
            assertFalse(Arrays.equals(older, newest));
        }

        private void append(RecoveryJournal j, int n) {
            for (int i = 0; i < n; i++) {
                JournalEntry e = JournalEntry.map(1 + all.size() % 3, 1000 + all.size(), all.size(), 7L * all.size() + 1);
                j.append(e);
                all.add(e);
            }
        }

        /** Puts into slot 0 sector k of {@code newest} where bit k of {@code pattern} is set, else of {@code old}. */
        void tear(int pattern, byte[] old) {
            byte[] slot = store.raw(0);
            for (int k = 0; k < SECTORS; k++) {
                byte[] from = (pattern & (1 << k)) != 0 ? newest : old;
                System.arraycopy(from, k * SECTOR, slot, k * SECTOR, SECTOR);
            }
        }

        RecoveryJournal open(List<JournalEntry> got) throws IOException {
            return RecoveryJournal.open(store, NONCE, 2, 11, false, got::add);
        }
    }

    @Test
    void aLastBlockTornAtEverySectorPatternIsTheEndOfTheJournal() throws IOException {
        Fixture f = new Fixture();
        byte[] zeros = new byte[JournalBlockFormat.BLOCK_SIZE];
        for (byte[] old : List.of(f.older, zeros)) {
            String oldName = old == zeros ? "zeros" : "block seq 1";
            for (int pattern = 0; pattern < (1 << SECTORS); pattern++) {
                f.tear(pattern, old);
                List<JournalEntry> got = new ArrayList<>();
                ReplayResult r = f.open(got).replayResult();
                String what = "sectors new " + Integer.toBinaryString(pattern) + " over " + oldName + ": " + r;
                assertFalse(r.damaged(), what);
                if (pattern == (1 << SECTORS) - 1) {
                    assertEquals(f.all.subList(10, 50), got, what);
                } else {
                    assertEquals(f.all.subList(10, 40), got, what);
                    assertTrue(r.stopReason().contains("at block seq 5 (ring index 0)"), what);
                    assertEquals(List.of(), r.discarded(), what);
                }
            }
        }
    }

    @Test
    void theCompletelyWrittenLastBlockWithOneFlippedByteInAnySectorIsDamage() throws IOException {
        Fixture f = new Fixture();
        for (int off = 0; off < JournalBlockFormat.BLOCK_SIZE; off++) {
            f.tear((1 << SECTORS) - 1, f.older);
            f.store.raw(0)[off] ^= (byte) (1 << (off % 8));
            List<JournalEntry> got = new ArrayList<>();
            ReplayResult r = f.open(got).replayResult();
            String what = "byte " + off + " (sector " + off / SECTOR + ") flipped: " + r;
            if (off >= JournalBlockFormat.OFFSET_SECTOR0_CRC && off < JournalBlockFormat.OFFSET_SECTOR0_CRC + 4) {
                // the sector 0 CRC lies outside the block CRC: the block is still valid, nothing is lost
                assertFalse(r.damaged(), what);
                assertEquals(f.all.subList(10, 50), got, what);
                continue;
            }
            assertTrue(r.damaged(), what);
            assertEquals(f.all.subList(10, 40), got, what);
            assertTrue(r.damage().contains("journal block seq 5 (ring index 0)"), what);
            assertTrue(r.damage().contains("sector(s) " + off / SECTOR + " fail(s) verification"), what);
            if (off < SECTOR) {
                // the header with the count is gone: at most the 14 slots of sector 0 held entries
                assertTrue(r.damage().contains("entries 41..54 were acknowledged and are lost (at most"), what);
                assertEquals(List.of(), r.discarded(), what);
            } else {
                // all ten entries lie in sector 0, which still verifies: they are listed, not replayed
                assertTrue(r.damage().contains("entries 41..50 were acknowledged and are lost"), what);
                assertEquals(f.all.subList(40, 50), r.discarded(), what);
            }
        }
    }

    @Test
    void repairZeroesTheRottenBlockSoTheNextOpenIsClean() throws IOException {
        Fixture f = new Fixture();
        f.store.raw(0)[SECTOR * 3 + 100] ^= 0x04;
        List<JournalEntry> got = new ArrayList<>();
        RecoveryJournal j = RecoveryJournal.open(f.store, NONCE, 2, 11, got::add);
        assertTrue(j.replayResult().damaged());
        assertTrue(Arrays.equals(f.store.raw(0), flipped(f.newest, SECTOR * 3 + 100, 0x04)), "the evidence stays until discarded");
        assertEquals(1, j.discardBeyondEnd());
        assertTrue(Arrays.equals(f.store.raw(0), new byte[JournalBlockFormat.BLOCK_SIZE]));
        JournalEntry e = JournalEntry.map(2, 77, 0, 5);
        assertEquals(41, j.append(e));
        assertEquals(41, j.commit());
        j.close();
        got.clear();
        ReplayResult r = RecoveryJournal.open(f.store, NONCE, 2, 11, got::add).replayResult();
        assertFalse(r.damaged(), r.toString());
        List<JournalEntry> want = new ArrayList<>(f.all.subList(10, 40));
        want.add(e);
        assertEquals(want, got);
    }

    /**
     * A sector that still holds older contents proves the newest write never completed (so its
     * entries were never acknowledged): rot in the unwritten part of a torn block, or in a stale
     * block that was never overwritten, is not damage to durable entries.
     */
    @Test
    void rotNextToAnOlderSectorIsStillATornEnd() throws IOException {
        Fixture f = new Fixture();
        for (int pattern : new int[] {0, 0b1, 0b1111, 0b0011_1111, 0b1111_1100, 0b0111_1111}) {
            for (int k = 0; k < SECTORS; k++) {
                if (Integer.bitCount(pattern | (1 << k)) == SECTORS) continue; // k is the only old sector: no proof left
                f.tear(pattern, f.older);
                f.store.raw(0)[k * SECTOR + 300] ^= 0x10;
                ReplayResult r = f.open(new ArrayList<>()).replayResult();
                assertFalse(r.damaged(), "pattern " + Integer.toBinaryString(pattern) + ", sector " + k + " rotten: " + r);
            }
        }
    }

    private static byte[] flipped(byte[] b, int off, int mask) {
        byte[] c = b.clone();
        c[off] ^= (byte) mask;
        return c;
    }
}
