package org.jvdo.nbd;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link FilesystemTest} against volumes of real pools (see {@link EngineDevices}). */
@ExtendWith(EngineDevices.class)
class EngineFilesystemTest extends FilesystemTest {
}
