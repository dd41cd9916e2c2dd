package org.jvdo.qat;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.compress.FragmentCodec;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Against a real libqatzip.so.3 and QAT device. Skipped, saying why, where either is missing
 * (as on the build machines: no QATzip package for Debian 12, no QAT hardware); never skipped
 * when both are present.
 */
class RealQatTest {
    @Test
    void realDeviceCompressesBothAlgorithms() throws Exception {
        QatLibrary.Loaded l = QatLibrary.load(QatOptions.DEFAULT_LIBRARY);
        Assumptions.assumeTrue(l.ok(), () -> "needs real QAT: " + l.error());
        for (String alg : new String[]{"lz4", "deflate"}) {
            QatOptions opt = new QatOptions(QatOptions.DEFAULT_LIBRARY, alg, 1, 1, 64, 0);
            QatSession s;
            try {
                s = QatSession.open(l.lib(), opt);
            } catch (QatException e) {
                Assumptions.assumeTrue(e.status() != QzStatus.QZ_NOSW_NO_HW && e.status() != QzStatus.QZ_NOSW_NO_INST_ATTACH
                        && e.status() != QzStatus.QZ_NOSW_NO_MDRV && e.status() != QzStatus.QZ_NOSW_UNSUPPORTED_FMT,
                        () -> "needs a QAT device supporting " + alg + ": " + e.getMessage());
                throw e;
            }
            try (s) {
                byte[] in = QatEngineTest.text(1);
                assertEquals(0, s.compress(in), alg);
                assertFalse(s.ranInSoftware(), "sw_backup is 0: the device did the work");
                int n = s.outputLength();
                assertTrue(n > 0 && n < 4096);
                byte[] frag = new byte[n], back = new byte[4096];
                s.copyOutput(frag, n);
                FragmentCodec.decompress(opt.encoding(), frag, 0, n, back, "real QAT " + alg);
                assertArrayEquals(in, back);
            }
        }
        assertTrue(new QatEngineProvider().availability(new PoolConfig()).available());
    }
}
