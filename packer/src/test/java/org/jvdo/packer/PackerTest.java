package org.jvdo.packer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PackerTest {

    /** Collects every bin handed over. */
    private static final class Recorder implements BinWriter<String> {
        final List<Bin<String>> bins = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void write(Bin<String> bin) {
            bins.add(bin);
        }
    }

    private static ByteBuffer bytes(int size, int fill) {
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) fill);
        return ByteBuffer.wrap(b);
    }

    @Test
    void equalSizedFragmentsPackFourPerBin() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        for (int i = 0; i < 100; i++) {
            packer.add("r" + i, bytes(1000, i), PackedBlock.ENCODING_LZ4_BLOCK);
        }
        packer.flush();
        assertEquals(25, rec.bins.size());
        for (Bin<String> bin : rec.bins) {
            assertEquals(4, bin.size());
            assertEquals(4000, bin.usedBytes());
        }
        assertEquals(100, packer.fragmentsPacked());
        assertEquals(25, packer.binsWritten());
        assertEquals(0, packer.fragmentsWaiting());
        assertEquals(0, packer.binsWaiting());
    }

    @Test
    void interleavedMixedSizesPairUp() {
        // 3000 then 1000, repeated: each 3000 is completed by the following 1000 -> 30 full bins.
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        for (int i = 0; i < 30; i++) {
            packer.add("big" + i, bytes(3000, 1), 0);
            packer.add("small" + i, bytes(1000, 2), 0);
        }
        packer.flush();
        int lowerBound = (30 * 3000 + 30 * 1000 + PackedBlock.MAX_PAYLOAD - 1) / PackedBlock.MAX_PAYLOAD;
        assertEquals(30, lowerBound);
        assertEquals(30, rec.bins.size());
        for (Bin<String> bin : rec.bins) {
            assertEquals(4000, bin.usedBytes());
        }
    }

    @Test
    void sortedMixedSizesStayWithinTheOnlineBound() {
        // All 3000s first: with 16 bins, bigs 17..30 each evict a lone big (14 bins of one
        // fragment); the 16 bigs left each take one 1000 (16 bins); the other 14 smalls go 4 per
        // bin (4 bins). 14 + 16 + 4 = 34 bins, never more.
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        for (int i = 0; i < 30; i++) {
            packer.add("big" + i, bytes(3000, 1), 0);
        }
        for (int i = 0; i < 30; i++) {
            packer.add("small" + i, bytes(1000, 2), 0);
        }
        packer.flush();
        assertEquals(34, rec.bins.size());
        assertEquals(60, rec.bins.stream().mapToInt(Bin::size).sum());
        assertEquals(14, rec.bins.stream().filter(b -> b.size() == 1).count());
    }

    @Test
    void bestFitChoosesTheTightestBin() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(3, rec);
        packer.add("a", bytes(3000, 1), 0); // bin A: 1040 free
        packer.add("b", bytes(3500, 2), 0); // does not fit A -> bin B: 540 free
        assertEquals(2, packer.binsWaiting());
        // 500 fits A (1040 free) and B (540 free); first fit would pick A, worst fit a fresh bin.
        packer.add("c", bytes(500, 3), 0);
        assertEquals(2, packer.binsWaiting());
        assertTrue(packer.flushBinOf("b"));
        assertEquals(1, rec.bins.size());
        Bin<String> b = rec.bins.get(0);
        assertEquals(List.of("b", "c"), b.owners());
        assertEquals(1, b.slot("c"));
        assertEquals(4000, b.usedBytes());
        assertEquals(1, packer.fragmentsWaiting());
    }

    @Test
    void whenNothingFitsTheFullestBinIsWrittenAndAFreshOneStarted() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(2, rec);
        packer.add("a", bytes(2500, 1), 0); // bin A: 1540 free
        packer.add("b", bytes(3000, 2), 0); // bin B: 1040 free (fullest)
        assertTrue(rec.bins.isEmpty());
        packer.add("c", bytes(2000, 3), 0); // fits neither, both bins open -> B written
        assertEquals(1, rec.bins.size());
        assertEquals(List.of("b"), rec.bins.get(0).owners());
        assertEquals(2, packer.binsWaiting());
        assertEquals(2, packer.fragmentsWaiting());
        packer.flush();
        assertEquals(3, rec.bins.size());
    }

    @Test
    void fourteenTinyFragmentsAreWrittenAtOnce() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        for (int i = 0; i < 13; i++) {
            packer.add("t" + i, bytes(10, i), 0);
        }
        assertTrue(rec.bins.isEmpty());
        assertEquals(13, packer.fragmentsWaiting());
        packer.add("t13", bytes(10, 13), 0);
        assertEquals(1, rec.bins.size());
        assertEquals(14, rec.bins.get(0).size());
        assertEquals(0, packer.binsWaiting());
        assertEquals(0, packer.fragmentsWaiting());
    }

    @Test
    void binBelowFreeThresholdIsWrittenAtOnce() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, 32, rec);
        packer.add("x", bytes(4000, 1), 0); // 40 free: stays
        assertTrue(rec.bins.isEmpty());
        packer.add("y", bytes(10, 2), 0); // 30 free < 32: written
        assertEquals(1, rec.bins.size());
        assertEquals(List.of("x", "y"), rec.bins.get(0).owners());
        packer.add("z", bytes(4020, 3), 0); // 20 free alone: written
        assertEquals(2, rec.bins.size());
        assertEquals(1, rec.bins.get(1).size());
    }

    @Test
    void flushWritesEverythingAndEachBinDecodes() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(4, rec);
        int[] sizes = {700, 1200, 90, 3000, 15, 2500, 600, 1800, 333};
        for (int i = 0; i < sizes.length; i++) {
            packer.add("f" + i, bytes(sizes[i], i + 1), i % 3);
        }
        packer.flush();
        assertEquals(0, packer.fragmentsWaiting());
        assertEquals(0, packer.binsWaiting());
        int seen = 0;
        for (Bin<String> bin : rec.bins) {
            ByteBuffer block = ByteBuffer.allocate(PackedBlock.BLOCK_SIZE);
            bin.encode(block);
            block.flip();
            assertEquals(bin.size(), PackedBlock.fragmentCount(block));
            for (int slot = 0; slot < bin.size(); slot++) {
                int i = Integer.parseInt(bin.owner(slot).substring(1));
                PackedBlock.Fragment f = PackedBlock.locate(block, slot);
                assertEquals(sizes[i], f.length());
                assertEquals(i % 3, f.encoding());
                assertEquals(i % 3, bin.encoding(slot));
                for (int k = 0; k < f.length(); k++) {
                    assertEquals((byte) (i + 1), block.get(f.offset() + k));
                }
                seen++;
            }
        }
        assertEquals(sizes.length, seen);
        packer.flush(); // nothing left: no empty bins handed over
        assertEquals(seen, rec.bins.stream().mapToInt(Bin::size).sum());
    }

    @Test
    void flushOlderThanOnlyTakesOldBins() {
        AtomicLong clock = new AtomicLong(1_000);
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, 32, rec, clock::get);
        packer.add("old", bytes(3000, 1), 0);
        clock.set(2_000);
        packer.add("old2", bytes(1000, 2), 0); // joins the old bin; the bin keeps time 1000
        clock.set(5_000);
        packer.add("new", bytes(3000, 3), 0); // fresh bin at 5000
        assertEquals(2, packer.binsWaiting());

        assertEquals(0, packer.flushOlderThan(1_000)); // strictly before
        assertEquals(1, packer.flushOlderThan(3_000));
        assertEquals(1, rec.bins.size());
        assertEquals(List.of("old", "old2"), rec.bins.get(0).owners());
        assertEquals(1_000, rec.bins.get(0).oldestNanos());
        assertEquals(1, packer.fragmentsWaiting());
        assertFalse(packer.flushBinOf("old"), "old already left");
        assertEquals(1, packer.flushOlderThan(5_001));
        assertEquals(List.of("new"), rec.bins.get(1).owners());
    }

    @Test
    void flushOlderThanWithTheRealClock() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        long before = System.nanoTime();
        packer.add("a", bytes(100, 1), 0);
        assertEquals(0, packer.flushOlderThan(before));
        assertEquals(1, packer.flushOlderThan(System.nanoTime() + 1));
        assertEquals(1, rec.bins.size());
        assertTrue(rec.bins.get(0).oldestNanos() - before >= 0);
    }

    @Test
    void flushBinOf() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        packer.add("a", bytes(3000, 1), 0);
        packer.add("b", bytes(3000, 2), 0);
        packer.add("c", bytes(500, 3), 0); // joins a's bin (tie broken towards the earlier bin)
        assertFalse(packer.flushBinOf("zzz"));
        assertTrue(packer.flushBinOf("c"));
        assertEquals(1, rec.bins.size());
        assertEquals(List.of("a", "c"), rec.bins.get(0).owners());
        assertFalse(packer.flushBinOf("a"), "a is no longer waiting");
        assertEquals(1, packer.fragmentsWaiting());
        // the owner may be added again once its previous fragment has left
        packer.add("a", bytes(10, 9), 0);
        assertEquals(2, packer.fragmentsWaiting());
    }

    @Test
    void singleFragmentBinIsStillHandedOver() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        packer.add("lonely", bytes(2000, 1), 0);
        packer.flush();
        assertEquals(1, rec.bins.size());
        assertEquals(1, rec.bins.get(0).size());
    }

    @Test
    void addCopiesAndDoesNotConsumeTheCallersBuffer() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, rec);
        byte[] data = {1, 2, 3, 4, 5, 6};
        ByteBuffer buf = ByteBuffer.wrap(data, 1, 4); // 2,3,4,5
        packer.add("a", buf, 0);
        assertEquals(1, buf.position());
        Arrays.fill(data, (byte) 0); // caller reuses its buffer
        packer.flush();
        ByteBuffer frag = rec.bins.get(0).fragment(0);
        byte[] back = new byte[frag.remaining()];
        frag.get(back);
        assertArrayEquals(new byte[] {2, 3, 4, 5}, back);
    }

    @Test
    void rejectsBadInput() {
        Packer<String> packer = new Packer<>(16, b -> { });
        assertThrows(IllegalArgumentException.class, () -> packer.add("a", ByteBuffer.allocate(0), 0));
        assertThrows(IllegalArgumentException.class, () -> packer.add("a", ByteBuffer.allocate(4041), 0));
        assertThrows(IllegalArgumentException.class, () -> packer.add("a", ByteBuffer.allocate(1), 256));
        assertThrows(IllegalArgumentException.class, () -> new Packer<String>(0, b -> { }));
        assertThrows(IllegalArgumentException.class, () -> new Packer<String>(1, -1, b -> { }));
        packer.add("a", ByteBuffer.allocate(4040), 0); // 0 bytes free: written at once
        assertEquals(0, packer.fragmentsWaiting());
        String dup = new String("dup");
        packer.add(dup, ByteBuffer.allocate(10), 0);
        assertThrows(IllegalArgumentException.class, () -> packer.add(dup, ByteBuffer.allocate(10), 0));
        assertEquals(1, packer.fragmentsWaiting());
        assertEquals(2, packer.fragmentsPacked());
    }

    @Test
    void handedOverBinIsNeverReused() {
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(1, rec);
        packer.add("a", bytes(3000, 1), 0);
        packer.add("b", bytes(3000, 2), 0); // evicts a's bin
        packer.add("c", bytes(3000, 3), 0); // evicts b's bin
        packer.flush();
        assertEquals(3, rec.bins.size());
        assertNotSame(rec.bins.get(0), rec.bins.get(1));
        // The writer kept the first bin; later packing must not have changed its contents.
        Bin<String> first = rec.bins.get(0);
        assertEquals(List.of("a"), first.owners());
        assertEquals(1, first.fragment(0).get(2999));
    }

    @Test
    void writerExceptionDoesNotLoseOtherBins() {
        List<Bin<String>> written = new ArrayList<>();
        Packer<String> packer = new Packer<>(4, bin -> {
            written.add(bin);
            if (bin.owners().contains("boom")) {
                throw new IllegalStateException("disk full");
            }
        });
        packer.add("x", bytes(3000, 1), 0);
        packer.add("boom", bytes(3000, 2), 0);
        packer.add("y", bytes(3000, 3), 0);
        IllegalStateException e = assertThrows(IllegalStateException.class, packer::flush);
        assertEquals("disk full", e.getMessage());
        assertEquals(3, written.size());
        assertEquals(0, packer.binsWaiting());
    }

    @Test
    void writerRunsOutsideThePackerLock() throws Exception {
        CountDownLatch writerEntered = new CountDownLatch(1);
        CountDownLatch releaseWriter = new CountDownLatch(1);
        Recorder rec = new Recorder();
        Packer<String> packer = new Packer<>(16, bin -> {
            writerEntered.countDown();
            try {
                releaseWriter.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            rec.write(bin);
        });
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            packer.add("slow", bytes(100, 1), 0);
            Future<?> slowFlush = pool.submit(packer::flush);
            assertTrue(writerEntered.await(10, TimeUnit.SECONDS));
            // While the writer blocks, another thread can still add and query.
            Future<Integer> other = pool.submit(() -> {
                packer.add("fast", bytes(100, 2), 0);
                return packer.fragmentsWaiting();
            });
            assertEquals(1, other.get(10, TimeUnit.SECONDS));
            assertFalse(slowFlush.isDone());
            releaseWriter.countDown();
            slowFlush.get(10, TimeUnit.SECONDS);
            assertEquals(1, rec.bins.size());
            assertEquals(List.of("slow"), rec.bins.get(0).owners());
        } finally {
            releaseWriter.countDown();
            pool.shutdownNow();
        }
    }

    @SuppressWarnings("unchecked")
    @Test
    void writerMayCallBackIntoThePacker() {
        List<Bin<String>> written = new ArrayList<>();
        Packer<String>[] self = new Packer[1];
        self[0] = new Packer<>(16, bin -> {
            written.add(bin);
            self[0].flush(); // re-entrant use from the writer must not deadlock or duplicate
        });
        self[0].add("a", bytes(100, 1), 0);
        // 4020 bytes do not fit beside "a"; alone they leave 20 < 32 free, so the bin is written at
        // once, and the writer's own flush() then hands over a's bin from inside the writer.
        self[0].add("b", bytes(4020, 2), 0);
        assertEquals(2, written.size());
        assertEquals(List.of("b"), written.get(0).owners());
        assertEquals(List.of("a"), written.get(1).owners());
        assertEquals(0, self[0].fragmentsWaiting());
        self[0].flush();
        assertEquals(2, written.size());
    }
}
