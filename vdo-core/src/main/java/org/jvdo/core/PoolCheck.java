package org.jvdo.core;

import org.jvdo.core.api.CorruptPoolException;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.ProgressListener;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;


import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code jvdo check}: an offline check of a pool (super block, journal, block maps, packed-block
 * headers, reference counts) and, with repair, the rebuild of reference counts and the free list
 * from the block maps. Repair never discards a mapping; exit codes follow fsck.
 */
public final class PoolCheck {
    public static final int CLEAN = 0;
    public static final int REPAIRED = 1;
    public static final int ERRORS_LEFT = 4;
    public static final int USAGE_OR_IO = 8;

    /** One problem: where (volume, block) and what. */
    public record Problem(String volume, long block, String what) {
        @Override
        public String toString() {
            return (volume == null ? "pool" : "volume " + volume) + (block >= 0 ? " block " + block : "") + ": " + what;
        }
    }

    /** What a check found and did. */
    public record Result(int exitCode, List<Problem> problems, List<String> notes, boolean repaired) { }

    private PoolCheck() { }

    /** The phase of {@link #run}'s read of every mapped block (done/total: mapped entries of all volumes). */
    public static final String CHECKING_BLOCKS = "checking blocks";

    /**
     * Checks the pool in {@code dir} (and repairs it with {@code repair}). {@code progress} (may
     * be null) hears the open's recovery phases ("journal replay", "reference count rebuild"),
     * "checking reference counts" and {@value #CHECKING_BLOCKS}, on this thread.
     */
    public static Result run(Path dir, boolean repair, ProgressListener progress) {
        progress = ProgressListener.orNone(progress);
        List<Problem> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        if (!Pool.exists(dir)) {
            problems.add(new Problem(null, -1, "no pool in " + dir));
            return new Result(USAGE_OR_IO, problems, notes, false);
        }
        PoolConfig cfg = new PoolConfig();
        cfg.checkOnly = true;
        cfg.recoveryProgress = progress;
        try (Pool p = Pool.open(dir, cfg)) {
            notes.add(p.openReport());
            String badCopy = p.superBlockDamage();
            if (badCopy != null) {
                // a power loss can tear only the copy being written, and a clean close ends with a
                // completed, synced write: after a clean close both copies must be valid
                if (p.wasClean()) problems.add(new Problem(null, -1, "super block copy damaged (the other copy is used): " + badCopy));
                else notes.add("super block: one copy unusable, the other is used (normal if the crash tore its last write): " + badCopy);
            }
            if (p.journalDamage() != null) problems.add(new Problem(null, -1, "recovery journal damaged: " + p.journalDamage()));
            if (!p.wasClean()) notes.add("the pool was not shut down cleanly: " + p.replayedEntries()
                    + " journal entries replayed, reference counts rebuilt from the block maps (normal after a crash)");
            if (p.recordedReadOnlyReason() != null) {
                problems.add(new Problem(null, -1, "pool is in read-only mode: " + p.recordedReadOnlyReason()));
            }
            if (p.wasClean() && !p.storedRefcountsValid()) {
                problems.add(new Problem(null, -1, "stored reference counts fail their checksum"));
            } else {
                for (String s : PoolStatistics.verifyReferenceCounts(p, progress)) problems.add(new Problem(null, -1, s));
            }
            checkMappings(p, problems, progress);
        } catch (CorruptPoolException e) {
            problems.add(new Problem(null, -1, e.getMessage()));
            if (!repair) return new Result(ERRORS_LEFT, problems, notes, false);
            // --repair goes on: the repair open gives up what fails validation and says what
        } catch (VdoException e) {
            problems.add(new Problem(null, -1, e.getMessage()));
            return new Result(USAGE_OR_IO, problems, notes, false);
        } catch (IOException | RuntimeException e) {
            problems.add(new Problem(null, -1, "I/O error: " + e));
            return new Result(USAGE_OR_IO, problems, notes, false);
        }
        if (problems.isEmpty()) return new Result(CLEAN, problems, notes, false);
        if (!repair) return new Result(ERRORS_LEFT, problems, notes, false);
        // repair: rebuild counts and the free list from the block maps, leave read-only mode
        PoolConfig rc = new PoolConfig();
        rc.repair = true;
        rc.recoveryProgress = progress;
        try (Pool p = Pool.open(dir, rc)) {
            notes.add("repair: " + p.openReport());
            List<Problem> left = new ArrayList<>();
            for (String s : PoolStatistics.verifyReferenceCounts(p, progress)) left.add(new Problem(null, -1, s));
            checkMappings(p, left, progress);
            if (p.isReadOnly()) left.add(new Problem(null, -1, "still read-only: " + p.readOnlyReason()));
            if (!left.isEmpty()) {
                problems.addAll(left);
                return new Result(ERRORS_LEFT, problems, notes, true);
            }
        } catch (IOException | RuntimeException e) {
            problems.add(new Problem(null, -1, "repair failed: " + e.getMessage()));
            return new Result(ERRORS_LEFT, problems, notes, false);
        }
        return new Result(REPAIRED, problems, notes, true);
    }

    /**
     * Every mapped block must read back as the content its checksum names: raw blocks are read,
     * packed fragments located and decompressed, and each is hashed against the checksum stored
     * with its mapping (a deduplicated block is checked once per LBN that maps it). Reports each
     * entry to {@code progress} as {@value #CHECKING_BLOCKS}, against the volumes' used blocks.
     */
    private static void checkMappings(Pool p, List<Problem> problems, ProgressListener progress) throws IOException {
        long total = 0;
        for (Volume v : p.allVolumes()) total += v.usedBlocks();
        long all = total;
        long[] seen = {0};
        byte[] block = new byte[4096];
        progress.progress(CHECKING_BLOCKS, 0, all);
        for (Volume v : p.allVolumes()) {
            v.blockMap().forEachEntry((lbn, m, sum) -> {
                seen[0]++;
                if (Mapping.hasBlock(m) || Mapping.isForeign(m)) {
                    try {
                        p.storedBlocks.readStored(v.state(), lbn, m, sum, block, "check");
                    } catch (IOException | RuntimeException e) {
                        problems.add(new Problem(v.name(), lbn, "maps " + Mapping.describe(m) + ": " + e.getMessage()));
                    }
                }
                progress.progress(CHECKING_BLOCKS, seen[0], all);
            });
        }
        progress.progress(CHECKING_BLOCKS, seen[0], Math.max(all, seen[0]));
    }
}
