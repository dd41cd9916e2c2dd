package org.jvdo.nbd.admin;

import io.vertx.core.json.JsonObject;
import java.util.Map;

/**
 * What the admin API shows of the cluster this server is a member of ({@code serve --cluster}):
 * {@code GET /api/v1/cluster} (and {@code jvdo cluster status}) and the {@code jvdo_cluster_*}
 * figures of {@code /metrics}. Called off the event loop; may ask the cluster.
 */
public interface ClusterView {
    /**
     * The cluster: {@code name}, {@code members} (address, uuid, local, partitions owned, index
     * entries and memory), {@code index} (entries, memory, bytes per entry, lookups, latency),
     * {@code pools} (uuid, owner, epoch, NBD address, exports).
     */
    JsonObject status();

    /**
     * Figures for {@code /metrics}, each {@code jvdo_cluster_} + the key: keys ending in
     * {@code _total} are counters, the others gauges.
     */
    Map<String, Number> figures();
}
