package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing tool must fail a CI run and only skip a local one. */
class ToolsTest {
    @Test
    void missingToolFailsUnderCiAndSkipsOtherwise() {
        assertNull(Tools.find("no-such-tool-jvdo"));
        assertNotNull(Tools.find("sh"));
        assertThrows(AssertionFailedError.class, () -> Tools.requireThat(false, "missing", true));
        assertThrows(TestAbortedException.class, () -> Tools.requireThat(false, "missing", false));
        Tools.requireThat(true, "present", true);
    }
}
