package org.jvdo.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.core.ReadOnly;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.map.LocalMapStats;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializableFactory;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The operations the members run on each other's partitions, in Hazelcast's compact
 * IdentifiedDataSerializable form (a factory id and a class id instead of Java serialization's
 * class names): the index lookup and insert, the pool-id counter, and a member's figures.
 */
final class IndexOps {
    static final int FACTORY = 0x4a56; // "JV"
    static final int LOOKUP = 1, INSERT = 2, NEXT_ID = 3, FIGURES = 4, EXTRACT = 5, INSERT_ALL = 6;

    private IndexOps() { }

    static DataSerializableFactory factory() {
        return id -> switch (id) {
            case LOOKUP -> new Lookup();
            case INSERT -> new Insert();
            case NEXT_ID -> new NextId();
            case FIGURES -> new Figures();
            case EXTRACT -> new Extract();
            case INSERT_ALL -> new InsertAll();
            default -> null;
        };
    }

    /** Read-only lookup on the partition owner: {mapping, pool id}, or null. No backup traffic. */
    static final class Lookup implements EntryProcessor<Integer, byte[], long[]>, ReadOnly, IdentifiedDataSerializable {
        long check;

        Lookup() { }

        Lookup(long check) { this.check = check; }

        @Override
        public long[] process(Map.Entry<Integer, byte[]> entry) {
            byte[] b = entry.getValue();
            int i = IndexBuckets.find(b, check);
            return i < 0 ? null : new long[] {IndexBuckets.mapping(b, i), IndexBuckets.pool(b, i)};
        }

        @Override
        public EntryProcessor<Integer, byte[], long[]> getBackupProcessor() { return null; }

        @Override public int getFactoryId() { return FACTORY; }
        @Override public int getClassId() { return LOOKUP; }
        @Override public void writeData(ObjectDataOutput out) throws IOException { out.writeLong(check); }
        @Override public void readData(ObjectDataInput in) throws IOException { check = in.readLong(); }
    }

    /** Records an entry on the owner; the same processor runs on each backup. Answers 1 when an entry was added. */
    static final class Insert implements EntryProcessor<Integer, byte[], Integer>, IdentifiedDataSerializable {
        long check, mapping;
        int pool, capacity;

        Insert() { }

        Insert(long check, long mapping, int pool, int capacity) {
            this.check = check;
            this.mapping = mapping;
            this.pool = pool;
            this.capacity = capacity;
        }

        @Override
        public Integer process(Map.Entry<Integer, byte[]> entry) {
            int[] added = new int[1];
            entry.setValue(IndexBuckets.insert(entry.getValue(), check, mapping, pool, capacity, added));
            return added[0];
        }

        @Override public int getFactoryId() { return FACTORY; }
        @Override public int getClassId() { return INSERT; }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeLong(check);
            out.writeLong(mapping);
            out.writeShort(pool);
            out.writeInt(capacity);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            check = in.readLong();
            mapping = in.readLong();
            pool = Short.toUnsignedInt(in.readShort());
            capacity = in.readInt();
        }
    }

    /**
     * Read-only, on every bucket's owner: the bucket's entries of one pool as (check, mapping)
     * pairs, 16 bytes each, or null when it has none (a pool's index saved at its clean close).
     */
    static final class Extract implements EntryProcessor<Integer, byte[], byte[]>, ReadOnly, IdentifiedDataSerializable {
        int pool;

        Extract() { }

        Extract(int pool) { this.pool = pool; }

        @Override
        public byte[] process(Map.Entry<Integer, byte[]> entry) {
            byte[] b = entry.getValue();
            int n = IndexBuckets.count(b), mine = 0;
            for (int i = 0; i < n; i++) if (IndexBuckets.pool(b, i) == pool) mine++;
            if (mine == 0) return null;
            java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(mine * 16);
            for (int i = 0; i < n; i++) {
                if (IndexBuckets.pool(b, i) == pool) out.putLong(IndexBuckets.check(b, i)).putLong(IndexBuckets.mapping(b, i));
            }
            return out.array();
        }

        @Override
        public EntryProcessor<Integer, byte[], byte[]> getBackupProcessor() { return null; }

        @Override public int getFactoryId() { return FACTORY; }
        @Override public int getClassId() { return EXTRACT; }
        @Override public void writeData(ObjectDataOutput out) throws IOException { out.writeInt(pool); }
        @Override public void readData(ObjectDataInput in) throws IOException { pool = in.readInt(); }
    }

    /** Many entries of one pool into one bucket ((check, mapping) pairs, as {@link Extract} gives them); runs on the backups too. */
    static final class InsertAll implements EntryProcessor<Integer, byte[], Integer>, IdentifiedDataSerializable {
        byte[] pairs;
        int pool, capacity;

        InsertAll() { }

        InsertAll(byte[] pairs, int pool, int capacity) {
            this.pairs = pairs;
            this.pool = pool;
            this.capacity = capacity;
        }

        @Override
        public Integer process(Map.Entry<Integer, byte[]> entry) {
            byte[] b = entry.getValue();
            int[] added = new int[1];
            int total = 0;
            java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(pairs);
            while (in.remaining() >= 16) {
                long check = in.getLong(), mapping = in.getLong();
                added[0] = 0;
                b = IndexBuckets.insert(b, check, mapping, pool, capacity, added);
                total += added[0];
            }
            entry.setValue(b);
            return total;
        }

        @Override public int getFactoryId() { return FACTORY; }
        @Override public int getClassId() { return INSERT_ALL; }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeByteArray(pairs);
            out.writeShort(pool);
            out.writeInt(capacity);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            pairs = in.readByteArray();
            pool = Short.toUnsignedInt(in.readShort());
            capacity = in.readInt();
        }
    }

    /** Increments the pool-id counter (one key of {@link ClusterMember#POOL_IDS}) and answers the new value. */
    static final class NextId implements EntryProcessor<String, Integer, Integer>, IdentifiedDataSerializable {
        @Override
        public Integer process(Map.Entry<String, Integer> entry) {
            Integer v = entry.getValue();
            int next = (v == null ? 0 : v) + 1;
            entry.setValue(next);
            return next;
        }

        @Override public int getFactoryId() { return FACTORY; }
        @Override public int getClassId() { return NEXT_ID; }
        @Override public void writeData(ObjectDataOutput out) { }
        @Override public void readData(ObjectDataInput in) { }
    }

    /** One member's part of the index, run on that member through the executor service. */
    static final class Figures implements Callable<Map<String, Object>>, HazelcastInstanceAware, IdentifiedDataSerializable {
        private transient HazelcastInstance hz;

        @Override public void setHazelcastInstance(HazelcastInstance hz) { this.hz = hz; }

        @Override
        public Map<String, Object> call() { return localFigures(hz); }

        @Override public int getFactoryId() { return FACTORY; }
        @Override public int getClassId() { return FIGURES; }
        @Override public void writeData(ObjectDataOutput out) { }
        @Override public void readData(ObjectDataInput in) { }
    }

    /** This member's figures: partitions owned, index buckets and entries it owns, their memory (owned and backup). */
    static Map<String, Object> localFigures(HazelcastInstance hz) {
        IMap<Integer, byte[]> map = hz.getMap(ClusterMember.INDEX_MAP);
        long entries = 0;
        Set<Integer> keys = map.localKeySet();
        if (!keys.isEmpty()) {
            for (byte[] b : map.getAll(keys).values()) entries += IndexBuckets.count(b);
        }
        LocalMapStats s = map.getLocalMapStats();
        long partitions = hz.getPartitionService().getPartitions().stream()
                .filter(p -> p.getOwner() != null && p.getOwner().localMember()).count();
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("uuid", hz.getCluster().getLocalMember().getUuid().toString());
        f.put("address", hz.getCluster().getLocalMember().getAddress().getHost() + ":" + hz.getCluster().getLocalMember().getAddress().getPort());
        f.put("partitions_owned", partitions);
        f.put("index_buckets", s.getOwnedEntryCount());
        f.put("index_entries", entries);
        f.put("index_memory_bytes", s.getOwnedEntryMemoryCost());
        f.put("index_backup_memory_bytes", s.getBackupEntryMemoryCost());
        f.put("index_backup_buckets", s.getBackupEntryCount());
        return f;
    }
}
