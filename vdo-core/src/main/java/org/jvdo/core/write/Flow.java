package org.jvdo.core.write;

/**
 * The hand-offs between write stages. A stage never calls another stage: it hands the vio to
 * the {@link WritePipeline} (which implements this), and the pipeline records the vio's new
 * {@link Stage}, checks the thread, and runs the next stage. So each stage class depends on this
 * interface only, and the path's order is written in one place.
 */
interface Flow {
    /** First in its LBN queue with complete data: zero check, then fingerprint. */
    void launch(DataVio v);

    /** A hash-lock agent (or a waiter whose data differed from the agent's): ask the index. */
    void dedupe(DataVio v);

    /** An index that answers later did (on its thread, or the timer's: -1 after a timeout): use it on a CPU thread. */
    void adviceArrived(DataVio v, long advice);

    /** No usable advice: to the compression engine. */
    void compress(DataVio v);

    /** The engine's answer (on its thread): pack or write raw. */
    void compressed(DataVio v, int size, int encoding, Throwable error);

    /** Store the block uncompressed. */
    void writeRaw(DataVio v);

    /** The block is stored (or shared): teach the index, share with waiters, record the mapping. */
    void stored(DataVio v);

    /** The new mapping is known: wait for readers of the old one, then record it. */
    void finish(DataVio v);

    /** Readers gone: journal, block map, reference counts. */
    void recordMapping(DataVio v);

    /** Done (failure null) or failed: leave the LBN queue, go back to the pool. */
    void release(DataVio v, Throwable failure);

    /** The vio cannot complete: undo what it holds, tell the client or the pool. */
    void fail(DataVio v, Throwable t);

    /** Drop the vio's hash lock without sharing (it failed). */
    void abandonHashLock(DataVio v);

    /** A write queued behind {@code waiting}'s fragment: write its bin now (on the flusher thread). */
    void kickPacker(DataVio waiting);

    /** A flush may be waiting only for packed fragments: write the bins if so. */
    void packForFlush();

    /** {@link #packForFlush} later, on the flusher thread. */
    void packForFlushSoon();
}
