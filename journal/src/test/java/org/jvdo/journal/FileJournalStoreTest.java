package org.jvdo.journal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileJournalStoreTest {

    @TempDir
    Path dir;

    @Test
    void blocksLandAtTheRegionOffsetAndReadBackUnwrittenAsZeros() throws IOException {
        Path file = dir.resolve("pool");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            FileJournalStore store = new FileJournalStore(ch, 3 * 4096 + 512, 4);
            assertEquals(4, store.blockCount());
            byte[] data = new byte[4096];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (i * 31 + 7);
            }
            store.writeBlock(2, ByteBuffer.wrap(data));
            store.sync();
            assertEquals(3 * 4096 + 512 + 3 * 4096, ch.size());

            ByteBuffer back = ByteBuffer.allocate(4096);
            store.readBlock(2, back);
            assertArrayEquals(data, back.array());

            ByteBuffer beyond = ByteBuffer.allocate(4096);
            beyond.put(0, (byte) 1);
            store.readBlock(3, beyond); // past the end of the file
            assertArrayEquals(new byte[4096], beyond.array());

            byte[] raw = Files.readAllBytes(file);
            assertEquals(data[0], raw[3 * 4096 + 512 + 2 * 4096]);
            assertThrows(IndexOutOfBoundsException.class, () -> store.readBlock(4, ByteBuffer.allocate(4096)));
            assertThrows(IllegalArgumentException.class, () -> store.writeBlock(0, ByteBuffer.allocate(100)));
        }
    }

    @Test
    void journalSurvivesReopeningTheFile() throws IOException {
        Path file = dir.resolve("pool");
        List<JournalEntry> written = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            RecoveryJournal j = RecoveryJournal.create(new FileJournalStore(ch, 8192, 16), 77);
            for (int i = 0; i < 300; i++) {
                JournalEntry e = JournalEntry.map(1, i, 0, i + 1000);
                j.append(e);
                written.add(e);
            }
            assertEquals(300, j.commit());
            j.close();
        }
        List<JournalEntry> replayed = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            RecoveryJournal j = RecoveryJournal.open(new FileJournalStore(ch, 8192, 16), 77, 1, 1, replayed::add);
            assertEquals(3, j.replayResult().blocksReplayed());
            j.close();
        }
        assertEquals(written, replayed);
    }
}
