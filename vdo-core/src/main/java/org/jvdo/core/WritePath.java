package org.jvdo.core;

import net.openhft.hashing.LongTupleHashFunction;
import org.jvdo.core.compress.FragmentCodec;
import org.jvdo.journal.JournalEntry;
import org.jvdo.packer.Bin;
import org.jvdo.packer.PackedBlock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The stages of a write, in the order a {@link DataVio} passes them (dm-vdo's data-vio.c):
 * accept (logical lock, merge of partial writes, early acknowledgement) → zero check →
 * fingerprint → hash lock → index advice → verify → compress → pack or write raw → index update
 * → journal + block map + reference counts → release. Also the read of one block, which must
 * see the newest acknowledged write and must not race a mapping change.
 */
final class WritePath {
    private static final LongTupleHashFunction XX128 = LongTupleHashFunction.xx128();
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[4096]);
    private static final ThreadLocal<byte[]> SCRATCH2 = ThreadLocal.withInitial(() -> new byte[4096]);

    private final Pool pool;
    final ConcurrentHashMap<Long, LbnLock> lbnLocks = new ConcurrentHashMap<>();
    final ConcurrentHashMap<Fingerprint, HashLock> hashLocks = new ConcurrentHashMap<>();

    WritePath(Pool pool) { this.pool = pool; }

    /** Lock keys are {@code volume id << 48 | lbn}: volume ids below 2^15 and LBNs below 2^48 cannot collide. */
    static final int MAX_VOLUME_ID = (1 << 15) - 1;
    static final long MAX_LBN = (1L << 48) - 1;

    static long key(Volume v, long lbn) { return ((long) v.id() << 48) | lbn; }

    // ---------------------------------------------------------------- accept

    /**
     * Takes a filled vio: joins its LBN's queue, is acknowledged when its data is complete,
     * launches if first in line. The accepting thread holds the vio until this returns (see
     * {@link DataVio#holdForAccept}); a failure before the vio joins its queue fails its request.
     */
    void accept(DataVio v) {
        v.holdForAccept();
        boolean queued = false;
        boolean begun = false;
        try {
            if (v.volume.id() > MAX_VOLUME_ID || v.lbn < 0 || v.lbn > MAX_LBN) {
                throw new VdoException(Errno.EINVAL, v + ": volume id or block number beyond the lock-key range");
            }
            v.key = key(v.volume, v.lbn);
            v.acceptedAt = System.nanoTime();
            v.generation = pool.flushTracker.begin();
            begun = true;
            boolean partial = v.partialSrc != null;
            // not while the host filesystem is (or was found) full: then a write is acknowledged only
            // once stored, so its ENOSPC reaches its client instead of the next flush
            boolean early = pool.earlyAckAllowed();
            if (v.kind == DataVio.WRITE) {
                boolean zero = !partial && v.isZeroBlock();
                if (!zero && early) v.reserved = pool.depot.tryReserve();
                // without reserved space a write is acknowledged only once stored, so ENOSPC can reach the client
                v.ackEarly = (zero && early) || v.reserved;
            } else {
                // trim / write-zeroes: the block's new content is zeros; the reused buffer still holds
                // its previous write, which reads and partial writes queued behind would see
                Arrays.fill(v.data, (byte) 0);
                v.ackEarly = early;
            }
            if (!partial) v.ready = true;
            final boolean[] launch = {false};
            final boolean[] headPartial = {false};
            final List<DataVio> nowReady = new ArrayList<>(1);
            final DataVio[] kick = {null};
            lbnLocks.compute(v.key, (k, l) -> {
                if (l == null) l = new LbnLock();
                DataVio pred = l.writes.peekLast();
                l.writes.addLast(v);
                if (pred == null) {
                    if (partial) headPartial[0] = true;
                    else launch[0] = true;
                } else {
                    DataVio head = l.writes.peekFirst();
                    if (head.inPacker) kick[0] = head;
                    if (partial) {
                        if (pred.ready) markReadyLocked(v, pred.data, nowReady);
                        else pred.addMergeWaiter(v);
                    }
                }
                if (v.ready) l.wakeReaders();
                return l;
            });
            queued = true;
            try {
                if (kick[0] != null) pool.kickPacker(kick[0]);
                if (!partial) acknowledgeEarly(v);
                for (DataVio r : nowReady) acknowledgeEarly(r);
            } catch (Throwable t) {
                // a client callback failing must not keep the vio from running (it is queued now)
                Pool.LOG.log(java.util.logging.Level.WARNING, "acknowledgement of " + v + " failed", t);
            } finally {
                // the pipeline runs on the CPU threads, not on the submitter's (an NBD event loop)
                if (headPartial[0]) pool.runOnCpu(() -> readForMerge(v));
                else if (launch[0]) pool.runOnCpu(() -> launch(v));
            }
        } catch (Throwable t) {
            if (queued) throw t;    // the pipeline owns it now and will complete it
            // never entered its queue: nothing else knows it, undo and tell the client
            releaseReservation(v);
            if (v.claimAck()) v.request.fail(t);
            ArrayDeque<Runnable> flushes = begun ? pool.flushTracker.end(v.generation) : new ArrayDeque<>();
            v.dropHold();   // the pipeline's hold: it never started (the finally drops the accept's and frees the vio)
            for (Runnable r : flushes) r.run();
        } finally {
            recycle(v);     // the accepting thread's hold
        }
    }

    /** The pipeline is done with {@code v}: it goes back to the pool once the accepting thread is done too. */
    private void recycle(DataVio v) {
        if (v.dropHold()) pool.vios.release(v);
    }

    /** Builds {@code v.data} from {@code base} plus its partial bytes; marks ready; merges its own waiters. Under the key's lock. */
    private void markReadyLocked(DataVio v, byte[] base, List<DataVio> nowReady) {
        if (base != v.data) System.arraycopy(base, 0, v.data, 0, 4096);
        if (v.partialSrc != null) {
            ByteBuffer src = v.partialSrc.duplicate();
            src.get(v.data, v.partialOffset, src.remaining());
            v.partialSrc = null;
        }
        v.ready = true;
        nowReady.add(v);
        if (v.mergeWaiters != null) {
            for (DataVio succ : v.mergeWaiters) markReadyLocked(succ, v.data, nowReady);
            v.mergeWaiters = null;
        }
    }

    /** The first write of an LBN is partial: read what is stored, lay the new bytes over it. */
    private void readForMerge(DataVio v) {
        try {
            BlockMap map = v.volume.blockMap();
            readStored(v.volume, v.lbn, map.get(v.lbn), map.checksum(v.lbn), v.data, "read-modify-write");
        } catch (Throwable t) {
            fail(v, t);
            return;
        }
        final List<DataVio> nowReady = new ArrayList<>(2);
        lbnLocks.compute(v.key, (k, l) -> {
            markReadyLocked(v, v.data, nowReady);
            l.wakeReaders();
            return l;
        });
        for (DataVio r : nowReady) acknowledgeEarly(r);
        launch(v);
    }

    private void acknowledgeEarly(DataVio v) {
        if (v.ackEarly && v.claimAck()) {
            pool.latAck.since(v.acceptedAt);
            v.request.ack();
        }
    }

    // ---------------------------------------------------------------- launch

    void launch(DataVio v) {
        try {
            if (v.kind == DataVio.TRIM) { v.newMapping = Mapping.UNMAPPED_ENTRY; finish(v); return; }
            if (v.kind == DataVio.WRITE_ZERO) { v.newMapping = Mapping.ZERO_ENTRY; finish(v); return; }
            if (v.isZeroBlock()) {
                v.newMapping = Mapping.ZERO_ENTRY;
                v.volume.counters.zeroBlocksWritten.increment();
                releaseReservation(v);
                finish(v);
                return;
            }
            long t = System.nanoTime();
            XX128.hashBytes(v.data, v.hash);
            pool.latHash.since(t);
            v.fingerprint = new Fingerprint(v.hash[0], v.hash[1]);
            v.checksum = BlockChecksum.of(v.hash);
            final boolean[] agent = {false};
            final DataVio[] kick = {null};
            hashLocks.compute(v.fingerprint, (k, l) -> {
                if (l == null) { agent[0] = true; return new HashLock(v); }
                l.waiters.add(v);
                if (l.agent.inPacker) kick[0] = l.agent;
                return l;
            });
            if (agent[0]) queryIndex(v);
            // a waiting duplicate: don't let the agent's fragment sit out the packer timeout
            else if (kick[0] != null) pool.kickPacker(kick[0]);
        } catch (Throwable t) {
            fail(v, t);
        }
    }

    /** Asks the index; verifies its advice byte for byte before sharing; otherwise compresses. */
    private void queryIndex(DataVio v) {
        long ti = System.nanoTime();
        long advice = pool.index.lookup(v.hash[0], v.hash[1]);
        pool.latIndex.since(ti);
        if (advice >= 0) {
            long pbn = Mapping.pbn(advice);
            if (pool.depot.incrementIfLive(pbn)) {
                boolean same = false;
                long tv = System.nanoTime();
                try {
                    byte[] candidate = SCRATCH2.get();
                    // the byte comparison is the verification here (a stale advice is no checksum error)
                    readUnverified(v.volume, advice, candidate, "dedupe verify");
                    same = Arrays.equals(candidate, v.data);
                } catch (Throwable t) {
                    Pool.LOG.fine(() -> "dedupe candidate " + Mapping.describe(advice) + " unreadable: " + t);
                }
                pool.latVerify.since(tv);
                if (same) {
                    v.newMapping = advice;
                    v.holdsRef = true;
                    v.volume.counters.dedupeAdviceValid.increment();
                    releaseReservation(v);
                    agentDone(v);
                    return;
                }
                pool.depot.decrement(pbn, pool.journal.lastAppendedSeq());
            }
            v.volume.counters.dedupeAdviceStale.increment();
        }
        compress(v);
    }

    private void compress(DataVio v) {
        v.stageStart = System.nanoTime();
        v.volume.engine().submit(v);
    }

    /** Completion callback of the compression engine. */
    void compressionDone(DataVio v, int size, int encoding, Throwable error) {
        pool.latCompress.since(v.stageStart);
        try {
            if (error != null) {
                v.volume.counters.compressionErrors.increment();
                Pool.LOG.warning(() -> "compression failed for " + v + ", storing raw: " + error);
                size = 0;
            }
            if (size > 0 && size <= PackedBlock.MAX_PAYLOAD) {
                v.compressedSize = size;
                v.encoding = encoding;
                v.inPacker = true;
                v.stageStart = System.nanoTime();
                pool.packer.add(v, ByteBuffer.wrap(v.compressed, 0, size), encoding);
                pool.packForFlush();
                return;
            }
            writeRaw(v);
        } catch (Throwable t) {
            fail(v, t);
        }
    }

    private void writeRaw(DataVio v) {
        long pbn;
        try {
            pbn = allocate(v, 1);
        } catch (Throwable t) {
            fail(v, t);
            return;
        }
        v.newMapping = Mapping.raw(pbn);
        v.holdsRef = true;
        IOException error = null;
        try {
            pool.store.write(pbn, ByteBuffer.wrap(v.data));
        } catch (IOException e) {
            error = e;
        } finally {
            pool.depot.endWrite(pbn);   // the block holds its new data (or is lost): dedup may look at it now
        }
        if (error != null) {
            String op = "write of " + v + " to block " + pbn;
            fail(v, org.jvdo.journal.StorageErrors.isNoSpace(error) ? pool.dataNoSpace(op, error) : pool.storageError(op, error));
            return;
        }
        v.volume.counters.rawBlocksWritten.increment();
        agentDone(v);
    }

    private long allocate(DataVio v, int refs) throws IOException {
        if (v.reserved) {
            v.reserved = false;
            return pool.depot.allocateReserved(refs);
        }
        try {
            return pool.depot.allocate(refs);
        } catch (VdoException e) {
            if (e.errno() != Errno.ENOSPC || pool.depot.pendingFree() == 0) throw e;
            pool.commitJournalNow();
            return pool.depot.allocate(refs);
        }
    }

    private void releaseReservation(DataVio v) {
        if (v.reserved) { v.reserved = false; pool.depot.unreserve(); }
    }

    /** The packer's bin writer: one packed block for many fragments; a lone fragment is stored raw. */
    void writeBin(Bin<DataVio> bin) {
        int n = bin.size();
        for (int i = 0; i < n; i++) bin.owner(i).inPacker = false;
        if (n == 1) { writeRaw(bin.owner(0)); return; }
        DataVio payer = null;
        for (int i = 0; i < n; i++) if (bin.owner(i).reserved) { payer = bin.owner(i); break; }
        long pbn;
        try {
            pbn = allocate(payer != null ? payer : bin.owner(0), n);
        } catch (Throwable t) {
            for (int i = 0; i < n; i++) fail(bin.owner(i), t);
            return;
        }
        for (int i = 0; i < n; i++) {
            DataVio o = bin.owner(i);
            releaseReservation(o);
            o.newMapping = Mapping.packed(pbn, i);
            o.holdsRef = true;
        }
        ByteBuffer out = ByteBuffer.allocate(PackedBlock.BLOCK_SIZE);
        try {
            bin.encode(out);
            out.clear();
            pool.store.write(pbn, out);
        } catch (Throwable t) {
            pool.depot.endWrite(pbn);
            Throwable e = !(t instanceof IOException io) ? t : org.jvdo.journal.StorageErrors.isNoSpace(io)
                    ? pool.dataNoSpace("write of packed block " + pbn, io) : pool.storageError("write of packed block " + pbn, io);
            for (int i = 0; i < n; i++) fail(bin.owner(i), e);
            return;
        }
        pool.depot.endWrite(pbn);
        pool.compressedBlocksWritten.increment();
        for (int i = 0; i < n; i++) {
            DataVio o = bin.owner(i);
            pool.latPack.since(o.stageStart);
            o.volume.counters.compressedFragmentsWritten.increment();
            agentDone(o);
        }
    }

    /** The agent has a location: teach the index, share it with waiting identical writes, finish. */
    private void agentDone(DataVio v) {
        if (Mapping.hasBlock(v.newMapping)) pool.index.update(v.hash[0], v.hash[1], v.newMapping);
        releaseHashLock(v, true);
        finish(v);
    }

    private void releaseHashLock(DataVio v, boolean share) {
        if (v.fingerprint == null) return;
        HashLock l = hashLocks.get(v.fingerprint);
        if (l == null || l.agent != v) return;
        hashLocks.remove(v.fingerprint);
        List<DataVio> needCopy = null;
        for (DataVio w : l.waiters) {
            if (share && Arrays.equals(w.data, v.data)) {
                if (pool.depot.incrementIfLive(Mapping.pbn(v.newMapping))) {
                    w.newMapping = v.newMapping;
                    w.holdsRef = true;
                    w.volume.counters.concurrentDataMatches.increment();
                    releaseReservation(w);
                    Trampoline.run(() -> finish(w));
                } else {
                    // reference count at its maximum: a new copy is needed, but one for all of them
                    if (needCopy == null) needCopy = new ArrayList<>();
                    needCopy.add(w);
                }
            } else {
                if (share) w.volume.counters.concurrentHashCollisions.increment();
                Trampoline.run(() -> queryIndex(w));
            }
        }
        if (needCopy != null) forkHashLock(needCopy);
    }

    /**
     * Waiters the agent's block can take no more references for (dm-vdo's hash lock fork): the
     * first becomes the agent of a new hash lock and stores a new copy, the others wait on it and
     * share that copy. Storing one copy per waiter instead filled the pool with duplicates of a
     * block written by many requests at once.
     */
    private void forkHashLock(List<DataVio> waiters) {
        for (DataVio w : waiters) {
            final boolean[] agent = {false};
            hashLocks.compute(w.fingerprint, (k, l) -> {
                if (l == null) { agent[0] = true; return new HashLock(w); }
                l.waiters.add(w);
                return l;
            });
            if (agent[0]) Trampoline.run(() -> compress(w));
        }
    }

    // ---------------------------------------------------------------- finish

    /** Waits for reads of the old mapping in progress, then records the new one. */
    private void finish(DataVio v) {
        final boolean[] wait = {false};
        lbnLocks.compute(v.key, (k, l) -> {
            if (l.readers > 0) { l.finishWaiter = v; wait[0] = true; }
            return l;
        });
        if (!wait[0]) recordMapping(v);
    }

    private static int checksumOf(DataVio v) { return Mapping.hasBlock(v.newMapping) ? v.checksum : 0; }

    /** Journal entry, block map, reference counts: the write takes effect. */
    void recordMapping(DataVio v) {
        Volume vol = v.volume;
        long old, seq;
        while (true) {
            pool.mappingLock.readLock().lock();
            try {
                // the page is loaded (and validated) before anything is journaled: a failure here
                // leaves no entry behind that a replay could apply
                old = vol.blockMap().get(v.lbn);
                long tj = System.nanoTime();
                seq = pool.journal.tryAppend(JournalEntry.map(vol.id(), v.lbn, old, v.newMapping, checksumOf(v)));
                pool.latJournal.since(tj);
            } catch (Throwable t) {
                pool.mappingLock.readLock().unlock();
                fail(v, t instanceof IOException io ? pool.storageError("block map read for " + v, io) : t);
                return;
            }
            if (seq >= 0) break;
            // the journal ring is full: this writer waits for (runs) the checkpoint that frees it
            pool.mappingLock.readLock().unlock();
            try {
                pool.makeJournalSpace();
            } catch (Throwable t) {
                fail(v, t instanceof IOException io ? pool.storageError("checkpoint for journal space", io) : t);
                return;
            }
        }
        try {
            vol.blockMap().set(v.lbn, v.newMapping, checksumOf(v), seq);
            v.holdsRef = false;
            if (Mapping.hasBlock(old)) pool.depot.decrement(Mapping.pbn(old), seq);
            vol.noteMappingChange(old, v.newMapping);
        } catch (Throwable t) {
            pool.mappingLock.readLock().unlock();
            // the entry is journaled and another thread's commit will make it durable, so a replay
            // may apply it: the new block stays referenced (never freed and reused under a mapping
            // that recovery brings back) and the pool stops taking writes
            v.holdsRef = false;
            Throwable e = t instanceof IOException io ? pool.storageError("block map update of " + v, io) : t;
            pool.enterReadOnly("block map update of " + v + " failed after its journal entry: " + t, t);
            fail(v, e);
            return;
        }
        pool.mappingLock.readLock().unlock();
        if (v.claimAck()) { pool.latAck.since(v.acceptedAt); v.request.ack(); }
        release(v, null);
    }

    /**
     * Leaves the LBN queue, lets the next write of the LBN go, returns the vio to the pool. When
     * {@code v} failed before its data was complete, the partial write queued right behind it
     * (which was to merge over that data) cannot be built and fails too, and so on down the line.
     */
    private void release(DataVio v, Throwable failure) {
        final DataVio[] next = {null};
        final DataVio[] stranded = {null};
        lbnLocks.compute(v.key, (k, l) -> {
            DataVio head = l.writes.pollFirst();
            if (head != v) throw new IllegalStateException("logical lock order broken at " + v);
            DataVio n = l.writes.peekFirst();
            if (n != null) {
                if (n.ready) next[0] = n;
                else if (!v.ready) stranded[0] = n;
            }
            l.wakeReaders();
            return l.idle() ? null : l;
        });
        ArrayDeque<Runnable> flushes = pool.flushTracker.end(v.generation);
        String what = v.toString();
        recycle(v);
        for (Runnable r : flushes) r.run();
        // a flush still waiting may now wait only for fragments in the packer's bins: write them
        // (otherwise they sit out the packer timeout)
        if (flushes.isEmpty() && pool.flushTracker.flushWaiting()) pool.packForFlushSoon();
        if (next[0] != null) { DataVio n = next[0]; Trampoline.run(() -> launch(n)); }
        if (stranded[0] != null) {
            DataVio s = stranded[0];
            Errno errno = failure != null && VdoException.errnoOf(failure) == Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO;
            VdoException e = new VdoException(errno, "read-modify-write of " + s + " failed: the write it merges over ("
                    + what + ") failed" + (failure != null ? ": " + failure.getMessage() : ""), failure);
            Trampoline.run(() -> fail(s, e));
        }
    }

    /** A vio that cannot complete: undo what it holds; the client hears of it, or the pool goes read-only if it was already acknowledged. */
    void fail(DataVio v, Throwable t) {
        if (v.volume == null) {
            // already back in the pool (an engine failing its queue at shutdown after the vio completed)
            Pool.LOG.fine(() -> "failure of a vio no longer in use ignored: " + t);
            return;
        }
        if (v.holdsRef && Mapping.hasBlock(v.newMapping)) {
            try { pool.depot.decrement(Mapping.pbn(v.newMapping), pool.journal.lastAppendedSeq()); } catch (Throwable ignore) { }
            v.holdsRef = false;
        }
        releaseReservation(v);
        releaseHashLock(v, false);
        if (v.claimAck()) {
            v.request.fail(t);
        } else if (v.kind == DataVio.WRITE || v.kind == DataVio.TRIM || v.kind == DataVio.WRITE_ZERO) {
            Errno e = VdoException.errnoOf(t);
            // want of space is not damage: nothing of it was recorded, the next flush tells the client
            if (e == Errno.ENOSPC || e == Errno.EDQUOT) pool.lostWrite(v.toString(), t);
            else pool.enterReadOnly("acknowledged write of " + v + " lost: " + t.getMessage(), t);
        }
        release(v, t);
    }

    // ---------------------------------------------------------------- read

    /**
     * Reads {@code n} consecutive blocks into {@code out[0..n*4096)}: each block's newest queued
     * write if it has one, else what its mapping designates, with runs of consecutive raw blocks
     * read in one call and a packed block read once for its neighbouring fragments.
     */
    void readBlocks(Volume vol, long first, int n, byte[] out) throws IOException {
        long[] maps = new long[n];
        int[] sums = new int[n];
        boolean[] registered = new boolean[n];
        try {
            for (int i = 0; i < n; i++) {
                long key = key(vol, first + i);
                int off = i * 4096;
                while (true) {
                    final int[] mode = {0};
                    final java.util.concurrent.CompletableFuture<?>[] wait = {null};
                    lbnLocks.compute(key, (k, l) -> {
                        if (l != null && !l.writes.isEmpty()) {
                            DataVio tail = l.writes.peekLast();
                            if (tail.ready) { System.arraycopy(tail.data, 0, out, off, 4096); mode[0] = 1; }
                            else { mode[0] = 2; wait[0] = l.readerWaiting(); }
                            return l;
                        }
                        if (l == null) l = new LbnLock();
                        l.readers++;
                        return l;
                    });
                    if (mode[0] == 2) {
                        // the newest write is a partial one still reading what it merges over:
                        // wait (no spinning) until it is complete or has failed, then look again
                        awaitReady(wait[0], vol, first + i);
                        continue;
                    }
                    registered[i] = mode[0] == 0;
                    break;
                }
            }
            // registered readers keep the entries still: a write waits for them before it records its mapping
            vol.blockMap().lookup(first, n, registered, maps, sums);
            long lastPacked = -1;
            byte[] block = SCRATCH.get();
            byte[] plain = SCRATCH2.get();
            int i = 0;
            while (i < n) {
                if (!registered[i]) { i++; continue; }
                long m = maps[i];
                int state = Mapping.state(m);
                if (state == Mapping.UNMAPPED || state == Mapping.ZERO) {
                    Arrays.fill(out, i * 4096, (i + 1) * 4096, (byte) 0);
                    i++;
                } else if (state == Mapping.RAW) {
                    long pbn = Mapping.pbn(m);
                    int j = i + 1;
                    while (j < n && registered[j] && Mapping.state(maps[j]) == Mapping.RAW && Mapping.pbn(maps[j]) == pbn + (j - i)) j++;
                    try {
                        pool.store.read(pbn, ByteBuffer.wrap(out, i * 4096, (j - i) * 4096));
                    } catch (IOException e) {
                        throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of blocks " + pbn + ".." + (pbn + j - i - 1)
                                + " failed: " + e.getMessage(), e);
                    }
                    for (int k = i; k < j; k++) verify(vol, first + k, maps[k], sums[k], out, k * 4096);
                    i = j;
                } else if (Mapping.isPacked(m)) {
                    long pbn = Mapping.pbn(m);
                    if (pbn != lastPacked) {
                        try {
                            pool.store.read(pbn, ByteBuffer.wrap(block));
                        } catch (IOException e) {
                            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of packed block " + pbn + " failed: " + e.getMessage(), e);
                        }
                        lastPacked = pbn;
                    }
                    decodeFragment(vol, m, block, plain);
                    verify(vol, first + i, m, sums[i], plain, 0);
                    System.arraycopy(plain, 0, out, i * 4096, 4096);
                    i++;
                } else {
                    throw new CorruptPoolException("volume " + vol.name() + ": lbn " + (first + i) + " has invalid mapping " + Mapping.describe(m));
                }
            }
        } finally {
            for (int i = 0; i < n; i++) {
                if (!registered[i]) continue;
                final DataVio[] waiter = {null};
                lbnLocks.compute(key(vol, first + i), (k, l) -> {
                    l.readers--;
                    if (l.readers == 0 && l.finishWaiter != null) { waiter[0] = l.finishWaiter; l.finishWaiter = null; }
                    return l.idle() ? null : l;
                });
                if (waiter[0] != null) recordMapping(waiter[0]);
            }
        }
    }

    private static void awaitReady(java.util.concurrent.CompletableFuture<?> f, Volume vol, long lbn) throws IOException {
        try {
            f.get(READ_WAIT_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of lbn " + lbn + " interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            // woken either way; look again
        } catch (java.util.concurrent.TimeoutException e) {
            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": read of lbn " + lbn + ": the write queued on it did not complete its data within "
                    + READ_WAIT_SECONDS + " s");
        }
    }

    static final int READ_WAIT_SECONDS = 120;

    /**
     * The end-to-end check: what was read (and decoded) for {@code lbn} must hash to the checksum
     * stored with its mapping, or the read fails with EIO naming volume, LBN and block (and
     * counts a {@code checksum_errors}). Nothing else in the file proves a data block right.
     */
    void verify(Volume vol, long lbn, long m, int expected, byte[] data, int off) {
        int got = BlockChecksum.compute(data, off);
        if (got == expected) return;
        pool.checksumErrors.increment();
        throw new VdoException(Errno.EIO, String.format("volume %s lbn %d: %s block %d%s fails its checksum (stored 0x%08x, read 0x%08x)",
                vol.name(), lbn, Mapping.isPacked(m) ? "packed" : "raw", Mapping.pbn(m),
                Mapping.isPacked(m) ? " slot " + Mapping.slot(m) : "", expected, got));
    }

    /** The content {@code lbn}'s mapping {@code m} designates, verified against its checksum. */
    void readStored(Volume vol, long lbn, long m, int checksum, byte[] dst, String op) throws IOException {
        readUnverified(vol, m, dst, op);
        if (Mapping.hasBlock(m)) verify(vol, lbn, m, checksum, dst, 0);
    }

    /** The content mapping {@code m} designates, as stored. */
    private void readUnverified(Volume vol, long m, byte[] dst, String op) throws IOException {
        int state = Mapping.state(m);
        if (state == Mapping.UNMAPPED || state == Mapping.ZERO) { Arrays.fill(dst, (byte) 0); return; }
        long pbn = Mapping.pbn(m);
        if (state == Mapping.RAW) {
            try {
                pool.store.read(pbn, ByteBuffer.wrap(dst));
            } catch (IOException e) {
                throw new VdoException(Errno.EIO, "volume " + vol.name() + ": " + op + " of block " + pbn + " failed: " + e.getMessage(), e);
            }
            return;
        }
        if (!Mapping.isPacked(m)) throw new CorruptPoolException("volume " + vol.name() + ": invalid mapping " + Mapping.describe(m));
        byte[] block = SCRATCH.get();
        try {
            pool.store.read(pbn, ByteBuffer.wrap(block));
        } catch (IOException e) {
            throw new VdoException(Errno.EIO, "volume " + vol.name() + ": " + op + " of packed block " + pbn + " failed: " + e.getMessage(), e);
        }
        decodeFragment(vol, m, block, dst);
    }

    /**
     * Decodes packed mapping {@code m}'s fragment from its block's bytes into {@code dst[0..4096)}.
     * The error's context (volume, block, slot) is built only when there is an error.
     */
    private static void decodeFragment(Volume vol, long m, byte[] block, byte[] dst) {
        try {
            PackedBlock.Fragment f = PackedBlock.locate(ByteBuffer.wrap(block), Mapping.slot(m));
            FragmentCodec.decompress(f.encoding(), block, f.offset(), f.length(), dst, "fragment");
        } catch (RuntimeException e) {
            throw new CorruptPoolException("volume " + vol.name() + ": packed block " + Mapping.pbn(m) + " slot "
                    + Mapping.slot(m) + ": " + e.getMessage());
        }
    }
}
