package org.jvdo.nbd.cli;

import com.hazelcast.map.IMap;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.jvdo.cluster.ClusterMember;
import org.jvdo.cluster.ClusterSettings;
import org.jvdo.cluster.HazelcastIndex;
import org.jvdo.cluster.PoolLease;
import org.jvdo.cluster.PoolPins;
import org.jvdo.core.Pool;
import org.jvdo.core.Volume;
import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.nbd.admin.ClusterView;

/**
 * {@code serve --cluster}: this process's member, the pool's clustered index, and the pool's
 * entry in {@code jvdo-owners} (which member serves it, where, which exports), removed at a
 * clean close. What the admin API and {@code jvdo cluster status} show.
 */
final class ClusterServe implements ClusterView, AutoCloseable {
    static final String OWNERS = "jvdo-owners";
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(ClusterServe.class.getName());

    private final ClusterMember member;
    private volatile HazelcastIndex index;
    private volatile UUID pool;
    private volatile PoolLease lease;
    /** Where this member serves (after {@link #serving}): what a takeover needs to serve another pool. */
    private volatile Serving serving;
    /** The pools this member serves: its own first, then those it took over. */
    private final List<Owned> owned = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final java.util.concurrent.ExecutorService takeovers = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "jvdo-takeover");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closing;

    /** A pool served here: its lease, its record as last published, and whether this process opened it (a takeover). */
    private static final class Owned {
        final UUID uuid;
        final PoolLease lease;
        final Pool pool; // null for serve's own pool (serve closes it)
        final List<String> exports;
        volatile String record;

        Owned(UUID uuid, PoolLease lease, Pool pool, Pool open) {
            this.uuid = uuid;
            this.lease = lease;
            this.pool = pool;
            this.exports = open.volumes().stream().map(Volume::name).toList();
        }
    }

    /** What serving a pool's volumes takes: the registry, this member's NBD address, a URI per export, where to print. */
    record Serving(org.jvdo.nbd.SimpleExportRegistry registry, String nbdAddress,
                   java.util.function.Function<String, String> uri, java.io.PrintStream out, PoolConfig base) { }

    private ClusterServe(ClusterMember member) {
        this.member = member;
        member.hazelcast().getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
            @Override
            public void memberAdded(com.hazelcast.cluster.MembershipEvent e) { }

            @Override
            public void memberRemoved(com.hazelcast.cluster.MembershipEvent e) {
                if (!closing) takeovers.execute(() -> takeOverOrphans("member " + e.getMember().getUuid() + " left"));
            }
        });
    }

    /** Joins (or forms) the cluster. */
    static ClusterServe start(ClusterSettings s) { return new ClusterServe(ClusterMember.start(s)); }

    /**
     * The pool's settings for a cluster member: the clustered index, this member as the owner (the
     * owner epoch) and the lease that fences its writes once another member took the pool over.
     */
    void configure(PoolConfig cfg, java.nio.file.Path dataDir) {
        cfg.indexSupplier = uuid -> {
            HazelcastIndex i = new HazelcastIndex(member, uuid);
            long loaded = i.load(dataDir); // after a restart of the whole cluster: the entries saved at the last clean close
            if (loaded > 0) LOG.info("index: " + loaded + " entries of pool " + uuid + " put back into the cluster from " + HazelcastIndex.FILE);
            index = i;
            pool = uuid;
            return i;
        };
        cfg.ownerMember = member.uuid();
        cfg.foreignBlocks = pins(dataDir);
        PoolLease l = lease(dataDir, false, () -> pool);
        lease = l;
        cfg.writeFence = l;
    }

    /** Pins of other pools' blocks for the pool in {@code dir} (docs/cluster.md). */
    private PoolPins pins(java.nio.file.Path dir) {
        return new PoolPins(member, dir, this::locate, Math.min(60_000, Math.max(5_000, 5L * member.settings().indexTimeoutMillis())));
    }

    /** A pool's owner and folder, from its record in {@code jvdo-owners}. */
    private PoolPins.Location locate(UUID uuid) {
        String rec = owners().get(uuid.toString());
        if (rec == null) return null;
        JsonObject r = new JsonObject(rec);
        if (r.getString("owner") == null || r.getString("data") == null || r.containsKey("state")) return null;
        return new PoolPins.Location(UUID.fromString(r.getString("owner")), java.nio.file.Path.of(r.getString("data")));
    }

    private PoolLease lease(java.nio.file.Path dir, boolean takeover, java.util.function.Supplier<UUID> which) {
        return new PoolLease("pool " + dir, () -> Pool.storedOwnerEpoch(dir),
                member.settings().leaseMillis(), takeover, why -> fenced(which.get(), why));
    }

    /** Publishes the open pool (owner, epoch, NBD address, exports), and takes over pools whose owner is gone. */
    void serving(Pool p, java.nio.file.Path dataDir, Serving where) {
        serving = where;
        Owned o = new Owned(pool, lease, null, p);
        o.record = record(p, dataDir, where.nbdAddress(), null).encode();
        owned.add(o);
        PoolPins.serve(p);
        owners().set(pool.toString(), o.record);
        takeovers.execute(() -> takeOverOrphans("joined"));
    }

    private JsonObject record(Pool p, java.nio.file.Path dataDir, String nbdAddress, UUID takenFrom) {
        JsonObject r = new JsonObject().put("uuid", p.uuid().toString()).put("owner", member.uuid().toString())
                .put("owner_address", member.settings().address()).put("epoch", p.ownerEpoch())
                .put("nbd", nbdAddress).put("data", String.valueOf(dataDir.toAbsolutePath()));
        JsonArray ex = new JsonArray();
        for (Volume v : p.volumes()) ex.add(v.name());
        r.put("exports", ex);
        if (takenFrom != null) r.put("taken_from", takenFrom.toString());
        return r;
    }

    private IMap<String, String> owners() { return member.hazelcast().getMap(OWNERS); }

    /**
     * Every pool in {@code jvdo-owners} whose owner is no longer a member is claimed here (one
     * survivor wins each: a compare-and-set of its record), opened with a takeover (the new epoch
     * written and synced, one lease waited, the journal replayed) and served under its export names.
     */
    private void takeOverOrphans(String why) {
        Serving where = serving;
        if (closing || where == null) return;
        // a member that was itself paused finds out first that its own pools were taken: it then takes nothing
        for (Owned o : owned) {
            try {
                o.lease.renew();
            } catch (org.jvdo.core.api.FencedException e) {
                if (o.lease.fencedReason() != null) {
                    LOG.warning("not taking over pools (" + why + "): this member was fenced: " + e.getMessage());
                    return;
                }
            }
        }
        Set<UUID> alive = new HashSet<>();
        member.hazelcast().getCluster().getMembers().forEach(m -> alive.add(m.getUuid()));
        for (Map.Entry<String, String> e : owners().entrySet()) {
            if (closing) return;
            JsonObject r = new JsonObject(e.getValue());
            UUID owner = UUID.fromString(r.getString("owner"));
            if (alive.contains(owner)) continue;
            String conflict = null;
            for (Object x : r.getJsonArray("exports", new JsonArray())) {
                if (where.registry().find(String.valueOf(x)).isPresent()) conflict = String.valueOf(x);
            }
            if (conflict != null) {
                LOG.warning("not taking over pool " + e.getKey() + " of the lost member " + owner + ": this member already serves an export named "
                        + conflict);
                continue;
            }
            JsonObject claim = r.copy().put("owner", member.uuid().toString()).put("owner_address", member.settings().address())
                    .put("state", "taking over").put("taken_from", owner.toString());
            if (!owners().replace(e.getKey(), e.getValue(), claim.encode())) continue; // another survivor won it
            takeOver(e.getKey(), r, claim.encode(), owner, where);
        }
    }

    private void takeOver(String key, JsonObject r, String claim, UUID from, Serving where) {
        java.nio.file.Path dir = java.nio.file.Path.of(r.getString("data"));
        long t0 = System.nanoTime();
        UUID uuid = UUID.fromString(key);
        PoolLease l = lease(dir, true, () -> uuid);
        Pool p;
        try {
            PoolConfig c = where.base().copy();
            c.ownerMember = member.uuid();
            c.takeover = true;
            c.writeFence = l;
            c.recoveryProgress = null;
            c.indexSupplier = u -> new HazelcastIndex(member, u);
            c.foreignBlocks = pins(dir);
            p = Pool.open(dir, c);
            if (!p.uuid().equals(uuid)) {
                closeQuietly(p);
                throw new IllegalStateException("the folder " + dir + " holds pool " + p.uuid() + ", not " + uuid);
            }
        } catch (Exception ex) {
            l.close();
            String failed = r.copy().put("state", "takeover by " + member.uuid() + " failed: " + ex.getMessage()).encode();
            owners().replace(key, claim, failed);
            where.out().println("jvdo: cannot take over pool " + dir + " of the lost member " + from + ": " + ex.getMessage());
            where.out().flush();
            return;
        }
        Owned o = new Owned(uuid, l, p, p);
        o.record = record(p, dir, where.nbdAddress(), from).encode();
        owned.add(o);
        PoolPins.serve(p);
        for (Volume v : p.volumes()) where.registry().add(v);
        owners().set(key, o.record);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        where.out().println("jvdo: took over pool " + dir + " (epoch " + p.ownerEpoch() + ") from the lost member " + from + " in " + ms + " ms"
                + (p.openReport().isEmpty() ? "" : " - " + p.openReport()));
        for (Volume v : p.volumes()) {
            where.out().println("jvdo: serving " + v.name() + " (" + org.jvdo.nbd.Sizes.human(v.size()) + ", " + v.engineName()
                    + ", taken over) at " + where.uri().apply(v.name()));
        }
        where.out().flush();
    }

    /** Another member took {@code uuid} over: its exports go (new clients cannot find them; writes on open connections fail). */
    private void fenced(UUID uuid, String why) {
        Serving where = serving;
        if (where == null) return; // fenced during the open: the open fails and says why
        PoolPins.unserve(uuid);
        for (Owned o : owned) {
            if (o.uuid.equals(uuid)) o.exports.forEach(where.registry()::remove);
        }
        where.out().println("jvdo: no longer serving pool " + uuid + ": " + why);
        where.out().flush();
    }

    private static void closeQuietly(Pool p) {
        try {
            p.close();
        } catch (Exception e) {
            LOG.warning("closing pool " + p.uuid() + ": " + e.getMessage());
        }
    }

    @Override
    public JsonObject status() {
        JsonObject s = new JsonObject().put("name", member.settings().name()).put("local", member.uuid().toString());
        JsonArray members = new JsonArray();
        long entries = 0, memory = 0;
        for (Map<String, Object> f : member.memberFigures(5_000)) {
            JsonObject m = new JsonObject().put("uuid", f.get("uuid")).put("address", f.get("address")).put("local", f.get("local"));
            if (f.containsKey("error")) {
                m.put("error", f.get("error"));
            } else {
                m.put("partitions", f.get("partitions_owned")).put("index_buckets", f.get("index_buckets"))
                        .put("index_entries", f.get("index_entries")).put("index_memory_bytes", f.get("index_memory_bytes"))
                        .put("index_backup_memory_bytes", f.get("index_backup_memory_bytes"));
                entries += ((Number) f.get("index_entries")).longValue();
                memory += ((Number) f.get("index_memory_bytes")).longValue();
            }
            members.add(m);
        }
        s.put("members", members);
        JsonObject ix = new JsonObject().put("entries", entries).put("memory_bytes", memory)
                .put("bytes_per_entry", entries == 0 ? 0 : Math.round(10.0 * memory / entries) / 10.0)
                .put("backups", member.settings().backups()).put("timeout_ms", member.settings().indexTimeoutMillis());
        HazelcastIndex i = index;
        if (i != null) {
            LatencyHistogram.Snapshot lat = i.lookupLatency();
            ix.put("lookups", i.lookups()).put("hits", i.hits()).put("foreign_hits", i.foreignHits()).put("failures", i.failures())
                    .put("loaded_entries", Math.max(0, i.loadedEntries()))
                    .put("lookup_p50_us", lat.quantileNanos(0.50) / 1000).put("lookup_p99_us", lat.quantileNanos(0.99) / 1000);
        }
        s.put("index", ix);
        Set<String> alive = new HashSet<>();
        member.hazelcast().getCluster().getMembers().forEach(m -> alive.add(m.getUuid().toString()));
        JsonArray pools = new JsonArray();
        for (String v : owners().values()) {
            JsonObject p = new JsonObject(v);
            p.put("owner_alive", alive.contains(p.getString("owner")));
            pools.add(p);
        }
        s.put("pools", pools);
        return s;
    }

    @Override
    public Map<String, Number> figures() {
        Map<String, Number> f = new LinkedHashMap<>();
        f.put("members", member.hazelcast().getCluster().getMembers().size());
        Map<String, Object> local = member.localFigures();
        f.put("partitions_owned", (Number) local.get("partitions_owned"));
        f.put("index_entries", (Number) local.get("index_entries"));
        f.put("index_memory_bytes", (Number) local.get("index_memory_bytes"));
        f.put("index_backup_memory_bytes", (Number) local.get("index_backup_memory_bytes"));
        HazelcastIndex i = index;
        if (i != null) {
            f.put("index_lookups_total", i.lookups());
            f.put("index_hits_total", i.hits());
            f.put("index_foreign_hits_total", i.foreignHits());
            f.put("index_failures_total", i.failures());
        }
        return f;
    }

    /**
     * Closes the pools this member took over, unpublishes every pool it still owns (a record that
     * names another owner now is left alone) and leaves the cluster. Serve closes its own pool first.
     */
    @Override
    public void close() {
        closing = true;
        takeovers.shutdown();
        try {
            takeovers.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Owned o : owned) {
            PoolPins.unserve(o.uuid);
            if (o.pool != null) closeQuietly(o.pool);
            o.lease.close();
            try {
                if (o.record != null && o.lease.fencedReason() == null) owners().remove(o.uuid.toString(), o.record);
            } catch (RuntimeException e) {
                // leaving anyway
            }
        }
        PoolLease l = lease;
        if (l != null) l.close();
        member.close();
    }

    List<String> members() { return member.settings().members(); }
}
