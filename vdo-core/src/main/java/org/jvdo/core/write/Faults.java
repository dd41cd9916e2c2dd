package org.jvdo.core.write;

import org.jvdo.core.api.VdoException;

import java.io.IOException;

/** The pool's failure states as the write path sees them (implemented by the durability layer's read-only mode). */
public interface Faults {
    /** Refuses new writes when read-only, shutting down or out of host filesystem space. */
    void checkWritable();

    /** As {@link #checkWritable} but taken in the no-space state (trim and write-zeroes store no data). */
    void checkWritableIgnoringSpace();

    /** True when writes may be acknowledged before they are stored. */
    boolean earlyAckAllowed();

    /** A storage failure of metadata or data: read-only mode (or the no-space state); the error for the caller. */
    VdoException storageError(String op, IOException e);

    /** A data write met a full filesystem; the ENOSPC error for the caller. */
    VdoException dataNoSpace(String op, IOException e);

    /** An acknowledged write could not be stored for want of space: the next flush reports it. */
    void lostWrite(String what, Throwable cause);

    /** Stops the pool taking writes, recording why. */
    void enterReadOnly(String reason, Throwable cause);
}
