package org.jvdo.core;

import org.jvdo.core.physical.PbnWriteLocks;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The PBN write-lock set agrees with a HashSet under random adds and removes (deletion by backward shift). */
class PbnWriteLocksTest {
    @Test
    void agreesWithAHashSet() {
        Random r = new Random(5);
        PbnWriteLocks l = new PbnWriteLocks();
        Set<Long> ref = new HashSet<>();
        for (int i = 0; i < 200_000; i++) {
            long pbn = r.nextInt(3000);
            if (ref.contains(pbn)) {
                assertEquals(true, l.remove(pbn));
                ref.remove(pbn);
            } else if (r.nextBoolean()) {
                l.add(pbn);
                ref.add(pbn);
            } else {
                assertEquals(false, l.remove(pbn));
            }
            if (i % 1000 == 0) for (long p = 0; p < 3000; p++) assertEquals(ref.contains(p), l.contains(p), "block " + p + " at step " + i);
        }
        assertEquals(ref.size(), l.size());
        long any = ref.iterator().next();
        assertThrows(IllegalStateException.class, () -> l.add(any));
    }
}
