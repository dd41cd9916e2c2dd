/*
 * TEST DOUBLE -- NOT Intel's QATzip and NOT for production use.
 *
 * fake_qatzip.c: a software stand-in for libqatzip.so.3, written for jvdo's qat-bridge tests on
 * machines without QAT hardware or a QATzip package. It exports the QATzip functions qat-bridge
 * binds (same names, signatures and struct layouts as include/qatzip.h of QATzip 1.3 / API 2.x)
 * and does the work in software: QZ_LZ4 as an LZ4 frame through liblz4's lz4frame.h (linked
 * blocks, content size, content checksum, like QATzip's frames), QZ_DEFLATE through zlib (raw
 * deflate for QZ_DEFLATE_RAW, plain gzip for QZ_DEFLATE_GZIP / _GZIP_EXT).
 *
 * Test controls (not part of QATzip):
 *   fakeqz_set_hardware(int present)     pretend a QAT device is present (default 1) or absent;
 *                                        absent + sw_backup bit 0 -> software, ext_rc bit 4 set;
 *                                        absent without it -> QZ_NOSW_NO_HW.
 *   fakeqz_inject(const char *fn, int code, int count)
 *                                        the next `count` calls of `fn` ("qzCompress" covers
 *                                        qzCompressExt too, "*" = any function) return `code`
 *                                        without doing the work.
 *   fakeqz_set_delay_us(unsigned us)     sleep this long in every (de)compress call.
 *   fakeqz_calls(const char *fn)         calls so far of `fn` ("*" = all).
 *   fakeqz_reset()                       all of the above back to defaults, counters to zero.
 *   fakeqz_sizeof(type), fakeqz_offsetof(type, field)
 *                                        the C layout, compared with qat-bridge's jnr-ffi Structs.
 * Environment at load: FAKE_QZ_HARDWARE=0, FAKE_QZ_DELAY_US=n, FAKE_QZ_INJECT=fn:code:count.
 *
 * Build: gcc -shared -fPIC -O2 -o libqatzip.so.3 fake_qatzip.c -llz4 -lz
 */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <lz4frame.h>
#include <zlib.h>

/* ---- the public QATzip types and constants this double implements (layouts as in qatzip.h) ---- */

typedef enum { QZ_DYNAMIC_HDR = 0, QZ_STATIC_HDR } QzHuffmanHdr_T;
typedef enum { QZ_DIR_COMPRESS = 0, QZ_DIR_DECOMPRESS, QZ_DIR_BOTH } QzDirection_T;
typedef enum { QZ_DEFLATE_4B = 0, QZ_DEFLATE_GZIP, QZ_DEFLATE_GZIP_EXT, QZ_DEFLATE_RAW, QZ_FMT_NUM } QzDataFormat_T;
typedef enum { QZ_PERIODICAL_POLLING = 0, QZ_BUSY_POLLING } QzPollingMode_T;

#define QZ_OK                   (0)
#define QZ_DUPLICATE            (1)
#define QZ_PARAMS              (-1)
#define QZ_FAIL                (-2)
#define QZ_BUF_ERROR            (-3)
#define QZ_DATA_ERROR           (-4)
#define QZ_NO_HW                (11)
#define QZ_UNSUPPORTED_FMT      (16)
#define QZ_NOSW_NO_HW           (-101)

#define QZ_DEFLATE  ((unsigned char)8)
#define QZ_LZ4      ((unsigned char)'4')
#define QZ_SW_EXECUTION_MASK (1 << 4)

typedef struct QzSession_S {
    signed long int hw_session_stat;
    int thd_sess_stat;
    void *internal;
    unsigned long total_in;
    unsigned long total_out;
} QzSession_T;

typedef struct QzSessionParamsCommon_S {
    QzDirection_T direction;
    unsigned int comp_lvl;
    unsigned char comp_algorithm;
    unsigned int max_forks;
    unsigned char sw_backup;
    unsigned int hw_buff_sz;
    unsigned int strm_buff_sz;
    unsigned int input_sz_thrshold;
    unsigned int req_cnt_thrshold;
    unsigned int wait_cnt_thrshold;
    QzPollingMode_T polling_mode;
    unsigned int is_sensitive_mode;
} QzSessionParamsCommon_T;

typedef struct QzSessionParamsDeflate_S {
    QzSessionParamsCommon_T common_params;
    QzHuffmanHdr_T huffman_hdr;
    QzDataFormat_T data_fmt;
} QzSessionParamsDeflate_T;

typedef struct QzSessionParamsLZ4_S {
    QzSessionParamsCommon_T common_params;
} QzSessionParamsLZ4_T;

/* ---- test-double state ---- */

typedef struct {
    unsigned char sw_backup;
    int setup;
    unsigned char algorithm;
    QzDataFormat_T data_fmt;
    unsigned int level;
    LZ4F_dctx *dctx;
} FakeSession;

#define MAX_INJECT 8
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int hardware = 1;
static unsigned delay_us = 0;
static struct { char fn[32]; int code; int count; } inject[MAX_INJECT];
static const char *const FNS[] = { "qzInit", "qzSetupSession", "qzCompress", "qzDecompress",
                                   "qzTeardownSession", "qzClose", "qzGetDefaults", "qzMaxCompressedLength" };
#define NFN (sizeof FNS / sizeof FNS[0])
static long calls[NFN];

static int fn_index(const char *fn) {
    for (unsigned i = 0; i < NFN; i++) if (strcmp(FNS[i], fn) == 0) return (int) i;
    return -1;
}

/* Counts the call; returns 1 and sets *code when an injected result is due. */
static int injected(const char *fn, int *code) {
    int hit = 0;
    pthread_mutex_lock(&lock);
    int i = fn_index(fn);
    if (i >= 0) calls[i]++;
    for (int k = 0; k < MAX_INJECT && !hit; k++) {
        if (inject[k].count > 0 && (strcmp(inject[k].fn, "*") == 0 || strcmp(inject[k].fn, fn) == 0)) {
            inject[k].count--;
            *code = inject[k].code;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

void fakeqz_set_hardware(int present) { __atomic_store_n(&hardware, present, __ATOMIC_SEQ_CST); }
void fakeqz_set_delay_us(unsigned us) { __atomic_store_n(&delay_us, us, __ATOMIC_SEQ_CST); }

int fakeqz_inject(const char *fn, int code, int count) {
    pthread_mutex_lock(&lock);
    int done = -1;
    for (int k = 0; k < MAX_INJECT; k++) {
        if (inject[k].count <= 0) {
            strncpy(inject[k].fn, fn, sizeof inject[k].fn - 1);
            inject[k].fn[sizeof inject[k].fn - 1] = 0;
            inject[k].code = code;
            inject[k].count = count;
            done = 0;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return done;
}

long fakeqz_calls(const char *fn) {
    long n = 0;
    pthread_mutex_lock(&lock);
    if (strcmp(fn, "*") == 0) { for (unsigned i = 0; i < NFN; i++) n += calls[i]; }
    else { int i = fn_index(fn); n = i < 0 ? -1 : calls[i]; }
    pthread_mutex_unlock(&lock);
    return n;
}

void fakeqz_reset(void) {
    pthread_mutex_lock(&lock);
    memset(inject, 0, sizeof inject);
    memset(calls, 0, sizeof calls);
    hardware = 1;
    delay_us = 0;
    pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void fakeqz_env(void) {
    const char *h = getenv("FAKE_QZ_HARDWARE"), *d = getenv("FAKE_QZ_DELAY_US"), *j = getenv("FAKE_QZ_INJECT");
    if (h) hardware = atoi(h);
    if (d) delay_us = (unsigned) atoi(d);
    if (j) {
        char fn[32] = {0};
        int code = 0, count = 0;
        const char *c1 = strchr(j, ':');
        if (c1 && (size_t) (c1 - j) < sizeof fn) {
            memcpy(fn, j, (size_t) (c1 - j));
            if (sscanf(c1 + 1, "%d:%d", &code, &count) == 2) fakeqz_inject(fn, code, count);
        }
    }
}

#define FIELD(T, f) if (strcmp(field, #f) == 0) return (long) offsetof(T, f)
long fakeqz_sizeof(const char *type) {
    if (strcmp(type, "QzSession_T") == 0) return sizeof(QzSession_T);
    if (strcmp(type, "QzSessionParamsCommon_T") == 0) return sizeof(QzSessionParamsCommon_T);
    if (strcmp(type, "QzSessionParamsDeflate_T") == 0) return sizeof(QzSessionParamsDeflate_T);
    if (strcmp(type, "QzSessionParamsLZ4_T") == 0) return sizeof(QzSessionParamsLZ4_T);
    return -1;
}

long fakeqz_offsetof(const char *type, const char *field) {
    if (strcmp(type, "QzSession_T") == 0) {
        FIELD(QzSession_T, hw_session_stat); FIELD(QzSession_T, thd_sess_stat); FIELD(QzSession_T, internal);
        FIELD(QzSession_T, total_in); FIELD(QzSession_T, total_out);
    } else if (strcmp(type, "QzSessionParamsCommon_T") == 0) {
        FIELD(QzSessionParamsCommon_T, direction); FIELD(QzSessionParamsCommon_T, comp_lvl);
        FIELD(QzSessionParamsCommon_T, comp_algorithm); FIELD(QzSessionParamsCommon_T, max_forks);
        FIELD(QzSessionParamsCommon_T, sw_backup); FIELD(QzSessionParamsCommon_T, hw_buff_sz);
        FIELD(QzSessionParamsCommon_T, strm_buff_sz); FIELD(QzSessionParamsCommon_T, input_sz_thrshold);
        FIELD(QzSessionParamsCommon_T, req_cnt_thrshold); FIELD(QzSessionParamsCommon_T, wait_cnt_thrshold);
        FIELD(QzSessionParamsCommon_T, polling_mode); FIELD(QzSessionParamsCommon_T, is_sensitive_mode);
    } else if (strcmp(type, "QzSessionParamsDeflate_T") == 0) {
        FIELD(QzSessionParamsDeflate_T, common_params); FIELD(QzSessionParamsDeflate_T, huffman_hdr);
        FIELD(QzSessionParamsDeflate_T, data_fmt);
    } else if (strcmp(type, "QzSessionParamsLZ4_T") == 0) {
        FIELD(QzSessionParamsLZ4_T, common_params);
    }
    return -1;
}

/* ---- the QATzip API ---- */

static FakeSession *fs(QzSession_T *sess) { return sess ? (FakeSession *) sess->internal : NULL; }

static void defaults_common(QzSessionParamsCommon_T *c, unsigned char algorithm) {
    memset(c, 0, sizeof *c);
    c->direction = QZ_DIR_BOTH;
    c->comp_lvl = 1;
    c->comp_algorithm = algorithm;
    c->max_forks = 3;
    c->sw_backup = 1;
    c->hw_buff_sz = 64 * 1024;
    c->strm_buff_sz = 64 * 1024;
    c->input_sz_thrshold = 1024;
    c->req_cnt_thrshold = 32;
    c->wait_cnt_thrshold = 8;
}

int qzGetDefaultsDeflate(QzSessionParamsDeflate_T *p) {
    int code;
    if (injected("qzGetDefaults", &code)) return code;
    if (!p) return QZ_PARAMS;
    defaults_common(&p->common_params, QZ_DEFLATE);
    p->huffman_hdr = QZ_DYNAMIC_HDR;
    p->data_fmt = QZ_DEFLATE_GZIP_EXT;
    return QZ_OK;
}

int qzGetDefaultsLZ4(QzSessionParamsLZ4_T *p) {
    int code;
    if (injected("qzGetDefaults", &code)) return code;
    if (!p) return QZ_PARAMS;
    defaults_common(&p->common_params, QZ_LZ4);
    return QZ_OK;
}

int qzInit(QzSession_T *sess, unsigned char sw_backup) {
    int code;
    if (injected("qzInit", &code)) return code;
    if (!sess) return QZ_PARAMS;
    if (sess->internal) return QZ_DUPLICATE;
    int hw = __atomic_load_n(&hardware, __ATOMIC_SEQ_CST);
    if (!hw && !(sw_backup & 1)) return QZ_NOSW_NO_HW;
    FakeSession *s = calloc(1, sizeof *s);
    if (!s) return QZ_FAIL;
    s->sw_backup = sw_backup;
    sess->internal = s;
    sess->hw_session_stat = QZ_OK;
    return hw ? QZ_OK : QZ_NO_HW;
}

static int setup(QzSession_T *sess, const QzSessionParamsCommon_T *c, QzDataFormat_T fmt) {
    int code;
    if (injected("qzSetupSession", &code)) return code;
    if (!sess || !c) return QZ_PARAMS;
    if (!sess->internal) { int rc = qzInit(sess, c->sw_backup); if (rc != QZ_OK && rc != QZ_NO_HW) return rc; }
    FakeSession *s = fs(sess);
    if (c->comp_lvl < 1 || c->comp_lvl > 12) return QZ_PARAMS;
    if (c->comp_algorithm != QZ_LZ4 && c->comp_algorithm != QZ_DEFLATE) return QZ_UNSUPPORTED_FMT;
    if (c->comp_algorithm == QZ_DEFLATE && (fmt == QZ_DEFLATE_4B || fmt >= QZ_FMT_NUM)) return QZ_UNSUPPORTED_FMT;
    s->algorithm = c->comp_algorithm;
    s->data_fmt = fmt;
    s->level = c->comp_lvl;
    s->sw_backup = c->sw_backup;
    s->setup = 1;
    return QZ_OK;
}

int qzSetupSessionDeflate(QzSession_T *sess, QzSessionParamsDeflate_T *p) {
    return p ? setup(sess, &p->common_params, p->data_fmt) : QZ_PARAMS;
}

int qzSetupSessionLZ4(QzSession_T *sess, QzSessionParamsLZ4_T *p) {
    return p ? setup(sess, &p->common_params, QZ_DEFLATE_RAW) : QZ_PARAMS;
}

/* Whether the work may be done now; sets the software-execution bit when it is "software". */
static int may_run(FakeSession *s, uint64_t *ext_rc) {
    int hw = __atomic_load_n(&hardware, __ATOMIC_SEQ_CST);
    int sw = (s->sw_backup & 2) || !hw;
    if (!hw && !(s->sw_backup & 3)) return QZ_NOSW_NO_HW;
    if (sw && ext_rc) *ext_rc |= QZ_SW_EXECUTION_MASK;
    unsigned d = __atomic_load_n(&delay_us, __ATOMIC_SEQ_CST);
    if (d) usleep(d);
    return QZ_OK;
}

static int deflate_window(QzDataFormat_T fmt) { return fmt == QZ_DEFLATE_RAW ? -15 : 31; }

int qzCompressExt(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
                  unsigned char *dest, unsigned int *dest_len, unsigned int last, uint64_t *ext_rc) {
    int code;
    if (ext_rc) *ext_rc = 0;
    if (injected("qzCompress", &code)) return code;
    FakeSession *s = fs(sess);
    if (!s || !s->setup || !src || !src_len || !dest || !dest_len || !last) return QZ_PARAMS;
    int rc = may_run(s, ext_rc);
    if (rc != QZ_OK) return rc;
    size_t out;
    if (s->algorithm == QZ_LZ4) {
        LZ4F_preferences_t prefs;
        memset(&prefs, 0, sizeof prefs);
        prefs.frameInfo.blockSizeID = LZ4F_max64KB;
        prefs.frameInfo.blockMode = LZ4F_blockLinked;
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
        prefs.frameInfo.contentSize = *src_len;
        if (LZ4F_compressFrameBound(*src_len, &prefs) > *dest_len) {
            /* lz4frame needs its bound; try into a scratch buffer and see whether it fits */
            size_t cap = LZ4F_compressFrameBound(*src_len, &prefs);
            unsigned char *tmp = malloc(cap);
            if (!tmp) return QZ_FAIL;
            out = LZ4F_compressFrame(tmp, cap, src, *src_len, &prefs);
            if (LZ4F_isError(out) || out > *dest_len) { free(tmp); return QZ_BUF_ERROR; }
            memcpy(dest, tmp, out);
            free(tmp);
        } else {
            out = LZ4F_compressFrame(dest, *dest_len, src, *src_len, &prefs);
            if (LZ4F_isError(out)) return QZ_FAIL;
        }
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        int lvl = s->level > 9 ? 9 : (int) s->level;
        if (deflateInit2(&z, lvl, Z_DEFLATED, deflate_window(s->data_fmt), 8, Z_DEFAULT_STRATEGY) != Z_OK) return QZ_FAIL;
        z.next_in = (unsigned char *) src;
        z.avail_in = *src_len;
        z.next_out = dest;
        z.avail_out = *dest_len;
        int zr = deflate(&z, Z_FINISH);
        out = z.total_out;
        deflateEnd(&z);
        if (zr != Z_STREAM_END) return QZ_BUF_ERROR;
    }
    sess->total_in += *src_len;
    sess->total_out += out;
    *dest_len = (unsigned int) out;
    return QZ_OK;
}

int qzCompress(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
               unsigned char *dest, unsigned int *dest_len, unsigned int last) {
    return qzCompressExt(sess, src, src_len, dest, dest_len, last, NULL);
}

int qzDecompressExt(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
                    unsigned char *dest, unsigned int *dest_len, uint64_t *ext_rc) {
    int code;
    if (ext_rc) *ext_rc = 0;
    if (injected("qzDecompress", &code)) return code;
    FakeSession *s = fs(sess);
    if (!s || !s->setup || !src || !src_len || !dest || !dest_len) return QZ_PARAMS;
    int rc = may_run(s, ext_rc);
    if (rc != QZ_OK) return rc;
    size_t in = *src_len, out = *dest_len;
    if (s->algorithm == QZ_LZ4) {
        if (!s->dctx && LZ4F_isError(LZ4F_createDecompressionContext(&s->dctx, LZ4F_VERSION))) return QZ_FAIL;
        LZ4F_resetDecompressionContext(s->dctx);
        size_t r = LZ4F_decompress(s->dctx, dest, &out, src, &in, NULL);
        if (LZ4F_isError(r)) return QZ_DATA_ERROR;
        if (r != 0) return out == *dest_len ? QZ_BUF_ERROR : QZ_DATA_ERROR;
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, deflate_window(s->data_fmt)) != Z_OK) return QZ_FAIL;
        z.next_in = (unsigned char *) src;
        z.avail_in = *src_len;
        z.next_out = dest;
        z.avail_out = *dest_len;
        int zr = inflate(&z, Z_FINISH);
        in = z.total_in;
        out = z.total_out;
        inflateEnd(&z);
        if (zr == Z_BUF_ERROR && z.avail_out == 0) return QZ_BUF_ERROR;
        if (zr != Z_STREAM_END) return QZ_DATA_ERROR;
    }
    sess->total_in += in;
    sess->total_out += out;
    *src_len = (unsigned int) in;
    *dest_len = (unsigned int) out;
    return QZ_OK;
}

int qzDecompress(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
                 unsigned char *dest, unsigned int *dest_len) {
    return qzDecompressExt(sess, src, src_len, dest, dest_len, NULL);
}

unsigned int qzMaxCompressedLength(unsigned int src_sz, QzSession_T *sess) {
    int code;
    if (injected("qzMaxCompressedLength", &code)) return 0;
    (void) sess;
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.contentSize = src_sz;
    size_t a = LZ4F_compressFrameBound(src_sz, &prefs), b = compressBound(src_sz) + 18;
    return (unsigned int) ((a > b ? a : b) + 48); /* + QZ_SKID_PAD_SZ */
}

int qzTeardownSession(QzSession_T *sess) {
    int code;
    if (injected("qzTeardownSession", &code)) return code;
    FakeSession *s = fs(sess);
    if (!s) return QZ_OK;
    if (s->dctx) { LZ4F_freeDecompressionContext(s->dctx); s->dctx = NULL; }
    s->setup = 0;
    return QZ_OK;
}

int qzClose(QzSession_T *sess) {
    int code;
    if (injected("qzClose", &code)) return code;
    FakeSession *s = fs(sess);
    if (!s) return QZ_OK;
    if (s->dctx) LZ4F_freeDecompressionContext(s->dctx);
    free(s);
    sess->internal = NULL;
    return QZ_OK;
}
