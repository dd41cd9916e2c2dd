package org.jvdo.core;

import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** The block-map tree of written leaf pages: region sizes, sparse walks, growth into a new region. */
class BlockMapTreeTest {
    @Test
    void regionSizes() {
        int b = BlockMapTree.BITS_PER_PAGE;
        assertEquals(32640, b);
        assertEquals(2, BlockMap.regionBlocks(1));
        assertEquals(b + 1, BlockMap.regionBlocks(b));
        assertEquals(b + 1 + 2 + 1, BlockMap.regionBlocks(b + 1));
        long max = BlockMap.pagesFor(SuperBlock.MAX_LOGICAL_BLOCKS);
        long n1 = (max + b - 1) / b, n2 = (n1 + b - 1) / b;
        assertEquals(max + n1 + n2 + 1, BlockMap.regionBlocks(max));
        assertEquals(3, BlockMapTree.levels(max));
    }

    @Test
    void sparseMapSurvivesEvictionsReopenAndGrowth() throws Exception {
        for (int treeCache : new int[]{2, 64}) sparseMap(treeCache);
    }

    private void sparseMap(int treeCache) throws Exception {
        MemBlockStore store = new MemBlockStore("mem");
        long logical = 1L << 34, pages = BlockMap.pagesFor(logical);
        BlockMap.formatRegion(store, 10, pages);
        BlockMap map = new BlockMap("v", store, 10, pages, logical, 8, treeCache, seq -> { });
        Random r = new Random(3);
        TreeMap<Long, Long> model = new TreeMap<>();
        for (int i = 0; i < 400; i++) {
            long lbn = (long) (r.nextDouble() * logical);
            model.put(lbn, Mapping.raw(1000 + i));
            map.set(lbn, Mapping.raw(1000 + i), 0, 1);
            if (i % 97 == 0) map.writeDirtyPages();
        }
        check(map, model);     // leaves written by eviction under bitmap pages not yet written
        long start1 = 10 + BlockMap.regionBlocks(pages), pages1 = BlockMap.pagesFor(2 * logical);
        map.grow(2 * logical, start1, pages1);   // from the live map: dirty leaves and bitmap pages
        check(map, model);
        BlockMap reopened = new BlockMap("v", store, start1, pages1, 2 * logical, 8, treeCache, seq -> { });
        check(reopened, model);
        reopened.set(5, Mapping.raw(77), 0, 2);
        model.put(5L, Mapping.raw(77));
        long start2 = start1 + BlockMap.regionBlocks(pages1), pages2 = BlockMap.pagesFor(4 * logical);
        reopened.grow(4 * logical, start2, pages2);
        BlockMap grown = new BlockMap("v", store, start2, pages2, 4 * logical, 8, treeCache, seq -> { });
        check(grown, model);
        assertTrue(store.blocks.size() < 3 * 1000, "only written pages were copied: " + store.blocks.size() + " blocks in the store");
    }

    static void check(BlockMap map, TreeMap<Long, Long> model) throws Exception {
        TreeMap<Long, Long> seen = new TreeMap<>();
        map.forEachMapped((lbn, m) -> seen.put(lbn, m));
        TreeMap<Long, Long> missing = new TreeMap<>(model), extra = new TreeMap<>(seen);
        missing.entrySet().removeAll(seen.entrySet());
        extra.entrySet().removeAll(model.entrySet());
        assertTrue(missing.isEmpty() && extra.isEmpty(), "walk misses " + missing.keySet() + ", has extra " + extra.keySet());
        for (var e : model.entrySet()) assertEquals(e.getValue(), map.get(e.getKey()), "lbn " + e.getKey());
    }
}
