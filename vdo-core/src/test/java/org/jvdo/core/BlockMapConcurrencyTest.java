package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jvdo.testsupport.Await;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The striped block-map cache under threads: lookups and updates of many pages at once over a
 * cache far smaller than the map (evictions all the time), with a journal simulated by two
 * sequence numbers (appended, durable). Every entry a test writes is {@code raw(seq)}, its
 * journal sequence as the PBN, with a checksum derived from it, so a page written to the store
 * says which entries it holds: the store checks the write-ahead rule on every leaf write, and
 * every entry read says whether its mapping and checksum belong together.
 */
class BlockMapConcurrencyTest {
    static final long MAP_START = 10;

    /** The checksum that goes with a mapping in these tests (0 for entries without a block, as the map stores). */
    static int sumOf(long m) {
        return Mapping.hasBlock(m) ? (int) (Mapping.pbn(m) * 0x9E3779B97F4A7C15L >>> 32) | 1 : 0;
    }

    /** A store that checks, at every leaf-page write, that the page holds no entry newer than the durable journal. */
    static final class WriteAheadStore implements BlockStore {
        final MemBlockStore inner = new MemBlockStore("mem");
        final long pages;
        final AtomicLong durable;
        final List<String> violations = new CopyOnWriteArrayList<>();
        /** Leaf pages written, in order, with the newest entry each held. */
        final List<long[]> leafWrites = Collections.synchronizedList(new ArrayList<>());

        WriteAheadStore(long pages, AtomicLong durable) {
            this.pages = pages;
            this.durable = durable;
        }

        @Override public void read(long b, ByteBuffer dst) throws IOException { inner.read(b, dst); }

        @Override
        public void write(long b, ByteBuffer src) throws IOException {
            if (b >= MAP_START && b < MAP_START + pages) {
                long[] entries = new long[BlockMap.ENTRIES_PER_PAGE];
                int[] sums = new int[BlockMap.ENTRIES_PER_PAGE];
                BlockMap.decodePage(src.duplicate(), entries, sums, "written page");
                long newest = 0;
                for (long m : entries) if (Mapping.hasBlock(m)) newest = Math.max(newest, Mapping.pbn(m));
                long d = durable.get();
                if (newest > d) violations.add("page " + (b - MAP_START) + " written holding journal entry " + newest + " while entries up to " + d + " are durable");
                leafWrites.add(new long[] {b - MAP_START, newest});
            }
            inner.write(b, src);
        }

        @Override public void sync() { }
        @Override public long sizeInBlocks() { return inner.sizeInBlocks(); }
        @Override public String describe() { return "write-ahead-checking mem"; }
        @Override public void close() { }

        /** Fails naming the first few violations and how many there were. */
        void assertNoViolation(String ctx) {
            if (!violations.isEmpty()) {
                fail(ctx + ": write-ahead rule broken " + violations.size() + " times, first: " + violations.subList(0, Math.min(3, violations.size())));
            }
        }

        boolean wrote(long page) {
            synchronized (leafWrites) {
                for (long[] w : leafWrites) if (w[0] == page) return true;
            }
            return false;
        }
    }

    static final int THREADS = 8, PAGES = 24, CACHE = 8, OPS = 20_000;

    /**
     * Eight threads, each owning the LBNs {@code lbn % 8 == t} (so every page is shared by all of
     * them), set, get, checksum and batch-look-up over 24 pages through an 8-page cache (4 stripes
     * of 2 pages), while a checkpointer thread, as the pool's, takes the mapping write lock, makes
     * the journal durable and writes the dirty pages. Every entry read must be the owner's last
     * write, every (mapping, checksum) pair a consistent one (another thread's entries too), no
     * page may reach the store before its entries are durable, and after a final checkpoint a map
     * opened afresh on the store must hold exactly the model.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void manyThreadsOverATinyCacheKeepEveryEntryAndTheWriteAheadRule() throws Exception {
        long seed = Long.getLong("jvdo.seed", System.nanoTime());
        AtomicLong appended = new AtomicLong(), durable = new AtomicLong();
        AtomicLong gateCalls = new AtomicLong();
        WriteAheadStore store = new WriteAheadStore(PAGES, durable);
        BlockMap.formatRegion(store, MAP_START, PAGES);
        long lbns = (long) PAGES * BlockMap.ENTRIES_PER_PAGE;
        BlockMap.WriteAheadGate gate = seq -> {
            gateCalls.incrementAndGet();
            if (durable.get() < seq) {
                Thread.yield();                                   // a commit takes a while: let others run into this stripe
                durable.accumulateAndGet(appended.get(), Math::max);
            }
        };
        BlockMap map = new BlockMap("v", store, MAP_START, PAGES, lbns, CACHE, gate);
        assertEquals(4, map.stripes(), "the test means 4 stripes of 2 pages");
        ReentrantReadWriteLock mappingLock = new ReentrantReadWriteLock();
        long[] model = new long[(int) lbns];
        List<String> torn = new CopyOnWriteArrayList<>();
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService ex = Executors.newFixedThreadPool(THREADS + 1);
        try {
            Future<?> checkpointer = ex.submit(() -> {
                while (!done.get()) {
                    mappingLock.writeLock().lock();
                    try {
                        durable.accumulateAndGet(appended.get(), Math::max);
                        map.writeDirtyPages();
                    } finally {
                        mappingLock.writeLock().unlock();
                    }
                    LockSupport.parkNanos(2_000_000);
                }
                return null;
            });
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                final int tt = t;
                workers.add(ex.submit(() -> {
                    Random r = new Random(seed * 31 + tt);
                    long[] maps = new long[64];
                    int[] sums = new int[64];
                    boolean[] wanted = new boolean[64];
                    for (int op = 0; op < OPS; op++) {
                        long lbn = (long) r.nextInt((int) (lbns / THREADS)) * THREADS + tt;
                        int k = r.nextInt(10);
                        String ctx = "seed " + seed + " thread " + tt + " op " + op + " lbn " + lbn;
                        if (k < 5) {
                            mappingLock.readLock().lock();       // as MappingUpdate: append, then set, under the read lock
                            try {
                                long seq = appended.incrementAndGet();
                                long m = r.nextInt(20) == 0 ? Mapping.ZERO_ENTRY : Mapping.raw(seq);
                                long old = map.set(lbn, m, sumOf(m), seq);
                                if (old != model[(int) lbn]) fail(ctx + ": set returned old " + Mapping.describe(old) + ", model " + Mapping.describe(model[(int) lbn]));
                                model[(int) lbn] = m;
                            } finally {
                                mappingLock.readLock().unlock();
                            }
                        } else if (k < 7) {
                            long got = map.get(lbn);
                            if (got != model[(int) lbn]) fail(ctx + ": get " + Mapping.describe(got) + ", model " + Mapping.describe(model[(int) lbn]));
                            int sum = map.checksum(lbn);
                            if (sum != sumOf(got)) fail(ctx + ": checksum " + sum + " does not go with " + Mapping.describe(got));
                        } else {
                            // a batch over two pages at most, the read path's shape: every entry is
                            // checked for consistency, the own ones against the model
                            int n = 1 + r.nextInt(64);
                            long first = Math.max(0, Math.min(lbns - n, lbn - r.nextInt(64)));
                            java.util.Arrays.fill(wanted, 0, n, true);
                            map.lookup(first, n, wanted, maps, sums);
                            for (int i = 0; i < n; i++) {
                                long l = first + i;
                                if (sums[i] != sumOf(maps[i])) torn.add(ctx + ": lbn " + l + " read " + Mapping.describe(maps[i]) + " with checksum " + sums[i]);
                                if (l % THREADS == tt && maps[i] != model[(int) l]) {
                                    fail(ctx + ": batch read lbn " + l + " as " + Mapping.describe(maps[i]) + ", model " + Mapping.describe(model[(int) l]));
                                }
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : workers) get(f);
            done.set(true);
            get(checkpointer);
        } finally {
            done.set(true);
            ex.shutdownNow();
        }
        if (!torn.isEmpty()) fail("seed " + seed + ": " + torn.size() + " mappings read with another entry's checksum, first: " + torn.subList(0, Math.min(3, torn.size())));
        store.assertNoViolation("seed " + seed);
        assertTrue(gateCalls.get() > 0, "dirty pages were evicted through the gate");
        assertTrue(map.cachedPages() <= CACHE, "cache " + map.cachedPages() + " pages, capacity " + CACHE);
        for (int lbn = 0; lbn < lbns; lbn++) {
            assertEquals(model[lbn], map.get(lbn), "seed " + seed + ": lbn " + lbn);
            assertEquals(sumOf(model[lbn]), map.checksum(lbn), "seed " + seed + ": checksum of lbn " + lbn);
        }
        durable.set(appended.get());
        map.writeDirtyPages();
        BlockMap again = new BlockMap("v", store, MAP_START, PAGES, lbns, CACHE, seq -> { });
        long[] mapped = {0};
        again.forEachMapped((lbn, m) -> {
            assertEquals(model[(int) lbn], m, "seed " + seed + ": reopened lbn " + lbn);
            mapped[0]++;
        });
        assertEquals(java.util.Arrays.stream(model).filter(m -> m != 0).count(), mapped[0], "seed " + seed + ": entries after reopening");
        store.assertNoViolation("seed " + seed);
    }

    static void get(Future<?> f) throws Exception {
        try {
            f.get(100, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }

    /**
     * The write-ahead rule with the gate outside the stripe lock. A 4-page cache (2 stripes of 2):
     * pages 0 and 2 (stripe 0) dirty with entries 1 and 2; a lookup of page 4 must evict page 0,
     * asks the gate for entry 1, and the gate holds it there. Meanwhile page 0 is not written,
     * and the stripe is not blocked: page 0 takes entry 10, stripe 1 and page 2 are read. When
     * the gate lets entry 1 through, page 0 now holds entry 10, so it must not be written yet: the
     * eviction asks the gate again, for 10, and only then writes it (holding both entries).
     */
    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void evictingADirtyPageWaitsForTheJournalWithoutHoldingTheStripe() throws Exception {
        AtomicLong durable = new AtomicLong();
        WriteAheadStore store = new WriteAheadStore(8, durable);
        BlockMap.formatRegion(store, MAP_START, 8);
        LinkedBlockingQueue<Long> asked = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<Boolean> release = new LinkedBlockingQueue<>();
        AtomicBoolean holding = new AtomicBoolean();
        BlockMap.WriteAheadGate gate = seq -> {
            if (holding.get()) {
                asked.add(seq);
                try {
                    if (release.poll(Await.VALUE_SECONDS, TimeUnit.SECONDS) == null) throw new IOException("the test never released the gate");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            durable.accumulateAndGet(seq, Math::max);
        };
        int e = BlockMap.ENTRIES_PER_PAGE;
        BlockMap map = new BlockMap("v", store, MAP_START, 8, 8L * e, 4, gate);
        assertEquals(2, map.stripes(), "the test means 2 stripes of 2 pages");
        map.set(5, Mapping.raw(1), sumOf(Mapping.raw(1)), 1);                  // page 0
        map.set(2L * e + 5, Mapping.raw(2), sumOf(Mapping.raw(2)), 2);         // page 2, stripe 0 full
        map.set(1L * e + 5, Mapping.raw(3), sumOf(Mapping.raw(3)), 3);         // page 1, stripe 1
        map.get(2L * e);                                                      // page 0 is the eldest of stripe 0
        holding.set(true);
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<Long> miss = ex.submit(() -> map.get(4L * e + 7));            // page 4, stripe 0: evicts page 0
            Long first = asked.poll(Await.SECONDS, TimeUnit.SECONDS);
            assertEquals(Long.valueOf(1), first, "evicting dirty page 0 must ask the journal for its entry 1 first");
            assertTrue(!store.wrote(0), "page 0 written before the gate returned");
            // the stripe is free while the gate waits: these must all complete
            CompletableFuture<Void> others = CompletableFuture.runAsync(() -> {
                try {
                    map.set(9, Mapping.raw(10), sumOf(Mapping.raw(10)), 10);       // page 0 changes under the eviction
                    assertEquals(Mapping.raw(3), map.get(1L * e + 5));          // stripe 1
                    assertEquals(Mapping.raw(2), map.get(2L * e + 5));          // stripe 0, another page: page 0 the eldest again
                } catch (IOException x) {
                    throw new RuntimeException(x);
                }
            });
            // (bounded well below the gate's own wait, so a held stripe shows here as a hang)
            Throwable failed = Await.outcome(others, Await.SECONDS, "lookups and an update while an eviction waits for the journal (is the stripe lock held across the gate?)", () -> "");
            if (failed != null) throw new AssertionError("lookups and an update while an eviction waits: " + failed, failed);
            assertTrue(!store.wrote(0), "page 0 written before the gate returned");
            release.add(true);                                               // entry 1 durable
            Long second = asked.poll(Await.SECONDS, TimeUnit.SECONDS);
            assertEquals(Long.valueOf(10), second, "page 0 changed by entry 10 while the gate waited: the eviction must ask again, for 10");
            assertTrue(!store.wrote(0), "page 0 written with entry 10 before the gate returned for it");
            release.add(true);                                               // entry 10 durable
            assertEquals(Mapping.UNMAPPED_ENTRY, miss.get(Await.SECONDS, TimeUnit.SECONDS).longValue());
        } finally {
            holding.set(false);
            release.add(true);
            release.add(true);
            ex.shutdownNow();
        }
        store.assertNoViolation("eviction");
        assertTrue(store.wrote(0), "page 0 evicted (written)");
        map.writeDirtyPages();                                               // the tree's bits (and the other pages)
        BlockMap again = new BlockMap("v", store, MAP_START, 8, 8L * e, 4, seq -> { });
        assertEquals(Mapping.raw(1), again.get(5), "page 0 as written keeps entry 1");
        assertEquals(Mapping.raw(10), again.get(9), "page 0 as written has entry 10");
        assertTrue(map.cachedPages() <= 4);
    }
}
