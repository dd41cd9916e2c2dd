package org.jvdo.core.write;

import org.jvdo.journal.JournalEntry;

import java.io.IOException;

/** What the mapping-update stage needs of the recovery journal (implemented by the durability layer). */
public interface JournalAppender {
    /** Appends (in memory); the entry's sequence number, or -1 when the ring has no room (see {@link #makeSpace}). */
    long tryAppend(JournalEntry e);

    /** The sequence number of the newest entry appended. */
    long lastAppendedSeq();

    /** The ring was full: checkpoint on the caller's thread so a retry of {@link #tryAppend} finds room. */
    void makeSpace() throws IOException;

    /** Data first, then the journal: every appended entry durable; blocks freed by them released. */
    void commitNow() throws IOException;
}
