package org.jvdo.core.write;

/**
 * Where a {@link DataVio} is on the write path (dm-vdo's {@code last_async_operation}): set at
 * every hand-off by {@link WritePipeline}, shown by {@link WritePipeline#inFlight()} so a stuck
 * vio names the stage it is stuck in. Listed in path order; {@link #onPipelineThread} says
 * whether the stage must run on one of the pool's own threads (CPU, I/O, flusher, engine
 * workers), never on the submitter's (an NBD event loop must not hash, compress or wait on
 * disk).
 */
public enum Stage {
    /** In the vio pool, not in use. */
    FREE(false),
    /** Accepted: joining its LBN queue, merging a partial write, acknowledging early (on the submitter's thread). */
    ACCEPT(false),
    /** Queued behind an earlier write of the same LBN. */
    LBN_QUEUE(false),
    /** A partial write first in line: reading the stored block to merge over. */
    READ_FOR_MERGE(true),
    /** Trim, write-zeroes or an all-zero block: mapped with no storage. */
    ZERO_CHECK(true),
    /** XXH3-128 fingerprint and content checksum, then the hash lock. */
    HASH(true),
    /** Waiting on the agent of its fingerprint's hash lock. */
    HASH_LOCK_WAIT(false),
    /** Index advice, then the byte-for-byte verify of the candidate block. */
    DEDUPE(true),
    /** Handed to the compression engine (runs on the engine's threads). */
    COMPRESS(false),
    /** A fragment waiting in a packer bin. */
    PACK(false),
    /** Allocating and writing its raw or packed block. */
    PHYSICAL_WRITE(true),
    /** Teaching the index the new location and sharing it with the hash lock's waiters. */
    INDEX_UPDATE(true),
    /** Waiting for reads of the old mapping to finish. */
    READERS_WAIT(false),
    /** Journal entry, block map, reference counts. */
    MAPPING_UPDATE(true),
    /** Leaving the LBN queue and going back to the pool. */
    RELEASE(false);

    /** True when running this stage on a thread that is not the pool's is a bug. */
    public final boolean onPipelineThread;

    Stage(boolean onPipelineThread) { this.onPipelineThread = onPipelineThread; }
}
