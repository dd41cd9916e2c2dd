package org.jvdo.qat;

/**
 * Every QATzip return code ({@code QZ_*} of qatzip.h) with what the engine does about it.
 * {@link Outcome#FALLBACK}: the hardware (or QATzip's software path) cannot serve the request
 * now; the engine compresses it with lz4-java instead and counts a fallback.
 * {@link Outcome#INCOMPRESSIBLE}: the output did not fit the bounded buffer; stored raw.
 * {@link Outcome#ERROR}: a bad request or bad data; the task fails with the code's name and the
 * block is stored raw.
 */
public enum QzStatus {
    QZ_OK(0, Outcome.OK, "success"),
    QZ_DUPLICATE(1, Outcome.OK, "session already initialised"),
    QZ_FORCE_SW(2, Outcome.OK, "served in software"),
    QZ_PARAMS(-1, Outcome.ERROR, "invalid parameters"),
    QZ_FAIL(-2, Outcome.FALLBACK, "unspecified failure"),
    QZ_BUF_ERROR(-3, Outcome.INCOMPRESSIBLE, "output buffer too small"),
    QZ_DATA_ERROR(-4, Outcome.ERROR, "input data corrupt"),
    QZ_TIMEOUT(-5, Outcome.FALLBACK, "hardware timeout"),
    QZ_INTEG(-100, Outcome.ERROR, "integrity check failed"),
    QZ_NO_HW(11, Outcome.FALLBACK, "no QAT hardware (software backup in use)"),
    QZ_NO_MDRV(12, Outcome.FALLBACK, "no memory driver (software backup in use)"),
    QZ_NO_INST_ATTACH(13, Outcome.FALLBACK, "no QAT instance could be attached (software backup in use)"),
    QZ_LOW_MEM(14, Outcome.FALLBACK, "not enough pinned memory (software backup in use)"),
    QZ_LOW_DEST_MEM(15, Outcome.FALLBACK, "destination buffer not pinned memory"),
    QZ_UNSUPPORTED_FMT(16, Outcome.ERROR, "unsupported data format"),
    QZ_NONE(100, Outcome.ERROR, "no status"),
    QZ_NOSW_NO_HW(-101, Outcome.FALLBACK, "no QAT hardware and software backup off"),
    QZ_NOSW_NO_MDRV(-102, Outcome.FALLBACK, "no memory driver and software backup off"),
    QZ_NOSW_NO_INST_ATTACH(-103, Outcome.FALLBACK, "no QAT instance could be attached and software backup off"),
    QZ_NOSW_LOW_MEM(-104, Outcome.FALLBACK, "not enough pinned memory and software backup off"),
    QZ_NO_SW_AVAIL(-105, Outcome.FALLBACK, "no software implementation available"),
    QZ_NOSW_UNSUPPORTED_FMT(-116, Outcome.ERROR, "format unsupported in hardware and software backup off"),
    QZ_POST_PROCESS_ERROR(-117, Outcome.ERROR, "post-processing callback failed"),
    QZ_METADATA_OVERFLOW(-118, Outcome.ERROR, "metadata overflow"),
    QZ_OUT_OF_RANGE(-119, Outcome.ERROR, "value out of range"),
    QZ_NOT_SUPPORTED(-200, Outcome.ERROR, "operation not supported"),
    /** A code this binding does not know (a newer QATzip). */
    UNKNOWN(Integer.MIN_VALUE, Outcome.ERROR, "unknown return code");

    /** What a return code means for one request. */
    public enum Outcome { OK, INCOMPRESSIBLE, FALLBACK, ERROR }

    public final int code;
    public final Outcome outcome;
    public final String meaning;

    QzStatus(int code, Outcome outcome, String meaning) {
        this.code = code;
        this.outcome = outcome;
        this.meaning = meaning;
    }

    private static final QzStatus[] VALUES = values();

    public static QzStatus of(int code) {
        for (QzStatus s : VALUES) if (s.code == code) return s;
        return UNKNOWN;
    }

    /** "QZ_NOSW_NO_HW (-101: no QAT hardware and software backup off)"; unknown codes show their number. */
    public static String describe(int code) {
        QzStatus s = of(code);
        return (s == UNKNOWN ? "QZ code " + code : s.name()) + " (" + code + ": " + s.meaning + ")";
    }
}
