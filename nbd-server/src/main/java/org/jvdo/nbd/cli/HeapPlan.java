package org.jvdo.nbd.cli;

import java.util.ArrayList;
import java.util.List;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.nbd.Sizes;

/**
 * The heap {@code jvdo serve} needs, computed from its options and the pool before the JVM that
 * serves is started, as dm-vdo sizes its block-map cache and index memory when it starts: the
 * {@code jvdo} launcher asks for it ({@code serve --print-java-options}) and starts the server
 * with that heap, committed and touched at once, so the process's memory is what was configured,
 * not what the collector discovers under load.
 *
 * <p>Parts: the dedup index at its maximum ({@link PoolConfig#indexMaxSlots}: dense at most
 * 8 bytes an entry, sparse 48 bytes a hook, one hook per 64 entries), the block-map page cache of
 * every volume the pool has plus one more (a page holds {@value BlockMap#ENTRIES_PER_PAGE}
 * mappings and checksums, about {@value #PAGE_HEAP_BYTES} bytes of heap with its cache node),
 * the slab depot's reference counts and free bitmaps (a byte and a bit per physical block), the
 * vio pool (three 4 KiB buffers a vio), the NBD in-flight payload budget and its pool of
 * reusable arrays, and a base for the rest (Vert.x, classes, packer bins, journal and slab
 * buffers). The sum gets 30% room for the collector and is rounded up to 64 MiB.
 */
final class HeapPlan {
    static final int PAGE_HEAP_BYTES = 4200;
    static final long BASE_BYTES = 160L << 20;
    static final long DEFAULT_INFLIGHT_BYTES = 128L << 20;

    record Part(String what, long bytes) { }

    private final List<Part> parts = new ArrayList<>();

    HeapPlan(PoolConfig cfg, int volumes, long inflightBytes) {
        long slots = cfg.indexMaxSlots;
        boolean sparse = "sparse".equals(cfg.indexMode);
        parts.add(new Part("dedup index (" + cfg.indexMode + ", " + slots + " entries at most)",
                sparse ? (slots / 64) * 48 + 5120L * volumes : slots * 8));
        parts.add(new Part("block-map caches (" + volumes + " volumes x " + cfg.blockMapCachePages + " pages)",
                (long) volumes * (cfg.blockMapCachePages + cfg.blockMapTreeCachePages) * PAGE_HEAP_BYTES));
        long physicalBlocks = cfg.physicalBytes / 4096;
        parts.add(new Part("slab depot (reference counts, free bitmaps of " + physicalBlocks + " blocks)",
                physicalBlocks + physicalBlocks / 8 + physicalBlocks / 512));
        parts.add(new Part("vio pool (" + cfg.vioPoolSize + " vios)", cfg.vioPoolSize * 3L * 4096));
        parts.add(new Part("NBD in-flight payloads and their pool", inflightBytes + Math.min(64L << 20, inflightBytes / 4)));
        parts.add(new Part("base (Vert.x, classes, packer, journal, slabs)", BASE_BYTES));
    }

    List<Part> parts() { return parts; }

    /** The parts' sum with 30% for the collector, rounded up to 64 MiB. */
    long heapBytes() {
        long sum = 0;
        for (Part p : parts) sum += p.bytes();
        long withRoom = sum + sum * 3 / 10;
        long unit = 64L << 20;
        return (withRoom + unit - 1) / unit * unit;
    }

    /** The JVM options the launcher starts the server with. */
    String javaOptions() {
        long mib = heapBytes() >> 20;
        return "-Xms" + mib + "m -Xmx" + mib + "m -XX:+AlwaysPreTouch -XX:+UseG1GC -XX:MaxGCPauseMillis=50"
                // the cluster index's callbacks run on the common pool (one thread per callback when it has one)
                + " -Djava.util.concurrent.ForkJoinPool.common.parallelism=4"
                // Hazelcast's recommended access on Java 17 (serve --cluster); without it, it warns and takes slower paths
                + " --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED"
                + " --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED"
                + " --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED";
    }

    /** One line for the log: the parts and the total. */
    String describe() {
        StringBuilder b = new StringBuilder("memory plan: ");
        for (Part p : parts) b.append(p.what()).append(' ').append(Sizes.human(p.bytes())).append(", ");
        return b.append("heap ").append(Sizes.human(heapBytes())).toString();
    }

    /** The default most index entries: twice the pool's data blocks (a block holds up to 14 fragments), 64k..64M. */
    static int defaultIndexEntries(long physicalBytes) {
        long blocks = physicalBytes / 4096;
        return (int) Math.max(1 << 16, Math.min(64L << 20, 2 * blocks));
    }

    /** Index entries that fit in {@code bytes} in this mode. */
    static int indexEntriesFor(long bytes, String mode) {
        long n = "sparse".equals(mode) ? bytes / 48 * 64 : bytes / 8;
        return (int) Math.max(1 << 16, Math.min(1L << 30, n));
    }
}
