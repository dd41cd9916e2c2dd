package org.jvdo.qat;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.types.u_int32_t;
import jnr.ffi.types.u_int8_t;

/**
 * The QATzip functions jvdo uses (include/qatzip.h), bound by jnr-ffi. Every struct argument is a
 * {@link Pointer} to native memory laid out by the classes in {@link QzStructs}; length and
 * {@code ext_rc} arguments are pointers into a per-session scratch block, so a call allocates
 * nothing on the Java heap.
 */
public interface Qatzip {
    /** {@code int qzInit(QzSession_T *sess, unsigned char sw_backup)}. */
    int qzInit(Pointer sess, @u_int8_t byte swBackup);

    /** {@code int qzSetupSessionLZ4(QzSession_T *sess, QzSessionParamsLZ4_T *params)}. */
    int qzSetupSessionLZ4(Pointer sess, @In Pointer params);

    /** {@code int qzSetupSessionDeflate(QzSession_T *sess, QzSessionParamsDeflate_T *params)}. */
    int qzSetupSessionDeflate(Pointer sess, @In Pointer params);

    /** {@code int qzGetDefaultsLZ4(QzSessionParamsLZ4_T *defaults)}. */
    int qzGetDefaultsLZ4(@Out Pointer params);

    /** {@code int qzGetDefaultsDeflate(QzSessionParamsDeflate_T *defaults)}. */
    int qzGetDefaultsDeflate(@Out Pointer params);

    /** {@code int qzCompress(QzSession_T*, const unsigned char *src, unsigned *src_len, unsigned char *dest, unsigned *dest_len, unsigned last)}. */
    int qzCompress(Pointer sess, Pointer src, Pointer srcLen, Pointer dest, Pointer destLen, @u_int32_t int last);

    /** {@link #qzCompress} plus {@code uint64_t *ext_rc} (bit 4: served in software). */
    int qzCompressExt(Pointer sess, Pointer src, Pointer srcLen, Pointer dest, Pointer destLen, @u_int32_t int last, Pointer extRc);

    /** {@code int qzDecompress(QzSession_T*, const unsigned char *src, unsigned *src_len, unsigned char *dest, unsigned *dest_len)}. */
    int qzDecompress(Pointer sess, Pointer src, Pointer srcLen, Pointer dest, Pointer destLen);

    /** {@link #qzDecompress} plus {@code uint64_t *ext_rc}. */
    int qzDecompressExt(Pointer sess, Pointer src, Pointer srcLen, Pointer dest, Pointer destLen, Pointer extRc);

    /** {@code unsigned int qzMaxCompressedLength(unsigned int src_sz, QzSession_T *sess)}; 0 on overflow. */
    @u_int32_t int qzMaxCompressedLength(@u_int32_t int srcSize, Pointer sess);

    /** {@code int qzTeardownSession(QzSession_T *sess)}. */
    int qzTeardownSession(Pointer sess);

    /** {@code int qzClose(QzSession_T *sess)}. */
    int qzClose(Pointer sess);
}
