package org.jvdo.nbd;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link TlsTest} against volumes of real pools (see {@link EngineDevices}). */
@ExtendWith(EngineDevices.class)
class EngineTlsTest extends TlsTest {
}
