package org.jvdo.core;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.ProgressListener;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * {@code jvdo check --cluster DIR...}: each pool checked alone ({@link PoolCheck}), then the
 * references between them (docs/cluster.md, "Dedup across members"). Every foreign mapping of
 * every pool must have its reference slot in the pool it names, holding exactly the block it maps:
 * otherwise that pool's count may not include it and the block may be freed while mapped (an
 * error). A slot that no mapping uses is a leak: the block's count is too high, which wastes space
 * and loses nothing (a note; reconciliation would trim it). Nothing is written.
 */
public final class ClusterCheck {
    private ClusterCheck() { }

    public static PoolCheck.Result run(List<Path> dirs, ProgressListener progress) {
        List<PoolCheck.Problem> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        int worst = PoolCheck.CLEAN;
        for (Path d : dirs) {
            PoolCheck.Result r = PoolCheck.run(d, false, progress);
            for (PoolCheck.Problem p : r.problems()) problems.add(new PoolCheck.Problem(p.volume(), p.block(), d + ": " + p.what()));
            for (String n : r.notes()) notes.add(d + ": " + n);
            worst = Math.max(worst, r.exitCode());
        }
        if (worst != PoolCheck.CLEAN) return new PoolCheck.Result(worst, problems, notes, false);
        List<Pool> pools = new ArrayList<>();
        try {
            Map<UUID, Pool> byUuid = new HashMap<>();
            for (Path d : dirs) {
                PoolConfig cfg = new PoolConfig();
                cfg.checkOnly = true;
                Pool p = Pool.open(d, cfg);
                pools.add(p);
                byUuid.put(p.uuid(), p);
            }
            long[] references = {0}, leaks = {0};
            for (Pool w : pools) {
                for (Volume v : w.volumes()) {
                    LogicalVolume lv = v.state();
                    lv.blockMap().forEachMapped((lbn, m) -> {
                        if (!Mapping.isForeign(m)) return;
                        references[0]++;
                        UUID target = w.foreignPools.uuid(Mapping.foreignPool(m));
                        Pool o = target == null ? null : byUuid.get(target);
                        String where = w.directory() + ": ";
                        if (o == null) {
                            problems.add(new PoolCheck.Problem(v.name(), lbn, where + "maps " + Mapping.describe(m) + " of pool " + target
                                    + ", which is not among the folders checked"));
                            return;
                        }
                        String name = ReferenceSlots.volumeName(w.uuid(), v.id());
                        long slot = 2 * lbn + Mapping.foreignParity(m);
                        Volume ref = o.volume(name);
                        long held = ref == null || slot >= ref.logicalBlocks() ? Mapping.UNMAPPED_ENTRY : o.mappingOf(name, slot);
                        if (held != Mapping.local(m)) {
                            problems.add(new PoolCheck.Problem(v.name(), lbn, where + "maps " + Mapping.describe(m) + " of pool " + o.directory()
                                    + ", but its reference slot " + slot + " of " + name + " holds " + Mapping.describe(held)
                                    + ": the block is not counted for this mapping"));
                        }
                    });
                }
            }
            for (Pool o : pools) {
                for (Volume ref : o.allVolumes()) {
                    if (!ref.name().startsWith("~")) continue;
                    String[] parts = ref.name().substring(1).split("\\.");
                    UUID source = UUID.fromString(parts[0]);
                    int volumeId = Integer.parseInt(parts[1]);
                    Pool w = byUuid.get(source);
                    ref.state().blockMap().forEachMapped((slot, held) -> {
                        if (!Mapping.hasBlock(held)) return;
                        long lbn = slot / 2;
                        long m = Mapping.UNMAPPED_ENTRY;
                        if (w != null) {
                            for (Volume v : w.volumes()) {
                                if (v.id() == volumeId && lbn < v.logicalBlocks()) m = w.mappingOf(v.name(), lbn);
                            }
                        }
                        boolean used = w != null && Mapping.isForeign(m) && Mapping.foreignParity(m) == slot % 2
                                && o.uuid().equals(w.foreignPools.uuid(Mapping.foreignPool(m))) && Mapping.local(m) == held;
                        if (!used) leaks[0]++;
                    });
                }
            }
            notes.add(pools.size() + " pools: " + references[0] + " foreign mappings, each with its reference slot; "
                    + leaks[0] + " reference slots no mapping uses (leaked references: space only)");
        } catch (IOException | RuntimeException e) {
            problems.add(new PoolCheck.Problem(null, -1, "cross-pool check failed: " + e));
            closeAll(pools);
            return new PoolCheck.Result(PoolCheck.USAGE_OR_IO, problems, notes, false);
        }
        closeAll(pools);
        return new PoolCheck.Result(problems.isEmpty() ? PoolCheck.CLEAN : PoolCheck.ERRORS_LEFT, problems, notes, false);
    }

    private static void closeAll(List<Pool> pools) {
        for (Pool p : pools) {
            try {
                p.close();
            } catch (IOException | RuntimeException e) {
                // checked read-only: nothing to lose
            }
        }
    }
}
