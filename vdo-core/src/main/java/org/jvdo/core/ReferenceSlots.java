package org.jvdo.core;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.logical.Mapping;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The owner's side of pins across pools (docs/cluster.md, "Dedup across members"): the internal
 * reference volume {@code "~" + source pool + "." + source volume} of a pool, two slots per LBN of
 * the source volume. A pin writes the block's bytes into its slot (this pool's dedupe maps it to its
 * copy and raises that block's count); an unpin trims a slot that still holds the given mapping;
 * each commits the journal before it returns. Internal volumes complete a write once its mapping
 * is recorded, so no flush (which would wait for every other write in flight) is needed.
 */
public final class ReferenceSlots {
    private static final long WAIT_SECONDS = 60;

    private ReferenceSlots() { }

    /** The reference volume of (source pool, source volume). */
    public static String volumeName(UUID source, int volume) { return "~" + source + "." + volume; }

    /** Pins {@code data[i]} into slot {@code slots[i]}; each slot's mapping in {@code pool} afterwards (-1: not a block). */
    public static long[] pin(Pool pool, UUID source, int volume, long volumeBlocks, long[] slots, byte[][] data) throws IOException {
        String name = volumeName(source, volume);
        long bytes = 2 * volumeBlocks * 4096L;
        Volume v;
        synchronized (pool) {
            v = pool.volume(name);
            if (v == null) v = pool.createInternalVolume(name, bytes);
            else if (v.size() < bytes) pool.resizeVolume(name, bytes);
            v = pool.volume(name);
        }
        List<CompletableFuture<Void>> writes = new ArrayList<>(slots.length);
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] < 0 || slots[i] >= v.logicalBlocks() || data[i].length != 4096) {
                throw new VdoException(Errno.EINVAL, "pin of slot " + slots[i] + " of " + name + " (" + v.logicalBlocks() + " slots)");
            }
            writes.add(v.write(slots[i] * 4096L, ByteBuffer.wrap(data[i]), false));
        }
        long[] out = new long[slots.length];
        for (int i = 0; i < slots.length; i++) out[i] = await(writes.get(i)) ? 0 : -1;
        pool.commitJournal();
        for (int i = 0; i < slots.length; i++) {
            if (out[i] < 0) continue;
            long m = pool.mappingOf(name, slots[i]);
            out[i] = Mapping.hasBlock(m) ? m : -1;
        }
        return out;
    }

    /** Trims each slot that still holds {@code mappings[i]}; durable on return. */
    public static void unpin(Pool pool, UUID source, int volume, long[] slots, long[] mappings) throws IOException {
        String name = volumeName(source, volume);
        Volume v = pool.volume(name);
        if (v == null) return;
        List<CompletableFuture<Void>> trims = new ArrayList<>();
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] < 0 || slots[i] >= v.logicalBlocks()) continue;
            if (pool.mappingOf(name, slots[i]) == mappings[i]) trims.add(v.trim(slots[i] * 4096L, 4096, false));
        }
        for (CompletableFuture<Void> f : trims) {
            if (!await(f)) throw new VdoException(Errno.EIO, "unpin in " + name + " failed");
        }
        pool.commitJournal();
    }

    /**
     * Reconciliation with the source pool: for its volume {@code volumes[v]}, the slots in
     * {@code slots[v]} are used (holding {@code mappings[v]}); every other mapped slot of its
     * reference volumes is trimmed (all of them for a volume not listed), durably. A used slot that
     * holds another block than the source maps is logged and left: the source's mapping is then
     * not counted here (docs/cluster.md: what {@code jvdo check --cluster} reports). Returns the slots trimmed.
     */
    public static long reconcile(Pool pool, UUID source, int[] volumes, long[][] slots, long[][] mappings) throws IOException {
        String prefix = "~" + source + ".";
        long trimmed = 0;
        for (Volume ref : pool.allVolumes()) {
            if (!ref.name().startsWith(prefix)) continue;
            int id;
            try {
                id = Integer.parseInt(ref.name().substring(prefix.length()));
            } catch (NumberFormatException e) {
                continue;
            }
            java.util.HashMap<Long, Long> used = new java.util.HashMap<>();
            for (int v = 0; v < volumes.length; v++) {
                if (volumes[v] != id) continue;
                for (int i = 0; i < slots[v].length; i++) used.put(slots[v][i], mappings[v][i]);
            }
            List<Long> drop = new ArrayList<>();
            ref.state().blockMap().forEachMapped((slot, held) -> {
                Long want = used.get(slot);
                if (want == null) drop.add(slot);
                else if (want != held) {
                    LOG.warning("pool " + pool.directory() + ": reference slot " + slot + " of " + ref.name() + " holds " + Mapping.describe(held)
                            + ", but pool " + source + " maps " + Mapping.describe(want) + " there");
                }
            });
            List<CompletableFuture<Void>> trims = new ArrayList<>();
            for (long slot : drop) trims.add(ref.trim(slot * 4096L, 4096, false));
            for (CompletableFuture<Void> f : trims) {
                if (!await(f)) throw new VdoException(Errno.EIO, "reconciliation of " + ref.name() + " failed");
            }
            trimmed += drop.size();
        }
        pool.commitJournal();
        return trimmed;
    }

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger("org.jvdo.core");

    private static boolean await(CompletableFuture<Void> f) throws IOException {
        try {
            f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            return true;
        } catch (ExecutionException e) {
            return false;
        } catch (TimeoutException e) {
            throw new VdoException(Errno.EIO, "a reference slot write took more than " + WAIT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VdoException(Errno.EIO, "interrupted");
        }
    }
}
