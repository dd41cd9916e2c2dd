package org.jvdo.nbd;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link ClientToolsTest} against volumes of real pools (see {@link EngineDevices}). */
@ExtendWith(EngineDevices.class)
class EngineClientToolsTest extends ClientToolsTest {
}
