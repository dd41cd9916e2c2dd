package org.jvdo.nbd;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link ServerLifecycleTest} against volumes of real pools (see {@link EngineDevices}). */
@ExtendWith(EngineDevices.class)
class EngineServerLifecycleTest extends ServerLifecycleTest {
}
