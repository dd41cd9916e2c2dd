package org.jvdo.journal;

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
 */
public record ReplayResult(long blocksReplayed, long entriesReplayed, String stopReason, int scrubbedBlocks) {
}
