package org.jvdo.core;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Event counters, kept per volume and summed for the pool; names as {@code vdostats --verbose} in snake_case. */
final class Counters {
    final LongAdder biosInWrite = new LongAdder();
    final LongAdder biosInRead = new LongAdder();
    final LongAdder biosInDiscard = new LongAdder();
    final LongAdder biosInZero = new LongAdder();
    final LongAdder biosInFlush = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder dedupeAdviceValid = new LongAdder();
    final LongAdder dedupeAdviceStale = new LongAdder();
    final LongAdder concurrentDataMatches = new LongAdder();
    final LongAdder concurrentHashCollisions = new LongAdder();
    final LongAdder compressedFragmentsWritten = new LongAdder();
    final LongAdder rawBlocksWritten = new LongAdder();
    final LongAdder zeroBlocksWritten = new LongAdder();
    final LongAdder compressionErrors = new LongAdder();

    void addTo(Map<String, Long> m) {
        add(m, "bios_in_write", biosInWrite);
        add(m, "bios_in_read", biosInRead);
        add(m, "bios_in_discard", biosInDiscard);
        add(m, "bios_in_write_zeroes", biosInZero);
        add(m, "bios_in_flush", biosInFlush);
        add(m, "bytes_written", bytesWritten);
        add(m, "bytes_read", bytesRead);
        add(m, "dedupe_advice_valid", dedupeAdviceValid);
        add(m, "dedupe_advice_stale", dedupeAdviceStale);
        add(m, "concurrent_data_matches", concurrentDataMatches);
        add(m, "concurrent_hash_collisions", concurrentHashCollisions);
        add(m, "compressed_fragments_written", compressedFragmentsWritten);
        add(m, "uncompressed_blocks_written", rawBlocksWritten);
        add(m, "zero_blocks_written", zeroBlocksWritten);
        add(m, "compression_errors", compressionErrors);
    }

    private static void add(Map<String, Long> m, String name, LongAdder a) { m.merge(name, a.sum(), Long::sum); }
}
