package org.jvdo.packer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PackerConcurrencyTest {

    private static final int THREADS = 4;
    private static final int PER_THREAD = 10_000;

    /** A write request owning one compressed fragment. */
    private static final class Req {
        final int id;
        final byte[] data;

        Req(int id) {
            this.id = id;
            Random rnd = new Random(id * 7919L + 1);
            // mostly small fragments, sometimes large ones, so all hand-over paths are exercised
            int size = rnd.nextInt(10) == 0 ? 1 + rnd.nextInt(PackedBlock.MAX_PAYLOAD) : 1 + rnd.nextInt(900);
            data = new byte[size];
            rnd.nextBytes(data);
        }

        int encoding() {
            return id % 3;
        }
    }

    @Test
    void everyFragmentEndsUpInExactlyOneDecodableBin() throws Exception {
        ConcurrentHashMap<Integer, Req> writtenOwners = new ConcurrentHashMap<>();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        Set<Bin<Req>> bins = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
        AtomicInteger writerCalls = new AtomicInteger();
        AtomicInteger fragmentsWritten = new AtomicInteger();
        AtomicInteger concurrentWriters = new AtomicInteger();
        AtomicInteger maxConcurrentWriters = new AtomicInteger();

        BinWriter<Req> writer = bin -> {
            int now = concurrentWriters.incrementAndGet();
            maxConcurrentWriters.accumulateAndGet(now, Math::max);
            try {
                writerCalls.incrementAndGet();
                if (!bins.add(bin)) {
                    problems.add("bin handed over twice: " + bin);
                }
                if (bin.size() < 1 || bin.size() > PackedBlock.MAX_FRAGMENTS
                        || bin.usedBytes() > PackedBlock.MAX_PAYLOAD) {
                    problems.add("bad bin shape: " + bin);
                    return;
                }
                ByteBuffer block = (bin.size() % 2 == 0)
                        ? ByteBuffer.allocate(PackedBlock.BLOCK_SIZE)
                        : ByteBuffer.allocateDirect(PackedBlock.BLOCK_SIZE);
                bin.encode(block);
                block.flip();
                if (PackedBlock.fragmentCount(block) != bin.size()) {
                    problems.add("count mismatch in " + bin);
                }
                for (int slot = 0; slot < bin.size(); slot++) {
                    Req owner = bin.owner(slot);
                    if (bin.slot(owner) != slot) {
                        problems.add("slot lookup wrong for " + owner.id);
                    }
                    PackedBlock.Fragment f = PackedBlock.locate(block, slot);
                    byte[] back = new byte[f.length()];
                    block.get(f.offset(), back);
                    if (!Arrays.equals(owner.data, back)) {
                        problems.add("bytes differ for owner " + owner.id);
                    }
                    if (f.encoding() != owner.encoding()) {
                        problems.add("encoding differs for owner " + owner.id);
                    }
                    if (writtenOwners.putIfAbsent(owner.id, owner) != null) {
                        problems.add("owner written twice: " + owner.id);
                    }
                    fragmentsWritten.incrementAndGet();
                }
                if (writerCalls.get() % 64 == 0) {
                    Thread.yield(); // an occasionally slow writer
                }
            } catch (RuntimeException e) {
                problems.add("writer failed: " + e);
            } finally {
                concurrentWriters.decrementAndGet();
            }
        };

        Packer<Req> packer = new Packer<>(Packer.DEFAULT_BIN_COUNT, writer);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    Random rnd = new Random(thread);
                    List<Req> mine = new ArrayList<>();
                    for (int i = 0; i < PER_THREAD; i++) {
                        Req req = new Req(thread * PER_THREAD + i);
                        mine.add(req);
                        packer.add(req, ByteBuffer.wrap(req.data), req.encoding());
                        int dice = rnd.nextInt(1000);
                        if (dice < 3) {
                            packer.flush();
                        } else if (dice < 8) {
                            packer.flushOlderThan(System.nanoTime() - rnd.nextInt(200_000));
                        } else if (dice < 20) {
                            packer.flushBinOf(mine.get(rnd.nextInt(mine.size())));
                        } else if (dice < 25) {
                            packer.fragmentsWaiting();
                            packer.binsWaiting();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        packer.flush();

        assertTrue(problems.isEmpty(), () -> problems.size() + " problems, e.g. " + problems.peek());
        int total = THREADS * PER_THREAD;
        assertEquals(total, writtenOwners.size(), "every owner written exactly once");
        assertEquals(total, fragmentsWritten.get());
        assertEquals(total, packer.fragmentsPacked());
        assertEquals(0, packer.fragmentsWaiting());
        assertEquals(0, packer.binsWaiting());
        assertEquals(writerCalls.get(), packer.binsWritten());
        assertEquals(writerCalls.get(), bins.size());
        // Packing actually happened: far fewer bins than fragments.
        assertTrue(bins.size() < total / 2, bins.size() + " bins for " + total + " fragments");
    }
}
