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

    private final ClusterMember member;
    private volatile HazelcastIndex index;
    private volatile UUID pool;

    private ClusterServe(ClusterMember member) { this.member = member; }

    /** Joins (or forms) the cluster. */
    static ClusterServe start(ClusterSettings s) { return new ClusterServe(ClusterMember.start(s)); }

    /** The pool's settings for a cluster member: the clustered index, and this member as the owner (the owner epoch). */
    void configure(PoolConfig cfg) {
        cfg.indexSupplier = uuid -> {
            HazelcastIndex i = new HazelcastIndex(member, uuid);
            index = i;
            pool = uuid;
            return i;
        };
        cfg.ownerMember = member.uuid();
    }

    /** Publishes the open pool: owner, epoch, NBD address, exports. */
    void serving(Pool p, java.nio.file.Path dataDir, String nbdAddress) {
        JsonObject r = new JsonObject().put("uuid", pool.toString()).put("owner", member.uuid().toString())
                .put("owner_address", member.settings().address()).put("epoch", p.ownerEpoch())
                .put("nbd", nbdAddress).put("data", String.valueOf(dataDir));
        JsonArray ex = new JsonArray();
        for (Volume v : p.volumes()) ex.add(v.name());
        r.put("exports", ex);
        owners().set(pool.toString(), r.encode());
    }

    private IMap<String, String> owners() { return member.hazelcast().getMap(OWNERS); }

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
                    .put("lookup_p50_us", quantileMicros(lat, 0.50)).put("lookup_p99_us", quantileMicros(lat, 0.99));
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

    /** The upper bound of the latency bucket holding the quantile, in µs (0 when nothing was measured). */
    static long quantileMicros(LatencyHistogram.Snapshot s, double q) {
        if (s.count() == 0) return 0;
        long want = (long) Math.ceil(q * s.count());
        long[] c = s.cumulative();
        for (int b = 0; b < c.length; b++) if (c[b] >= want) return LatencyHistogram.boundNanos(b) / 1000;
        return LatencyHistogram.boundNanos(c.length - 1) / 1000;
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

    /** Unpublishes the pool (after it closed) and leaves the cluster. */
    @Override
    public void close() {
        try {
            if (pool != null) owners().remove(pool.toString());
        } catch (RuntimeException e) {
            // leaving anyway
        }
        member.close();
    }

    List<String> members() { return member.settings().members(); }
}
