package org.jvdo.cluster;

import com.hazelcast.cluster.Member;
import org.jvdo.core.Pool;
import org.jvdo.core.ReferenceSlots;
import org.jvdo.core.api.ForeignBlocks;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Pins across pools (docs/cluster.md, "Dedup across members"), both sides.
 *
 * <p>The writer's side ({@link ForeignBlocks}): each batch goes to the member that owns the target
 * pool (found in {@code jvdo-owners} by {@code locate}) on Hazelcast's {@value #EXECUTOR} executor,
 * and waits for its answer up to the timeout.
 *
 * <p>The owner's side ({@link PinTask}, {@link UnpinTask}): the pools served by this process are
 * registered with {@link #serve}. A task first checks that the source pool's super block still
 * holds the epoch the writer sent (a former owner that was taken over is refused: the disk
 * decides), then runs {@link ReferenceSlots} on the target pool.
 */
public final class PoolPins implements ForeignBlocks {
    public static final String EXECUTOR = "jvdo-pins";
    private static final ConcurrentHashMap<UUID, Served> LOCAL = new ConcurrentHashMap<>();

    /** Where a pool is: its owner member and its folder, or null. */
    public record Location(UUID owner, Path folder) { }

    private record Served(Pool pool) { }

    private final ClusterMember member;
    private final Path sourceFolder;
    private final Function<UUID, Location> locate;
    private final long timeoutMillis;

    /**
     * @param sourceFolder the folder of the pool this side pins for (the owner re-reads its epoch there)
     * @param locate       the owner and folder of a pool
     */
    public PoolPins(ClusterMember member, Path sourceFolder, Function<UUID, Location> locate, long timeoutMillis) {
        this.member = member;
        this.sourceFolder = sourceFolder.toAbsolutePath();
        this.locate = locate;
        this.timeoutMillis = timeoutMillis;
    }

    /** Pool {@code p} is served by this process: pins of its blocks are taken here. */
    public static void serve(Pool p) { LOCAL.put(p.uuid(), new Served(p)); }

    /** Pool {@code uuid} is no longer served here. */
    public static void unserve(UUID uuid) { LOCAL.remove(uuid); }

    @Override
    public Path folder(UUID pool) {
        Location l = locate.apply(pool);
        return l == null ? null : l.folder();
    }

    @Override
    public long[] pin(UUID source, long sourceEpoch, UUID target, int volume, long volumeBlocks, long[] slots, byte[][] data)
            throws IOException {
        return call(target, new PinTask(source, sourceEpoch, sourceFolder.toString(), target, volume, volumeBlocks, slots, data));
    }

    @Override
    public long reconcile(UUID source, long sourceEpoch, UUID target, int[] volumes, long[][] slots, long[][] mappings) throws IOException {
        return call(target, new ReconcileTask(source, sourceEpoch, sourceFolder.toString(), target, volumes, slots, mappings))[0];
    }

    @Override
    public void unpin(UUID source, long sourceEpoch, UUID target, int volume, long[] slots, long[] mappings) throws IOException {
        call(target, new UnpinTask(source, sourceEpoch, sourceFolder.toString(), target, volume, slots, mappings));
    }

    private long[] call(UUID target, Callable<long[]> task) throws IOException {
        Location l = locate.apply(target);
        if (l == null) throw new IOException("pool " + target + " has no owner in the cluster");
        Member owner = null;
        for (Member m : member.hazelcast().getCluster().getMembers()) if (m.getUuid().equals(l.owner())) owner = m;
        if (owner == null) throw new IOException("the owner " + l.owner() + " of pool " + target + " is not a member");
        try {
            return member.hazelcast().getExecutorService(EXECUTOR).submitToMember(task, owner).get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IOException("pool " + target + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("pool " + target + ": no answer within " + timeoutMillis + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (RuntimeException e) {
            throw new IOException("pool " + target + ": " + e, e);
        }
    }

    // ------------------------------------------------------------------ the owner's side

    private static Pool served(UUID target, UUID source, long sourceEpoch, String sourceFolder) throws IOException {
        Served s = LOCAL.get(target);
        if (s == null) throw new IllegalStateException("pool " + target + " is not served by this member");
        long stored = Pool.storedOwnerEpoch(Path.of(sourceFolder));
        if (stored != sourceEpoch) {
            throw new IllegalStateException("pool " + source + " is at owner epoch " + stored + ", not " + sourceEpoch
                    + ": the request comes from a former owner");
        }
        return s.pool();
    }

    static long[] doPin(PinTask t) throws Exception {
        Pool p = served(t.target, t.source, t.sourceEpoch, t.sourceFolder);
        return ReferenceSlots.pin(p, t.source, t.volume, t.volumeBlocks, t.slots, t.data);
    }

    static long[] doUnpin(UnpinTask t) throws Exception {
        Pool p = served(t.target, t.source, t.sourceEpoch, t.sourceFolder);
        ReferenceSlots.unpin(p, t.source, t.volume, t.slots, t.mappings);
        return new long[0];
    }

    /**
     * What every task names: the source pool, the owner epoch its writer holds and its folder (where
     * the owner re-reads that epoch), and the target pool whose owner runs the task.
     */
    abstract static class PoolTask implements Callable<long[]>, Serializable {
        private static final long serialVersionUID = 1L;
        final UUID source, target;
        final long sourceEpoch;
        final String sourceFolder;

        PoolTask(UUID source, long sourceEpoch, String sourceFolder, UUID target) {
            this.source = source;
            this.sourceEpoch = sourceEpoch;
            this.sourceFolder = sourceFolder;
            this.target = target;
        }
    }

    /** A reconciliation, run on the target pool's owner. */
    static final class ReconcileTask extends PoolTask {
        private static final long serialVersionUID = 1L;
        final int[] volumes;
        final long[][] slots, mappings;

        ReconcileTask(UUID source, long sourceEpoch, String sourceFolder, UUID target, int[] volumes, long[][] slots, long[][] mappings) {
            super(source, sourceEpoch, sourceFolder, target);
            this.volumes = volumes;
            this.slots = slots;
            this.mappings = mappings;
        }

        @Override
        public long[] call() throws Exception {
            Pool p = served(target, source, sourceEpoch, sourceFolder);
            return new long[]{ReferenceSlots.reconcile(p, source, volumes, slots, mappings)};
        }
    }

    /** A batch of pins, run on the target pool's owner. */
    static final class PinTask extends PoolTask {
        private static final long serialVersionUID = 1L;
        final long volumeBlocks;
        final int volume;
        final long[] slots;
        final byte[][] data;

        PinTask(UUID source, long sourceEpoch, String sourceFolder, UUID target, int volume, long volumeBlocks, long[] slots, byte[][] data) {
            super(source, sourceEpoch, sourceFolder, target);
            this.volume = volume;
            this.volumeBlocks = volumeBlocks;
            this.slots = slots;
            this.data = data;
        }

        @Override
        public long[] call() throws Exception { return doPin(this); }
    }

    /** A batch of unpins, run on the target pool's owner. */
    static final class UnpinTask extends PoolTask {
        private static final long serialVersionUID = 1L;
        final int volume;
        final long[] slots, mappings;

        UnpinTask(UUID source, long sourceEpoch, String sourceFolder, UUID target, int volume, long[] slots, long[] mappings) {
            super(source, sourceEpoch, sourceFolder, target);
            this.volume = volume;
            this.slots = slots;
            this.mappings = mappings;
        }

        @Override
        public long[] call() throws Exception { return doUnpin(this); }
    }
}
