package org.jvdo.qat;

import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The jnr-ffi Struct layouts equal the C layouts (as compiled into the test double from qatzip.h's definitions). */
class QzStructLayoutTest {
    static FakeQat.Control c;
    static Runtime rt;

    @BeforeAll
    static void load() throws Exception {
        c = FakeQat.control();
        rt = Runtime.getRuntime(FakeQat.qatzip());
    }

    /** Each field's offset equals the C offsetof; "a.b" is field b of the struct embedded as a (at offset 0 here). */
    private static void check(String type, Struct s, Map<String, Long> layout, int expectedFields) {
        assertEquals(c.fakeqz_sizeof(type), Struct.size(s), "sizeof(" + type + ")");
        assertEquals(expectedFields, layout.size());
        for (Map.Entry<String, Long> f : layout.entrySet()) {
            String name = f.getKey();
            long cOff;
            if (name.startsWith("common_params.")) {
                long base = c.fakeqz_offsetof(type, "common_params");
                cOff = base + c.fakeqz_offsetof("QzSessionParamsCommon_T", name.substring("common_params.".length()));
            } else {
                cOff = c.fakeqz_offsetof(type, name);
            }
            assertTrue(cOff >= 0, "the C side has no " + type + "." + name);
            assertEquals(cOff, f.getValue(), "offsetof(" + type + ", " + name + ")");
        }
    }

    @Test
    void session() {
        QzStructs.QzSession s = new QzStructs.QzSession(rt);
        check("QzSession_T", s, s.layout(), 5);
        assertEquals(40, Struct.size(s), "QzSession_T is 40 bytes on LP64");
    }

    @Test
    void commonParams() {
        QzStructs.QzSessionParamsCommon p = new QzStructs.QzSessionParamsCommon(rt);
        check("QzSessionParamsCommon_T", p, p.layout(), 12);
    }

    @Test
    void deflateParams() {
        QzStructs.QzSessionParamsDeflate p = new QzStructs.QzSessionParamsDeflate(rt);
        check("QzSessionParamsDeflate_T", p, p.layout(), 14);
    }

    @Test
    void lz4Params() {
        QzStructs.QzSessionParamsLZ4 p = new QzStructs.QzSessionParamsLZ4(rt);
        check("QzSessionParamsLZ4_T", p, p.layout(), 12);
    }

    @Test
    void defaultsReadThroughTheLayout() {
        jnr.ffi.Pointer mem = jnr.ffi.Memory.allocateDirect(rt, 48 + QzStructs.PARAM_SLACK, true);
        assertEquals(0, FakeQatzipCalls.lib().qzGetDefaultsLZ4(mem));
        QzStructs.QzSessionParamsLZ4 p = new QzStructs.QzSessionParamsLZ4(rt);
        p.useMemory(mem);
        assertEquals(QzStructs.QZ_LZ4, (byte) p.commonParams.compAlgorithm.get());
        assertEquals(1, p.commonParams.swBackup.get());
        assertEquals(8, p.commonParams.waitCntThrshold.get());
        assertEquals(QzStructs.QZ_DIR_BOTH, p.commonParams.direction.get());
    }

    @Test
    void everyReturnCodeHasAUniqueNameAndOutcome() {
        int[] codes = {0, 1, 2, -1, -2, -3, -4, -5, -100, 11, 12, 13, 14, 15, 16, 100, -101, -102, -103, -104, -105, -116, -117, -118, -119, -200};
        Set<QzStatus> seen = new HashSet<>();
        for (int code : codes) {
            QzStatus s = QzStatus.of(code);
            assertNotEquals(QzStatus.UNKNOWN, s, "code " + code);
            assertEquals(code, s.code);
            assertTrue(seen.add(s));
            assertTrue(QzStatus.describe(code).startsWith(s.name() + " (" + code + ": "));
        }
        assertEquals(QzStatus.values().length - 1, seen.size());
        assertEquals(QzStatus.UNKNOWN, QzStatus.of(42));
        assertTrue(QzStatus.describe(42).startsWith("QZ code 42"));
        assertEquals(QzStatus.Outcome.FALLBACK, QzStatus.QZ_NOSW_NO_HW.outcome);
        assertEquals(QzStatus.Outcome.INCOMPRESSIBLE, QzStatus.QZ_BUF_ERROR.outcome);
        assertEquals(QzStatus.Outcome.ERROR, QzStatus.QZ_DATA_ERROR.outcome);
    }

    /** Shortcut to the bound library for this test. */
    static final class FakeQatzipCalls {
        static Qatzip lib() {
            try { return FakeQat.qatzip(); } catch (Exception e) { throw new IllegalStateException(e); }
        }
    }
}
