package org.jvdo.core.durability;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.JournalRegion;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.journal.JournalEntry;
import org.jvdo.journal.RecoveryJournal;
import org.jvdo.journal.ReplayResult;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Crash recovery at open (dm-vdo's recovery): the journal is replayed from the head the super
 * block records into the block maps; after an unclean shutdown (or a replay that applied
 * anything, or a repair) every reference count is rebuilt from the block maps, the truth after
 * a crash. A damaged journal refuses the open, or in repair mode is cut at the damage with the
 * entries lost listed. What it found is in {@link #report()}.
 */
public final class Recovery {
    private final StringBuilder report = new StringBuilder();
    private boolean wasClean = true;
    private long replayedEntries;
    private boolean refcountsLoaded = true;
    private String recordedReadOnly;
    private String journalDamage;
    private long durationNanos;
    private long rebuiltBlocks = -1;

    /** Formats a fresh journal. */
    public static RecoveryJournal createJournal(BlockStore store, SuperBlock sb) throws IOException {
        return RecoveryJournal.create(new JournalRegion(store, sb.journalStart, sb.journalBlocks), sb.nonce);
    }

    /** Opens the journal, replays it into the volumes' block maps, restores the reference counts. */
    public RecoveryJournal open(Path dir, BlockStore store, SuperBlock sb, PoolConfig cfg, Collection<LogicalVolume> volumes,
                                SlabDepot depot, ReadOnlyMode mode) throws IOException {
        Map<Integer, LogicalVolume> byId = new LinkedHashMap<>();
        for (LogicalVolume v : volumes) byId.put(v.id(), v);
        long began = cfg.clock.getAsLong();
        long[] replayed = {0, 0};
        RecoveryJournal journal;
        JournalRegion region = new JournalRegion(store, sb.journalStart, sb.journalBlocks);
        RecoveryProgress replay = new RecoveryProgress("journal replay", "entries",
                RecoveryJournal.countReplayable(region, sb.nonce, sb.journalHeadBlockSeq, sb.journalHeadEntrySeq), cfg.clock,
                cfg.recoveryProgress);
        try {
            journal = RecoveryJournal.open(region, sb.nonce, sb.journalHeadBlockSeq,
                    sb.journalHeadEntrySeq, !cfg.checkOnly, e -> {
                replay.step();
                if (e.op() != JournalEntry.OP_MAP) return;
                LogicalVolume v = byId.get(e.volume());
                if (v == null) { replayed[1]++; return; }
                if (!Mapping.isValid(e.newMapping()) || e.lbn() < 0 || e.lbn() >= v.logicalBlocks()) {
                    throw new CorruptPoolException(store.describe() + ": journal entry for volume " + v.name()
                            + " lbn " + e.lbn() + " holds invalid mapping " + Mapping.describe(e.newMapping()));
                }
                try {
                    v.blockMap().set(e.lbn(), e.newMapping(), e.checksum(), 0);
                } catch (IOException io) {
                    throw new UncheckedIOException(io);
                }
                replayed[0]++;
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        ReplayResult rr = journal.replayResult();
        replay.finish(rr.entriesReplayed() + " entries in " + rr.blocksReplayed() + " blocks, " + replayed[0] + " mappings applied");
        if (rr.damaged()) {
            journalDamage = rr.damage();
            if (cfg.checkOnly) {
                report.append("journal damaged: ").append(rr.damage()).append("; ");
            } else if (cfg.repair) {
                int n = journal.discardBeyondEnd();
                report.append("repair: journal damaged (").append(rr.damage()).append("): discarded ").append(n)
                        .append(" journal blocks (the unreadable one if written completely, and the later ones) holding ")
                        .append(rr.discarded().size()).append(" readable entries")
                        .append(describeDiscarded(rr.discarded(), byId)).append("; ");
            } else {
                throw new CorruptPoolException(store.describe() + ": " + rr.damage()
                        + "; the pool is not served. `jvdo check " + dir + "` shows the damage; `jvdo check --repair` discards the"
                        + " unreadable entries and the " + rr.discarded().size() + " readable ones that depend on them (it lists them)");
            }
        }
        boolean recover = !sb.clean || replayed[0] > 0;
        report.append("journal: ").append(rr.entriesReplayed()).append(" entries in ").append(rr.blocksReplayed())
                .append(" blocks replayed");
        wasClean = !recover;
        replayedEntries = replayed[0];
        if (cfg.checkOnly && !recover) {
            refcountsLoaded = depot.load(store, sb.refcountCrc);
            if (!refcountsLoaded) report.append("; stored reference counts fail their checksum");
        } else if (recover || cfg.repair) {
            if (recover) report.append("; recovered after an unclean shutdown: replayed ").append(replayed[0]).append(" mappings");
            else report.append("; repair: reference counts rebuilt from the block maps");
            rebuiltBlocks = rebuildReferenceCounts(store, volumes, depot, cfg);
        } else if (!depot.load(store, sb.refcountCrc)) {
            report.append("; reference counts failed their checksum: rebuilt from the block maps");
            rebuiltBlocks = rebuildReferenceCounts(store, volumes, depot, cfg);
        }
        if (sb.readOnly && cfg.repair && !cfg.checkOnly) {
            report.append("; repair: left read-only mode (was: ").append(sb.readOnlyReason).append(")");
            sb.readOnly = false;
            sb.readOnlyReason = "";
        }
        String readOnly = null;
        if (sb.readOnly) readOnly = sb.readOnlyReason.isEmpty() ? "read-only mode recorded in the super block" : sb.readOnlyReason;
        recordedReadOnly = readOnly;
        if (cfg.checkOnly) readOnly = "opened for checking";
        if (readOnly != null) mode.startReadOnly(readOnly);
        durationNanos = cfg.clock.getAsLong() - began;
        return journal;
    }

    private static String describeDiscarded(List<JournalEntry> entries, Map<Integer, LogicalVolume> byId) {
        StringBuilder b = new StringBuilder(" (the blocks they mapped keep their older contents:");
        int shown = 0;
        for (JournalEntry e : entries) {
            if (e.op() != JournalEntry.OP_MAP) continue;
            if (shown++ == 32) { b.append(" ..."); break; }
            LogicalVolume v = byId.get(e.volume());
            b.append(' ').append(v != null ? v.name() : "volume#" + e.volume()).append(" lbn ").append(e.lbn());
        }
        return b.append(')').toString();
    }

    /**
     * Rebuilds every reference count and each volume's usage from the block maps, the truth after
     * a crash; returns the mapped entries visited. Its progress (phase "reference count rebuild",
     * against the usage the super block recorded) is logged and reported to {@code cfg.recoveryProgress}.
     */
    static long rebuildReferenceCounts(BlockStore store, Collection<LogicalVolume> volumes, SlabDepot depot, PoolConfig cfg)
            throws IOException {
        depot.clear();
        long expected = 0;
        for (LogicalVolume v : volumes) expected += v.usedBlocks();
        RecoveryProgress progress = new RecoveryProgress("reference count rebuild", "mapped blocks", expected, cfg.clock,
                cfg.recoveryProgress);
        for (LogicalVolume v : volumes) {
            long[] used = {0, 0};
            v.blockMap().forEachMapped((lbn, m) -> {
                progress.step();
                used[0]++;
                if (Mapping.state(m) == Mapping.ZERO) used[1]++;
                if (Mapping.hasBlock(m) && !depot.increment(Mapping.pbn(m))) {
                    throw new CorruptPoolException(store.describe() + ": volume " + v.name() + " lbn " + lbn + " maps "
                            + Mapping.describe(m) + ", which is not a usable data block");
                }
            });
            v.resetUsage(used[0], used[1]);
        }
        progress.finish(progress.done() + " mapped blocks of " + volumes.size() + " volume(s)");
        return progress.done();
    }

    /** What the open found and did, for the log. */
    public StringBuilder report() { return report; }

    public boolean wasClean() { return wasClean; }

    public long replayedEntries() { return replayedEntries; }

    public boolean storedRefcountsValid() { return refcountsLoaded; }

    public String recordedReadOnlyReason() { return recordedReadOnly; }

    public String journalDamage() { return journalDamage; }

    /** How long the open's recovery work (replay, reference counts) took. */
    public long durationNanos() { return durationNanos; }

    /** Mapped blocks the reference-count rebuild visited, or -1 when the stored counts were loaded. */
    public long rebuiltBlocks() { return rebuiltBlocks; }
}
