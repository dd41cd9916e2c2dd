package org.jvdo.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * This process as a member of the cluster: an embedded Hazelcast member joined over TCP-IP to
 * the listed members (multicast, auto-detection and phone-home off), holding its share of the
 * index partitions and their backups. It also numbers the pools: index entries name a pool by a
 * 16-bit cluster id, mapped to and from the pool's UUID in two small replicated-by-backup maps.
 */
public final class ClusterMember implements AutoCloseable {
    /** The index: bucket (fingerprint prefix) → packed entries ({@link IndexBuckets}). */
    public static final String INDEX_MAP = "jvdo-index";
    /** Pool UUID → cluster id, and the counter under {@link #NEXT_KEY}. */
    public static final String POOL_IDS = "jvdo-pool-ids";
    /** Cluster id → pool UUID. */
    public static final String POOL_NAMES = "jvdo-pool-names";
    static final String NEXT_KEY = "#next";

    /** Hazelcast logs at INFO through java.util.logging; jvdo keeps it to warnings (held here, so the setting stays). */
    private static final Logger HAZELCAST_LOG = Logger.getLogger("com.hazelcast");

    static {
        if (HAZELCAST_LOG.getLevel() == null) HAZELCAST_LOG.setLevel(Level.WARNING);
    }

    /** The bucket layout: the same on every member (system properties, read once). */
    public static final int BUCKET_BITS = Integer.getInteger("jvdo.cluster.indexBucketBits", 14);
    public static final int BUCKET_ENTRIES = Integer.getInteger("jvdo.cluster.indexBucketEntries", 1024);

    private final HazelcastInstance hz;
    private final ClusterSettings settings;
    private final Map<Integer, UUID> poolNames = new ConcurrentHashMap<>();
    private final Map<UUID, Integer> poolIds = new ConcurrentHashMap<>();
    private final java.util.Set<UUID> numberedHere = ConcurrentHashMap.newKeySet();

    private ClusterMember(HazelcastInstance hz, ClusterSettings settings) {
        this.hz = hz;
        this.settings = settings;
    }

    /** Starts the member and joins (or forms) the cluster; returns once it is a member. */
    public static ClusterMember start(ClusterSettings s) {
        if (java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() < 2) {
            // Hazelcast runs its futures' callbacks on the common pool, and on a thread per callback
            // when that pool has one thread (2 cores): about 4,000 index operations/s instead of 25,000+
            Logger.getLogger(ClusterMember.class.getName()).warning("the common ForkJoinPool has one thread: start the JVM with "
                    + "-Djava.util.concurrent.ForkJoinPool.common.parallelism=4 (the jvdo launcher does) for the index's speed");
        }
        return new ClusterMember(Hazelcast.newHazelcastInstance(config(s)), s);
    }

    /** Hazelcast's configuration for these settings. */
    public static Config config(ClusterSettings s) {
        Config c = new Config();
        c.setClusterName(s.name());
        c.setInstanceName("jvdo-" + s.name() + "-" + s.port() + "-" + UUID.randomUUID());
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.logging.type", "jdk");
        c.setProperty("hazelcast.shutdownhook.enabled", "false"); // serve closes the member after the pool
        c.setProperty("hazelcast.socket.bind.any", "false");
        // failure detection: a member not heard from for failureSeconds is removed (its pools are taken over)
        c.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        c.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(s.failureSeconds()));
        c.setProperty("hazelcast.local.localAddress", s.host());
        NetworkConfig n = c.getNetworkConfig();
        n.setPort(s.port()).setPortAutoIncrement(false);
        n.getInterfaces().setEnabled(true).addInterface(s.host());
        JoinConfig j = n.getJoin();
        j.getMulticastConfig().setEnabled(false);
        j.getAutoDetectionConfig().setEnabled(false);
        List<String> members = new ArrayList<>(s.members());
        if (!members.contains(s.address())) members.add(s.address());
        j.getTcpIpConfig().setEnabled(true).setMembers(members);
        c.getSerializationConfig().addDataSerializableFactory(IndexOps.FACTORY, IndexOps.factory());
        c.addMapConfig(new MapConfig(INDEX_MAP).setBackupCount(s.backups()).setInMemoryFormat(InMemoryFormat.BINARY)
                .setStatisticsEnabled(true));
        int small = Math.max(1, s.backups());
        c.addMapConfig(new MapConfig(POOL_IDS).setBackupCount(small));
        c.addMapConfig(new MapConfig(POOL_NAMES).setBackupCount(small));
        return c;
    }

    public HazelcastInstance hazelcast() { return hz; }

    public ClusterSettings settings() { return settings; }

    public IMap<Integer, byte[]> index() { return hz.getMap(INDEX_MAP); }

    /** This member's UUID in the cluster. */
    public UUID uuid() { return hz.getCluster().getLocalMember().getUuid(); }

    /** The bucket of a fingerprint (its top {@link #BUCKET_BITS} bits). */
    public static int bucket(long fpHigh) { return (int) (fpHigh >>> (64 - BUCKET_BITS)); }

    /** The pool's cluster id (1..65535), registered on first use. Blocks (a pool's open, not the write path). */
    public int poolId(UUID pool) {
        Integer known = poolIds.get(pool);
        if (known != null) return known;
        IMap<String, Integer> ids = hz.getMap(POOL_IDS);
        Integer id = ids.get(pool.toString());
        if (id == null) {
            int next = ids.executeOnKey(NEXT_KEY, new IndexOps.NextId());
            if (next > 0xffff) throw new IllegalStateException("the cluster has numbered 65535 pools: no cluster id left for pool " + pool);
            Integer raced = ids.putIfAbsent(pool.toString(), next);
            id = raced != null ? raced : next;
            if (raced == null) numberedHere.add(pool);
        }
        IMap<Integer, String> names = hz.getMap(POOL_NAMES);
        names.set(id, pool.toString());
        poolIds.put(pool, id);
        poolNames.put(id, pool);
        return id;
    }

    /**
     * True when this member gave {@code pool} its cluster id ({@link #poolId}): the cluster knew
     * nothing of the pool before, so it holds none of its index entries (a whole-cluster restart).
     */
    public boolean numberedHere(UUID pool) { return numberedHere.contains(pool); }

    /** The UUID of the pool with this cluster id, or null when unknown. Cached; the first call per id asks the cluster. */
    public UUID poolUuid(int id) {
        UUID u = poolNames.get(id);
        if (u != null) return u;
        String s = hz.<Integer, String>getMap(POOL_NAMES).get(id);
        if (s == null) return null;
        u = UUID.fromString(s);
        poolNames.put(id, u);
        return u;
    }

    /** {@link #poolUuid} without blocking: completes with null when the id is unknown. */
    public java.util.concurrent.CompletionStage<UUID> poolUuidAsync(int id) {
        UUID u = poolNames.get(id);
        if (u != null) return java.util.concurrent.CompletableFuture.completedFuture(u);
        return hz.<Integer, String>getMap(POOL_NAMES).getAsync(id).thenApplyAsync(s -> {
            if (s == null) return null;
            UUID v = UUID.fromString(s);
            poolNames.put(id, v);
            return v;
        }, Runnable::run);
    }

    /** The UUID of the pool with this id if this member already knows it (no network), else null. */
    UUID knownPoolUuid(int id) { return poolNames.get(id); }

    /** This member's figures (partitions owned, index entries and memory it owns). */
    public Map<String, Object> localFigures() { return IndexOps.localFigures(hz); }

    /** Every member's figures, asked of each member (at most {@code timeoutMillis} each; a member that did not answer is left out). */
    public List<Map<String, Object>> memberFigures(long timeoutMillis) {
        Map<Member, Future<Map<String, Object>>> asked = hz.getExecutorService("jvdo-figures").submitToAllMembers(new IndexOps.Figures());
        List<Map<String, Object>> out = new ArrayList<>();
        for (Member m : hz.getCluster().getMembers()) {
            Future<Map<String, Object>> f = asked.get(m);
            if (f == null) continue;
            try {
                Map<String, Object> fig = new java.util.LinkedHashMap<>(f.get(timeoutMillis, TimeUnit.MILLISECONDS));
                fig.put("local", m.localMember());
                out.add(fig);
            } catch (Exception e) {
                Map<String, Object> fig = new java.util.LinkedHashMap<>();
                fig.put("uuid", m.getUuid().toString());
                fig.put("address", m.getAddress().getHost() + ":" + m.getAddress().getPort());
                fig.put("local", m.localMember());
                fig.put("error", String.valueOf(e));
                out.add(fig);
            }
        }
        return out;
    }

    /** Leaves the cluster (its partitions migrate to the others first). */
    @Override
    public void close() {
        if (hz.getLifecycleService().isRunning()) hz.shutdown();
    }

    /** Ends the member at once, as a crash would (tests). */
    public void terminate() {
        hz.getLifecycleService().terminate();
    }
}
