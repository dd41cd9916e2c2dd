package org.jvdo.core;

import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SuperBlock;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A pool's statistics and its reference-count audit, gathered from the parts {@link Pool} wires together. */
final class PoolStatistics {
    private PoolStatistics() { }

    /** Pool statistics: {@code vdostats --verbose} names in snake_case, plus zram's same_pages. */
    static Map<String, Long> of(Pool p) {
        Map<String, Long> m = new LinkedHashMap<>();
        long logical = 0, used = 0, zero = 0, mapPages = 0, slots = 0;
        Map<String, Long> sum = new LinkedHashMap<>();
        for (LogicalVolume v : p.admin.all()) {
            mapPages += BlockMap.regionBlocks(Math.max(1, BlockMap.pagesFor(v.usedBlocks())));
            if (v.isInternal()) { slots += v.usedBlocks(); continue; } // other pools' references, not this pool's data
            logical += v.logicalBlocks();
            used += v.usedBlocks();
            zero += v.zeroBlocks();
            v.counters.addTo(sum);
        }
        long data = p.depot.dataBlocksUsed();
        m.put("logical_blocks", logical);
        m.put("logical_blocks_used", used);
        m.put("physical_blocks", p.depot.physicalLimit());
        m.put("data_blocks_used", data);
        m.put("overhead_blocks_used", 2L * SuperBlock.COPY_BLOCKS + p.sb.journalBlocks + p.depot.overheadBlocks() + mapPages);
        m.put("saving_percent", used == 0 ? 0 : Math.max(0, (used - data) * 100 / used));
        m.put("compressed_fragments_written", sum.getOrDefault("compressed_fragments_written", 0L));
        m.put("compressed_blocks_written", p.pipeline.compressedBlocksWritten());
        m.put("compressed_fragments_in_packer", (long) p.pipeline.fragmentsInPacker());
        for (String k : new String[]{"dedupe_advice_valid", "dedupe_advice_stale", "concurrent_data_matches", "concurrent_hash_collisions"}) {
            m.put(k, sum.getOrDefault(k, 0L));
        }
        m.put("journal_entries_committed", p.checkpointer.journal().entriesCommitted());
        m.put("journal_blocks_written", p.checkpointer.journal().blocksWritten());
        m.put("journal_syncs", p.checkpointer.journal().syncs());
        m.put("same_pages", zero);
        // cluster pins (docs/cluster.md): slots other pools hold here, and this pool's pins of other pools' blocks
        long[] f = p.foreignFigures();
        m.put("reference_slots_used", slots);
        m.put("foreign_pins", f[0]);
        m.put("foreign_pins_refused", f[1]);
        m.put("foreign_unpins", f[2]);
        m.put("foreign_unpins_waiting", f[3]);
        m.put("foreign_reconciliations", f[4]);
        for (Map.Entry<String, Long> e : sum.entrySet()) m.putIfAbsent(e.getKey(), e.getValue());
        m.put("index_entries", p.index.entries());
        m.put("index_memory_bytes", p.index.memoryBytes());
        m.put("vio_pool_size", (long) p.pipeline.vioPoolSize());
        m.put("vio_pool_in_use", (long) p.pipeline.vioPoolInUse());
        m.put("blocks_pending_free", p.depot.pendingFree());
        m.put("checkpoints", p.checkpointer.checkpoints());
        m.put("journal_full_waits", p.checkpointer.journalFullWaits());
        m.put("checksum_errors", p.storedBlocks.checksumErrors());
        m.put("read_only", p.mode.isReadOnly() ? 1L : 0L);
        m.put("no_space", p.mode.noSpaceReason() != null ? 1L : 0L);
        m.put("no_space_errors", p.mode.noSpaceErrors());
        m.put("no_space_lost_writes", p.mode.lostWritesTotal());
        m.putAll(p.engineStats());
        return m;
    }

    /**
     * zram's {@code mm_stat} fields with jvdo's meanings (bytes unless named pages):
     * {@code orig_data_size} logical bytes mapped to stored data (zero blocks excluded, as zram
     * excludes same pages; a block deduplicated N times counts N times); {@code compr_data_size}
     * the bytes those mappings occupy once stored: 4096 per distinct uncompressed block plus the
     * length of each distinct referenced compressed fragment (dedupe and compression both shrink
     * it); {@code mem_used_total} the pool file's blocks in use (data, packing slack, dead
     * fragments and metadata) × 4096; {@code mem_limit} the physical size; {@code mem_used_max}
     * the most data blocks ever in use since the pool was opened, plus today's metadata;
     * {@code same_pages} blocks mapped to zero (no storage); {@code pages_compacted} 0, for jvdo
     * never moves live fragments between packed blocks (a packed block is freed when its last
     * fragment is); {@code huge_pages} logical blocks stored uncompressed (incompressible, or
     * their engine is none) and {@code huge_pages_since} such blocks written since the pool was
     * opened (uncompressed_blocks_written).
     *
     * <p>Walks every volume's block map (each map's monitor held for its walk, so writes to that
     * volume wait) and reads each packed block referenced once: costs time in proportion to the
     * block-map pages written. For the statistics API, not for a scrape.
     */
    static Map<String, Long> mmStat(Pool p) throws IOException { return mmStat(p, null); }

    /**
     * As {@link #mmStat(Pool)}; when {@code saved} is not null the same walk also puts there the
     * blocks saved, by cause: {@code zero} (logical blocks mapped to zero, no storage),
     * {@code dedupe} (logical blocks mapped to stored data minus the distinct uncompressed
     * blocks and fragments they reference) and {@code compression} (those distinct fragments
     * minus the packed blocks holding them). The three add up to logical blocks used minus the
     * data blocks referenced, all counted in the one walk.
     */
    static Map<String, Long> mmStat(Pool p, Map<String, Long> saved) throws IOException {
        long[] rawLbns = new long[1];
        long[] packedLbns = new long[1];
        long[] zeroLbns = new long[1];
        java.util.Set<Long> rawPbns = new java.util.HashSet<>();
        Map<Long, Integer> packedSlots = new HashMap<>();    // packed PBN -> bit set of referenced slots
        long used = 0, zero = 0, mapPages = 0;
        Map<String, Long> sum = new LinkedHashMap<>();
        for (LogicalVolume v : p.admin.all()) {
            used += v.usedBlocks();
            zero += v.zeroBlocks();
            mapPages += BlockMap.regionBlocks(Math.max(1, BlockMap.pagesFor(v.usedBlocks())));
            v.counters.addTo(sum);
            v.blockMap().forEachMapped((lbn, m) -> {
                if (Mapping.state(m) == Mapping.RAW) {
                    rawLbns[0]++;
                    rawPbns.add(Mapping.pbn(m));
                } else if (Mapping.state(m) == Mapping.ZERO) {
                    zeroLbns[0]++;
                } else if (Mapping.isPacked(m)) {
                    packedLbns[0]++;
                    packedSlots.merge(Mapping.pbn(m), 1 << Mapping.slot(m), (a, b) -> a | b);
                }
            });
        }
        long compressed = 4096L * rawPbns.size();
        java.nio.ByteBuffer block = java.nio.ByteBuffer.allocate(4096);
        for (Map.Entry<Long, Integer> e : packedSlots.entrySet()) {
            block.clear();
            p.store.read(e.getKey(), block);
            for (int slot = 0; slot < Mapping.MAX_SLOTS; slot++) {
                if ((e.getValue() & (1 << slot)) == 0) continue;
                try {
                    compressed += org.jvdo.packer.PackedBlock.locate(java.nio.ByteBuffer.wrap(block.array()), slot).length();
                } catch (RuntimeException raced) {
                    // the block was freed and reused after the walk saw it: no longer stored
                }
            }
        }
        if (saved != null) {
            long fragments = 0;
            for (int slots : packedSlots.values()) fragments += Integer.bitCount(slots);
            saved.put("zero", zeroLbns[0]);
            saved.put("dedupe", rawLbns[0] + packedLbns[0] - rawPbns.size() - fragments);
            saved.put("compression", fragments - packedSlots.size());
        }
        long overhead = 2L * SuperBlock.COPY_BLOCKS + p.sb.journalBlocks + p.depot.overheadBlocks() + mapPages;
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("orig_data_size", (used - zero) * 4096);
        m.put("compr_data_size", compressed);
        m.put("mem_used_total", (p.depot.dataBlocksUsed() + overhead) * 4096);
        m.put("mem_limit", p.depot.physicalLimit() * 4096);
        m.put("mem_used_max", (p.depot.peakDataBlocksUsed() + overhead) * 4096);
        m.put("same_pages", zero);
        m.put("pages_compacted", 0L);
        m.put("huge_pages", rawLbns[0]);
        m.put("huge_pages_since", sum.getOrDefault("uncompressed_blocks_written", 0L));
        return m;
    }

    /** Reference counts recomputed from every block map compared with the depot's; returns a description of each difference (empty when consistent). */
    static List<String> verifyReferenceCounts(Pool p) throws IOException {
        return verifyReferenceCounts(p, null);
    }

    /** The phase {@link #verifyReferenceCounts(Pool, ProgressListener)} reports (done/total: mapped entries walked). */
    static final String CHECKING_REFERENCE_COUNTS = "checking reference counts";

    /** As {@link #verifyReferenceCounts(Pool)}, reporting the walk of the block maps to {@code progress} (may be null). */
    static List<String> verifyReferenceCounts(Pool p, org.jvdo.core.api.ProgressListener progress) throws IOException {
        org.jvdo.core.api.ProgressListener l = org.jvdo.core.api.ProgressListener.orNone(progress);
        long total = 0;
        for (LogicalVolume v : p.admin.all()) total += v.usedBlocks();
        long all = total;
        long[] seen = {0};
        l.progress(CHECKING_REFERENCE_COUNTS, 0, all);
        Map<Long, Integer> expected = new HashMap<>();
        for (LogicalVolume v : p.admin.all()) {
            v.blockMap().forEachMapped((lbn, m) -> {
                if (Mapping.hasBlock(m)) expected.merge(Mapping.pbn(m), 1, Integer::sum);
                l.progress(CHECKING_REFERENCE_COUNTS, ++seen[0], all);
            });
        }
        l.progress(CHECKING_REFERENCE_COUNTS, seen[0], Math.max(all, seen[0]));
        List<String> problems = new ArrayList<>();
        p.depot.forEachUsed((count, pbn) -> {
            int want = expected.getOrDefault(pbn, 0);
            if (want != count) problems.add("block " + pbn + ": reference count " + count + ", block maps reference it " + want + " times");
        });
        for (Map.Entry<Long, Integer> e : expected.entrySet()) {
            int have = p.depot.refcount(e.getKey());
            if (have == 0) problems.add("block " + e.getKey() + ": free but referenced " + e.getValue() + " times");
            if (have < 0) problems.add("block " + e.getKey() + ": not a data block of an attached slab but referenced " + e.getValue() + " times");
        }
        return problems;
    }
}
