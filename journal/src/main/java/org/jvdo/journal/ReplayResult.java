package org.jvdo.journal;

import java.util.List;

/**
 * What {@link RecoveryJournal#open} found: how many blocks and entries were replayed and why replay
 * stopped (for example {@code "checksum mismatch (...) at block seq 17 (ring index 16)"}). It exists
 * so recovery can be logged and checked instead of silently trusted.
 *
 * @param blocksReplayed  valid blocks read from the head onward
 * @param entriesReplayed entries passed to the replay consumer (those at or after the head entry)
 * @param stopReason      why reading stopped
 * @param scrubbedBlocks  valid-looking blocks found beyond the end (left by an interrupted group
 *                        commit) that were overwritten so they can never be chained onto new blocks
 * @param damage          null, or why the journal is damaged: a valid block beyond the end records a
 *                        commit point past the end, or the block where replay stopped was written
 *                        completely (no sector holds older contents) and a sector of it fails
 *                        verification; either way entries that were durable are unreadable
 * @param discarded       when damaged: the entries not replayed that can still be read (those in
 *                        the damaged block's sectors that verify, then those of the valid blocks
 *                        beyond the end, whose predecessors are lost)
 */
public record ReplayResult(long blocksReplayed, long entriesReplayed, String stopReason, int scrubbedBlocks,
                           String damage, List<JournalEntry> discarded) {
    public ReplayResult(long blocksReplayed, long entriesReplayed, String stopReason, int scrubbedBlocks) {
        this(blocksReplayed, entriesReplayed, stopReason, scrubbedBlocks, null, List.of());
    }

    /** True when durable entries were found unreadable (see {@code damage}); a crash alone never causes it. */
    public boolean damaged() { return damage != null; }
}
