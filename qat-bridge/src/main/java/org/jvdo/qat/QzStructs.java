package org.jvdo.qat;

import jnr.ffi.Runtime;
import jnr.ffi.Struct;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * jnr-ffi layouts of the QATzip structs jvdo touches (qatzip.h, API 2.x as shipped with QATzip
 * 1.3; LP64). Enums are 32-bit ints. The test double exports the C offsets, and a test compares
 * them field by field with these.
 *
 * <p>Native memory for the parameter structs is allocated {@link #PARAM_SLACK} bytes larger than
 * the layout, so a QATzip built with {@code ERR_INJECTION} (two extra pointers at the end of the
 * common parameters) or a later minor version that appends fields cannot write past it.
 */
public final class QzStructs {
    public static final int PARAM_SLACK = 64;

    private QzStructs() { }

    private static Map<String, Long> offsets(String[] names, Struct.NumberField... fields) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) m.put(names[i], fields[i].offset());
        return m;
    }

    /** {@code QzSession_T}: 40 bytes on LP64. */
    public static final class QzSession extends Struct {
        public final SignedLong hwSessionStat = new SignedLong();
        public final Signed32 thdSessStat = new Signed32();
        public final Pointer internal = new Pointer();
        public final UnsignedLong totalIn = new UnsignedLong();
        public final UnsignedLong totalOut = new UnsignedLong();

        public QzSession(Runtime runtime) { super(runtime); }

        /** C field name to offset, as this layout places it. */
        public Map<java.lang.String, Long> layout() {
            return offsets(new java.lang.String[]{"hw_session_stat", "thd_sess_stat", "internal", "total_in", "total_out"},
                    hwSessionStat, thdSessStat, internal, totalIn, totalOut);
        }
    }

    /** {@code QzSessionParamsCommon_T}: 48 bytes. */
    public static final class QzSessionParamsCommon extends Struct {
        public final Signed32 direction = new Signed32();
        public final Unsigned32 compLvl = new Unsigned32();
        public final Unsigned8 compAlgorithm = new Unsigned8();
        public final Unsigned32 maxForks = new Unsigned32();
        public final Unsigned8 swBackup = new Unsigned8();
        public final Unsigned32 hwBuffSz = new Unsigned32();
        public final Unsigned32 strmBuffSz = new Unsigned32();
        public final Unsigned32 inputSzThrshold = new Unsigned32();
        public final Unsigned32 reqCntThrshold = new Unsigned32();
        public final Unsigned32 waitCntThrshold = new Unsigned32();
        public final Signed32 pollingMode = new Signed32();
        public final Unsigned32 isSensitiveMode = new Unsigned32();

        public QzSessionParamsCommon(Runtime runtime) { super(runtime); }

        /** C field name to offset (relative to the outermost struct when embedded). */
        public Map<java.lang.String, Long> layout() {
            return offsets(new java.lang.String[]{"direction", "comp_lvl", "comp_algorithm", "max_forks", "sw_backup", "hw_buff_sz",
                            "strm_buff_sz", "input_sz_thrshold", "req_cnt_thrshold", "wait_cnt_thrshold", "polling_mode", "is_sensitive_mode"},
                    direction, compLvl, compAlgorithm, maxForks, swBackup, hwBuffSz, strmBuffSz, inputSzThrshold,
                    reqCntThrshold, waitCntThrshold, pollingMode, isSensitiveMode);
        }
    }

    /** {@code QzSessionParamsDeflate_T}: the common parameters, huffman_hdr, data_fmt; 56 bytes. */
    public static final class QzSessionParamsDeflate extends Struct {
        public final QzSessionParamsCommon commonParams = inner(new QzSessionParamsCommon(getRuntime()));
        public final Signed32 huffmanHdr = new Signed32();
        public final Signed32 dataFmt = new Signed32();

        public QzSessionParamsDeflate(Runtime runtime) { super(runtime); }

        /** C field names to offsets: {@code common_params.*}, huffman_hdr, data_fmt. */
        public Map<java.lang.String, Long> layout() {
            Map<java.lang.String, Long> m = new LinkedHashMap<>();
            commonParams.layout().forEach((k, v) -> m.put("common_params." + k, v));
            m.putAll(offsets(new java.lang.String[]{"huffman_hdr", "data_fmt"}, huffmanHdr, dataFmt));
            return m;
        }
    }

    /** {@code QzSessionParamsLZ4_T}: only the common parameters; 48 bytes. */
    public static final class QzSessionParamsLZ4 extends Struct {
        public final QzSessionParamsCommon commonParams = inner(new QzSessionParamsCommon(getRuntime()));

        public QzSessionParamsLZ4(Runtime runtime) { super(runtime); }

        /** C field names to offsets: {@code common_params.*}. */
        public Map<java.lang.String, Long> layout() {
            Map<java.lang.String, Long> m = new LinkedHashMap<>();
            commonParams.layout().forEach((k, v) -> m.put("common_params." + k, v));
            return m;
        }
    }

    // qatzip.h constants used by the engine
    public static final int QZ_DIR_BOTH = 2;
    public static final int QZ_DEFLATE_GZIP_EXT = 2;
    public static final int QZ_DEFLATE_RAW = 3;
    public static final int QZ_DYNAMIC_HDR = 0;
    public static final byte QZ_DEFLATE = 8;
    public static final byte QZ_LZ4 = '4';
    /** {@code sw_backup} bit 0: fall back to QATzip's software when hardware is unavailable. */
    public static final int SW_BACKUP = 1;
    /** {@code sw_backup} bit 1: software only. */
    public static final int SW_ONLY = 2;
    /** {@code ext_rc} bit 4: the request ran in software. */
    public static final long EXT_RC_SW_EXECUTION = 1L << 4;
}
