package org.jvdo.nbd;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link ProtocolTest} against volumes of real pools (see {@link EngineDevices}). */
@ExtendWith(EngineDevices.class)
class EngineProtocolTest extends ProtocolTest {
}
