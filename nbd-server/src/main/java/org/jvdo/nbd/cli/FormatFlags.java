package org.jvdo.nbd.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jvdo.core.physical.SegmentedBlockStore;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.nbd.Sizes;

/**
 * The options of {@code serve} that are read only when a pool is formatted ({@code --physical-size},
 * {@code --slab-size}, {@code --journal-size}, {@code --volume}, {@code --logical-size}), checked
 * against an existing pool before it is opened: one that asks for something else than the pool
 * has is refused, naming the option and the pool's value; the same value is fine. The pool is
 * only read (its super block), never opened, so a refusal leaves it exactly as it was.
 */
final class FormatFlags {
    private FormatFlags() { }

    /** What an existing pool was formatted with, from its super block. */
    record PoolFacts(long physicalBytes, long slabBytes, long journalBytes, Map<String, Long> volumeBytes) {
        static PoolFacts read(Path dir) throws IOException {
            try (SegmentedBlockStore store = SegmentedBlockStore.open(dir)) {
                SuperBlock sb = SuperBlock.read(store);
                Map<String, Long> v = new LinkedHashMap<>();
                for (SuperBlock.VolumeRecord r : sb.volumes) v.put(r.name, r.logicalBlocks * 4096);
                return new PoolFacts(sb.physicalLimit * 4096, sb.slabDataBlocks * 4096L, sb.journalBlocks * 4096L, v);
            }
        }
    }

    /** Throws a {@link UsageError} if {@code o} asks {@code pool} (in {@code dir}) for another format. */
    static void check(ServeCommand o, Path dir, PoolFacts pool) {
        String where = "pool " + dir + " was formatted with ";
        same("--physical-size", o.physicalSize, pool.physicalBytes(), where);
        same("--slab-size", o.slabSize, pool.slabBytes(), where);
        same("--journal-size", o.journalSize, pool.journalBytes(), where);
        for (String v : o.volumes) {
            if (!pool.volumeBytes().containsKey(v)) {
                throw new UsageError("--volume " + v + ": pool " + dir + " has no volume " + v + " (it has "
                        + String.join(", ", pool.volumeBytes().keySet()) + "); --volume is read only when formatting:"
                        + " add one with `jvdo volume create " + v + " SIZE`");
            }
        }
        if (o.logicalSize != null) {
            List<String> names = o.volumes.isEmpty() ? new ArrayList<>(pool.volumeBytes().keySet()) : o.volumes;
            for (String v : names) {
                long has = pool.volumeBytes().get(v);
                if (has != o.logicalSize) {
                    throw new UsageError("--logical-size " + Sizes.human(o.logicalSize) + ": volume " + v + " of pool " + dir + " is "
                            + Sizes.human(has) + " (" + has + " bytes); --logical-size is read only when formatting:"
                            + " grow a volume with `jvdo volume resize " + v + " SIZE`");
                }
            }
        }
    }

    private static void same(String option, Long given, long actual, String where) {
        if (given != null && given != actual) {
            throw new UsageError(option + " " + Sizes.human(given) + " does not apply: " + where + option + " "
                    + Sizes.human(actual) + " (" + actual + " bytes), and " + option + " is read only when formatting");
        }
    }
}
