package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.Mapping;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class BlockMapPageTest {
    static long randomMapping(Random r) {
        return switch (r.nextInt(4)) {
            case 0 -> Mapping.UNMAPPED_ENTRY;
            case 1 -> Mapping.ZERO_ENTRY;
            case 2 -> Mapping.raw(r.nextLong() & Mapping.PBN_MASK);
            default -> Mapping.packed(r.nextLong() & Mapping.PBN_MASK, r.nextInt(Mapping.MAX_SLOTS));
        };
    }

    @Test
    void encodeDecodeRoundTrip() {
        Random r = new Random(11);
        long[] e = new long[BlockMap.ENTRIES_PER_PAGE];
        int[] sums = new int[e.length];
        for (int i = 0; i < e.length; i++) { e[i] = randomMapping(r); if (Mapping.hasBlock(e[i])) sums[i] = r.nextInt(); }
        ByteBuffer b = BlockMap.encodePage(e, sums);
        assertEquals(BlockStore.BLOCK_SIZE, b.capacity());
        long[] back = new long[e.length];
        int[] backSums = new int[e.length];
        BlockMap.decodePage(b, back, backSums, "test");
        assertArrayEquals(e, back);
        assertArrayEquals(sums, backSums);
        // a page of zeros (never written) is all unmapped
        long[] holes = new long[e.length];
        java.util.Arrays.fill(holes, 5);
        BlockMap.decodePage(ByteBuffer.allocate(BlockStore.BLOCK_SIZE), holes, new int[e.length], "test");
        assertArrayEquals(new long[e.length], holes);
    }

    @Test
    void everyCorruptionIsDetected() {
        Random r = new Random(12);
        long[] e = new long[BlockMap.ENTRIES_PER_PAGE];
        int[] sums = new int[e.length];
        for (int i = 0; i < e.length; i++) { e[i] = randomMapping(r); if (Mapping.hasBlock(e[i])) sums[i] = r.nextInt(); }
        byte[] good = BlockMap.encodePage(e, sums).array();
        for (int trial = 0; trial < 200; trial++) {
            byte[] bad = good.clone();
            bad[r.nextInt(bad.length)] ^= (byte) (1 << r.nextInt(8));
            assertThrows(CorruptPoolException.class, () -> BlockMap.decodePage(ByteBuffer.wrap(bad), new long[BlockMap.ENTRIES_PER_PAGE], new int[BlockMap.ENTRIES_PER_PAGE], "w"));
        }
    }

    @Test
    void corruptPageNamesVolumeAndPage() throws Exception {
        MemBlockStore store = new MemBlockStore("/pools/p1/pool.jvdo");
        long mapStart = 100;
        BlockMap.formatRegion(store, mapStart, 4);
        BlockMap map = new BlockMap("vol-7", store, mapStart, 4, 4 * BlockMap.ENTRIES_PER_PAGE, 4, seq -> { });
        long lbn = 2L * BlockMap.ENTRIES_PER_PAGE + 17;
        map.set(lbn, Mapping.raw(4242), 0x5eed, 1);
        map.set(5, Mapping.ZERO_ENTRY, 77, 1);     // no block: no checksum is kept
        map.writeDirtyPages();
        BlockMap fresh = new BlockMap("vol-7", store, mapStart, 4, 4 * BlockMap.ENTRIES_PER_PAGE, 4, seq -> { });
        assertEquals(Mapping.raw(4242), fresh.get(lbn));
        assertEquals(Mapping.ZERO_ENTRY, fresh.get(5));
        assertEquals(0x5eed, fresh.checksum(lbn));
        assertEquals(0, fresh.checksum(5));
        assertEquals(Mapping.UNMAPPED_ENTRY, fresh.get(3L * BlockMap.ENTRIES_PER_PAGE)); // never-written page
        store.blocks.get(mapStart + 2)[8 + 17 * 8] ^= 4;
        BlockMap again = new BlockMap("vol-7", store, mapStart, 4, 4 * BlockMap.ENTRIES_PER_PAGE, 4, seq -> { });
        CorruptPoolException ex = assertThrows(CorruptPoolException.class, () -> again.get(lbn));
        String m = ex.getMessage();
        assertTrue(m.contains("vol-7") && m.contains("page 2") && m.contains("/pools/p1/pool.jvdo"), m);
        assertEquals(Mapping.ZERO_ENTRY, again.get(5)); // other pages unaffected
    }

    @Test
    void evictionWritesAheadAndKeepsEntries() throws Exception {
        MemBlockStore store = new MemBlockStore("mem");
        long[] durable = {0};
        long pages = 20;
        BlockMap.formatRegion(store, 10, pages);
        BlockMap map = new BlockMap("v", store, 10, pages, pages * BlockMap.ENTRIES_PER_PAGE, 4, seq -> durable[0] = Math.max(durable[0], seq));
        Random r = new Random(5);
        long[] model = new long[(int) (pages * BlockMap.ENTRIES_PER_PAGE)];
        int[] sums = new int[model.length];
        for (int i = 1; i <= 5000; i++) {
            int lbn = r.nextInt(model.length);
            long m = randomMapping(r);
            int sum = Mapping.hasBlock(m) ? r.nextInt() : 0;
            map.set(lbn, m, sum, i);
            model[lbn] = m;
            sums[lbn] = sum;
        }
        assertTrue(map.cachedPages() <= 4);
        assertTrue(durable[0] > 0, "evicting a dirty page must make its journal entries durable first");
        for (int lbn = 0; lbn < model.length; lbn++) {
            assertEquals(model[lbn], map.get(lbn), "lbn " + lbn);
            assertEquals(sums[lbn], map.checksum(lbn), "checksum of lbn " + lbn);
        }
        int[] n = {0};
        map.forEachMapped((lbn, m) -> { assertEquals(model[(int) lbn], m); n[0]++; });
        long mapped = java.util.Arrays.stream(model).filter(x -> x != 0).count();
        assertEquals(mapped, n[0]);
        VdoException e = assertThrows(VdoException.class, () -> map.get(model.length));
        assertEquals(Errno.EINVAL, e.errno());
    }
}
