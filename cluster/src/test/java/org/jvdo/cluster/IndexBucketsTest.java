package org.jvdo.cluster;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The packed bucket: entries found, updated in place, appended, and the oldest replaced when full. */
class IndexBucketsTest {
    @Test
    void insertFindUpdateAndEvictTheOldest() {
        int[] added = new int[1];
        byte[] b = null;
        for (int i = 0; i < 4; i++) {
            b = IndexBuckets.insert(b, 100 + i, 1000 + i, 7 + i, 4, added);
            assertEquals(1, added[0]);
        }
        assertEquals(4, IndexBuckets.count(b));
        assertEquals(IndexBuckets.HEADER + 4 * 18, b.length, "18 bytes per entry");
        for (int i = 0; i < 4; i++) {
            int at = IndexBuckets.find(b, 100 + i);
            assertEquals(1000 + i, IndexBuckets.mapping(b, at));
            assertEquals(7 + i, IndexBuckets.pool(b, at));
        }
        b = IndexBuckets.insert(b, 102, 5555, 65535, 4, added);
        assertEquals(0, added[0], "an existing fingerprint is updated, not added");
        assertEquals(5555, IndexBuckets.mapping(b, IndexBuckets.find(b, 102)));
        assertEquals(65535, IndexBuckets.pool(b, IndexBuckets.find(b, 102)), "pool ids are unsigned 16 bits");
        // full: each new entry replaces the oldest in turn
        b = IndexBuckets.insert(b, 200, 1, 1, 4, added);
        assertEquals(1, added[0]);
        assertEquals(4, IndexBuckets.count(b));
        assertEquals(-1, IndexBuckets.find(b, 100), "the oldest went first");
        b = IndexBuckets.insert(b, 201, 1, 1, 4, added);
        assertEquals(-1, IndexBuckets.find(b, 101));
        assertTrue(IndexBuckets.find(b, 102) >= 0 && IndexBuckets.find(b, 103) >= 0 && IndexBuckets.find(b, 200) >= 0);
        assertEquals(-1, IndexBuckets.find(null, 5));
        assertEquals(-1, IndexBuckets.find(b, 999));
    }
}
