package org.jvdo.core.logical;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Event counters, kept per volume and summed for the pool; names as {@code vdostats --verbose} in snake_case. */
public final class Counters {
    public final LongAdder biosInWrite = new LongAdder();
    public final LongAdder biosInRead = new LongAdder();
    public final LongAdder biosInDiscard = new LongAdder();
    public final LongAdder biosInZero = new LongAdder();
    public final LongAdder biosInFlush = new LongAdder();
    public final LongAdder bytesWritten = new LongAdder();
    public final LongAdder bytesRead = new LongAdder();
    public final LongAdder dedupeAdviceValid = new LongAdder();
    public final LongAdder dedupeAdviceStale = new LongAdder();
    /** Lookups of an index that answers later ({@code DedupIndex#answersLater}) not answered in time: written without dedup. */
    public final LongAdder dedupeAdviceTimeouts = new LongAdder();
    /** Advice naming a block of another member's pool (not shared yet: written here). */
    public final LongAdder dedupeAdviceForeign = new LongAdder();
    /** Blocks mapped to another pool's block after a pin and a byte comparison (docs/cluster.md). */
    public final LongAdder dedupeForeignShared = new LongAdder();
    public final LongAdder concurrentDataMatches = new LongAdder();
    public final LongAdder concurrentHashCollisions = new LongAdder();
    public final LongAdder compressedFragmentsWritten = new LongAdder();
    public final LongAdder rawBlocksWritten = new LongAdder();
    public final LongAdder zeroBlocksWritten = new LongAdder();
    public final LongAdder compressionErrors = new LongAdder();

    public void addTo(Map<String, Long> m) {
        add(m, "bios_in_write", biosInWrite);
        add(m, "bios_in_read", biosInRead);
        add(m, "bios_in_discard", biosInDiscard);
        add(m, "bios_in_write_zeroes", biosInZero);
        add(m, "bios_in_flush", biosInFlush);
        add(m, "bytes_written", bytesWritten);
        add(m, "bytes_read", bytesRead);
        add(m, "dedupe_advice_valid", dedupeAdviceValid);
        add(m, "dedupe_advice_stale", dedupeAdviceStale);
        add(m, "dedupe_advice_timeouts", dedupeAdviceTimeouts);
        add(m, "dedupe_advice_foreign", dedupeAdviceForeign);
        add(m, "dedupe_foreign_shared", dedupeForeignShared);
        add(m, "concurrent_data_matches", concurrentDataMatches);
        add(m, "concurrent_hash_collisions", concurrentHashCollisions);
        add(m, "compressed_fragments_written", compressedFragmentsWritten);
        add(m, "uncompressed_blocks_written", rawBlocksWritten);
        add(m, "zero_blocks_written", zeroBlocksWritten);
        add(m, "compression_errors", compressionErrors);
    }

    private static void add(Map<String, Long> m, String name, LongAdder a) { m.merge(name, a.sum(), Long::sum); }
}
