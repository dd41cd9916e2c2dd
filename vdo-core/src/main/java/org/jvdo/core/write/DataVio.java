package org.jvdo.core.write;

import org.jvdo.core.logical.BlockChecksum;

import org.jvdo.core.compress.CompressionTask;
import org.jvdo.core.compress.FragmentCodec;
import org.jvdo.core.logical.LogicalVolume;
import org.jvdo.core.physical.SlabDepot;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One 4 KiB logical block on its way through the write path (dm-vdo's data_vio): it carries its
 * data, its state and where it is ({@link #stage}, set by the {@link WritePipeline} at every
 * hand-off); each stage hands it to the next by a call, never by a thread waiting. Reused from
 * the {@link VioPool}. Its fields belong to the stage that holds it; the LBN queue fields
 * ({@link #ready}, {@link #mergeWaiters}) are guarded by the {@link LogicalLocks} key lock.
 */
public final class DataVio implements CompressionTask {
    static final int WRITE = 0;
    static final int TRIM = 1;
    static final int WRITE_ZERO = 2;

    private final Flow flow;
    final byte[] data = new byte[4096];
    final byte[] compressed = new byte[FragmentCodec.MAX_OUTPUT];
    final long[] hash = new long[2];
    /**
     * The pool this vio comes from and goes back to: the pipeline's, or the one for internal volumes
     * (other pools' pins), so that a pin never waits for a vio held by a write that waits for a pin.
     */
    VioPool home;

    LogicalVolume volume;
    /** The stage it is in (see {@link Stage}); read without a lock by {@link WritePipeline#inFlight()}. */
    volatile Stage stage = Stage.FREE;
    long lbn;
    long key;
    int kind;
    IoRequest request;
    /** 0 until the request has heard of this vio (acknowledgement or error): claimed once, by CAS. */
    private volatile int ackState;
    /**
     * Who still uses this vio: the thread that accepted it (until accept returns) and the
     * pipeline (until release). It goes back to the pool only when both are done, so a thread
     * that lost the race to a fast pipeline never touches a vio already reused by another request.
     */
    private volatile int holds;
    boolean reserved;
    long generation;

    /** Sub-block write: bytes to lay over the block's current content. */
    ByteBuffer partialSrc;
    int partialOffset;
    /** False until {@link #data} holds the complete new block (partial writes merge first). */
    volatile boolean ready;
    /** Partial writes queued behind this one that merge over its data once it is ready. */
    List<DataVio> mergeWaiters;
    /** Acknowledge as soon as the data is complete (else only once stored, so errors such as ENOSPC reach the client). */
    boolean ackEarly;

    Fingerprint fingerprint;
    boolean inPacker;
    int compressedSize;
    int encoding;
    long newMapping;
    /** The content checksum of {@link #data} ({@link BlockChecksum}), set with the fingerprint; 0 without a block. */
    int checksum;
    /** System.nanoTime() when accepted, and when the current timed stage began (metrics only). */
    long acceptedAt, stageStart;
    /** The reference on newMapping's block that this vio holds for the block map. */
    boolean holdsRef;

    private static final VarHandle ACK_STATE, HOLDS;
    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            ACK_STATE = l.findVarHandle(DataVio.class, "ackState", int.class);
            HOLDS = l.findVarHandle(DataVio.class, "holds", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    DataVio(Flow flow) { this.flow = flow; }

    /** True for exactly one caller per use of this vio: that caller acknowledges or fails the request. */
    boolean claimAck() { return ACK_STATE.compareAndSet(this, 0, 1); }

    /** At accept: the accepting thread and the pipeline each hold the vio. */
    void holdForAccept() { holds = 2; }

    /** Drops one hold; true when it was the last (the vio may go back to the pool). */
    boolean dropHold() {
        int h = (int) HOLDS.getAndAdd(this, -1) - 1;
        if (h < 0) throw new IllegalStateException("vio released twice: " + this);
        return h == 0;
    }

    void reset() {
        volume = null; request = null; partialSrc = null; mergeWaiters = null; fingerprint = null;
        ackState = 0; holds = 0; ackEarly = false; reserved = false; ready = false; inPacker = false; holdsRef = false;
        newMapping = 0; checksum = 0; compressedSize = 0; kind = WRITE; stage = Stage.FREE;
    }

    /** Gives back the block reserved at accept, if it still holds one. */
    void releaseReservation(SlabDepot depot) {
        if (reserved) { reserved = false; depot.unreserve(); }
    }

    boolean isZeroBlock() {
        for (int i = 0; i < 4096; i += 8) {
            if (data[i] != 0 || data[i + 1] != 0 || data[i + 2] != 0 || data[i + 3] != 0
                    || data[i + 4] != 0 || data[i + 5] != 0 || data[i + 6] != 0 || data[i + 7] != 0) return false;
        }
        return true;
    }

    void addMergeWaiter(DataVio succ) {
        if (mergeWaiters == null) mergeWaiters = new ArrayList<>(1);
        mergeWaiters.add(succ);
    }

    @Override
    public byte[] source() { return data; }

    @Override
    public byte[] target() { return compressed; }

    @Override
    public void compressed(int size, int encoding) { flow.compressed(this, size, encoding, null); }

    @Override
    public void failed(Throwable error) { flow.compressed(this, 0, 0, error); }

    @Override
    public String toString() {
        return "DataVio[" + (volume == null ? "-" : volume.name()) + " lbn " + lbn + "]";
    }

    /** One line for a dump of the vios in flight: where it is and for how long. */
    String describe(long now) {
        String k = switch (kind) { case TRIM -> "trim"; case WRITE_ZERO -> "write-zeroes"; default -> partialSrc != null ? "partial write" : "write"; };
        LogicalVolume vol = volume;
        return (vol == null ? "-" : vol.name()) + " lbn " + lbn + " " + k + ": " + stage + " ("
                + (now - acceptedAt) / 1_000_000 + " ms since accepted" + (ready ? "" : ", data incomplete") + (inPacker ? ", in a packer bin" : "") + ")";
    }
}
