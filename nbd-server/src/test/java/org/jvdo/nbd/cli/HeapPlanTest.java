package org.jvdo.nbd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.nbd.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The heap the launcher starts serve with: from the options and the pool, and asking for it creates nothing. */
class HeapPlanTest {
    @TempDir
    Path tmp;

    private static long heapMiB(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String o = out.toString(StandardCharsets.UTF_8).strip();
        assertEquals(0, rc, o + err.toString(StandardCharsets.UTF_8));
        Matcher m = Pattern.compile("^-Xms(\\d+)m -Xmx(\\d+)m -XX:\\+AlwaysPreTouch .*").matcher(o);
        assertTrue(m.matches(), o);
        assertEquals(m.group(1), m.group(2), "committed at once: -Xms = -Xmx");
        return Long.parseLong(m.group(2));
    }

    @Test
    void theHeapFollowsTheIndexAndTheCachesAndAskingCreatesNothing() {
        Path data = tmp.resolve("pool");
        long base = heapMiB("serve", "--data", data.toString(), "--print-java-options");
        assertFalse(Files.exists(data), "--print-java-options formats nothing");
        long bigIndex = heapMiB("serve", "--data", data.toString(), "--print-java-options", "--index-memory", "2G");
        assertTrue(bigIndex >= base + 2048, base + " MiB, with a 2 GiB index " + bigIndex);
        long dense512 = heapMiB("serve", "--data", data.toString(), "--print-java-options", "--index-memory", "512M");
        long sparse512 = heapMiB("serve", "--data", data.toString(), "--print-java-options", "--index-memory", "512M", "--index-mode", "sparse");
        assertTrue(Math.abs(dense512 - sparse512) <= 64, "the same index memory in either mode: " + dense512 + " vs " + sparse512);
        long caches = heapMiB("serve", "--data", data.toString(), "--print-java-options", "--block-map-cache", "512M");
        assertTrue(caches >= base + 2 * 448, "two volumes' caches (the pool's one and one more) at 512 MiB: " + caches);
        long bigPool = heapMiB("serve", "--data", data.toString(), "--print-java-options", "--physical-size", "256G");
        assertTrue(bigPool > base, "a bigger pool, a bigger default index: " + base + " vs " + bigPool);
    }

    @Test
    void defaultIndexEntriesScaleWithThePoolWithinBounds() {
        assertEquals(1 << 16, HeapPlan.defaultIndexEntries(64L << 20));
        assertEquals(2 * (16 << 18), HeapPlan.defaultIndexEntries(16L << 30));
        assertEquals(64 << 20, HeapPlan.defaultIndexEntries(1L << 40));
        assertEquals(128 << 20, HeapPlan.indexEntriesFor(1L << 30, "dense"));
        assertEquals((256L << 20) / 48 * 64, HeapPlan.indexEntriesFor(256L << 20, "sparse"));
        PoolConfig cfg = new PoolConfig();
        cfg.indexMaxSlots = 1 << 20;
        HeapPlan p = new HeapPlan(cfg, 2, 128L << 20);
        assertEquals(8L << 20, p.parts().get(0).bytes(), "dense: 8 bytes an entry");
        assertEquals(0, p.heapBytes() % (64L << 20));
    }
}
