package org.jvdo.qat;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * One QATzip session with its own native buffers: a 4 KiB source, a bounded destination and a
 * scratch block for the length and {@code ext_rc} arguments, all allocated once, so a request
 * copies its block in and its result out and allocates nothing. Not thread-safe: QATzip
 * sessions belong to one thread, and each engine worker owns one (like zram's per-CPU streams).
 */
public final class QatSession implements AutoCloseable {
    public static final int BLOCK = 4096;
    /** At most this much destination room, whatever qzMaxCompressedLength says: more is incompressible anyway. */
    public static final int MAX_DEST = 2 * BLOCK;
    private static final int SRC_LEN = 0, DEST_LEN = 4, EXT_RC = 8;

    private final Qatzip lib;
    private final QatOptions opt;
    private final Pointer sess;
    private final Pointer src;
    private final Pointer dst;
    private final Pointer scratch;
    private final Pointer srcLenP, destLenP, extRcP; // views of scratch, made once
    private final int dstCap;
    private final boolean softwareAtInit;
    private boolean open = true;
    private int outLen;
    private long extRc;

    private QatSession(Qatzip lib, QatOptions opt) {
        this.lib = lib;
        this.opt = opt;
        Runtime rt = Runtime.getRuntime(lib);
        this.sess = Memory.allocateDirect(rt, Struct_size(rt) + QzStructs.PARAM_SLACK, true);
        int rc = lib.qzInit(sess, (byte) opt.swBackup());
        if (rc != QzStatus.QZ_OK.code && rc != QzStatus.QZ_DUPLICATE.code && !(rc > 0 && (opt.swBackup() & QzStructs.SW_BACKUP) != 0)) {
            throw new QatException("qzInit", rc);
        }
        this.softwareAtInit = rc > 0 && rc != QzStatus.QZ_DUPLICATE.code;
        try {
            setup(rt);
        } catch (RuntimeException e) {
            lib.qzClose(sess);
            throw e;
        }
        int max = lib.qzMaxCompressedLength(BLOCK, sess);
        this.dstCap = max <= 0 ? MAX_DEST : Math.min(MAX_DEST, Math.max(max, BLOCK + 64));
        this.src = Memory.allocateDirect(rt, BLOCK, true);
        this.dst = Memory.allocateDirect(rt, dstCap, true);
        this.scratch = Memory.allocateDirect(rt, 16, true);
        this.srcLenP = scratch.slice(SRC_LEN);
        this.destLenP = scratch.slice(DEST_LEN);
        this.extRcP = scratch.slice(EXT_RC);
    }

    private static long Struct_size(Runtime rt) { return jnr.ffi.Struct.size(new QzStructs.QzSession(rt)); }

    private void setup(Runtime rt) {
        int rc;
        String fn;
        if (opt.algorithm().equals("lz4")) {
            Pointer mem = Memory.allocateDirect(rt, jnr.ffi.Struct.size(new QzStructs.QzSessionParamsLZ4(rt)) + QzStructs.PARAM_SLACK, true);
            rc = lib.qzGetDefaultsLZ4(mem);
            if (rc != 0) throw new QatException("qzGetDefaultsLZ4", rc);
            QzStructs.QzSessionParamsLZ4 p = new QzStructs.QzSessionParamsLZ4(rt);
            p.useMemory(mem);
            common(p.commonParams, QzStructs.QZ_LZ4);
            fn = "qzSetupSessionLZ4";
            rc = lib.qzSetupSessionLZ4(sess, mem);
        } else {
            Pointer mem = Memory.allocateDirect(rt, jnr.ffi.Struct.size(new QzStructs.QzSessionParamsDeflate(rt)) + QzStructs.PARAM_SLACK, true);
            rc = lib.qzGetDefaultsDeflate(mem);
            if (rc != 0) throw new QatException("qzGetDefaultsDeflate", rc);
            QzStructs.QzSessionParamsDeflate p = new QzStructs.QzSessionParamsDeflate(rt);
            p.useMemory(mem);
            common(p.commonParams, QzStructs.QZ_DEFLATE);
            p.huffmanHdr.set(QzStructs.QZ_DYNAMIC_HDR);
            p.dataFmt.set(QzStructs.QZ_DEFLATE_RAW); // no gzip header/trailer: 18 bytes less per fragment
            fn = "qzSetupSessionDeflate";
            rc = lib.qzSetupSessionDeflate(sess, mem);
        }
        if (rc < 0 || (rc > 0 && (opt.swBackup() & QzStructs.SW_BACKUP) == 0)) throw new QatException(fn, rc);
    }

    private void common(QzStructs.QzSessionParamsCommon c, byte algorithm) {
        c.direction.set(QzStructs.QZ_DIR_BOTH);
        c.compLvl.set(opt.level());
        c.compAlgorithm.set(algorithm);
        c.swBackup.set(opt.swBackup());
    }

    /** Opens a session on the calling thread, or throws {@link QatException} naming the QATzip call and code that failed. */
    public static QatSession open(Qatzip lib, QatOptions opt) { return new QatSession(lib, opt); }

    /**
     * Compresses one 4 KiB block into the session's destination buffer; returns the QATzip code.
     * After {@code QZ_OK}, {@link #outputLength()} bytes are ready for {@link #copyOutput}.
     */
    public int compress(byte[] block) {
        src.put(0, block, 0, BLOCK);
        scratch.putInt(SRC_LEN, BLOCK);
        scratch.putInt(DEST_LEN, dstCap);
        scratch.putLongLong(EXT_RC, 0);
        int rc = lib.qzCompressExt(sess, src, srcLenP, dst, destLenP, 1, extRcP);
        outLen = scratch.getInt(DEST_LEN);
        extRc = scratch.getLongLong(EXT_RC);
        return rc;
    }

    /** Decompresses {@code in[off..off+len)} into {@code out[0..4096)}; returns the QATzip code, {@link #outputLength()} the bytes produced. */
    public int decompress(byte[] in, int off, int len, byte[] out) {
        if (len > dstCap) return QzStatus.QZ_PARAMS.code;
        dst.put(0, in, off, len);
        scratch.putInt(SRC_LEN, len);
        scratch.putInt(DEST_LEN, BLOCK);
        scratch.putLongLong(EXT_RC, 0);
        int rc = lib.qzDecompressExt(sess, dst, srcLenP, src, destLenP, extRcP);
        outLen = scratch.getInt(DEST_LEN);
        extRc = scratch.getLongLong(EXT_RC);
        if (rc == 0) src.get(0, out, 0, Math.min(outLen, BLOCK));
        return rc;
    }

    public int outputLength() { return outLen; }

    public void copyOutput(byte[] target, int length) { dst.get(0, target, 0, length); }

    /** Whether the last request ran in software ({@code ext_rc} bit 4). */
    public boolean ranInSoftware() { return (extRc & QzStructs.EXT_RC_SW_EXECUTION) != 0; }

    /** Whether qzInit answered with a software-backup warning (e.g. QZ_NO_HW with sw_backup set). */
    public boolean softwareAtInit() { return softwareAtInit; }

    public int destinationCapacity() { return dstCap; }

    @Override
    public void close() {
        if (!open) return;
        open = false;
        lib.qzTeardownSession(sess);
        lib.qzClose(sess);
    }
}
