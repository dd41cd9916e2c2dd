package org.jvdo.journal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A {@link MemoryJournalStore} that can fail the Nth write (optionally tearing it: only the first K
 * bytes reach the block) or the Nth sync.
 */
class FaultyJournalStore extends MemoryJournalStore {

    private int writesUntilFailure = -1;
    private int tearBytes;
    private int syncsUntilFailure = -1;
    IOException lastInjected;

    FaultyJournalStore(int blockCount) {
        super(blockCount);
    }

    /** The {@code n}-th write from now (1 = next) writes only {@code tearBytes} bytes, then throws. */
    synchronized void failWrite(int n, int tearBytes) {
        this.writesUntilFailure = n;
        this.tearBytes = tearBytes;
    }

    /** The {@code n}-th sync from now fails. */
    synchronized void failSync(int n) {
        this.syncsUntilFailure = n;
    }

    @Override
    public void writeBlock(long index, ByteBuffer src) throws IOException {
        synchronized (this) {
            if (writesUntilFailure > 0 && --writesUntilFailure == 0) {
                byte[] block = raw((int) index);
                for (int i = 0; i < tearBytes; i++) {
                    block[i] = src.get(src.position() + i);
                }
                lastInjected = new IOException("injected write failure at index " + index);
                throw lastInjected;
            }
        }
        super.writeBlock(index, src);
    }

    @Override
    public void sync() throws IOException {
        synchronized (this) {
            if (syncsUntilFailure > 0 && --syncsUntilFailure == 0) {
                lastInjected = new IOException("injected sync failure");
                throw lastInjected;
            }
        }
        super.sync();
    }
}
