package org.jvdo.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Identical blocks in flight at once share one agent's work (dm-vdo's hash lock): the first
 * writer of a fingerprint is the agent that deduplicates or stores the block; later writers with
 * the same fingerprint wait here and, after a byte comparison, share what the agent stored.
 */
final class HashLock {
    final DataVio agent;
    final List<DataVio> waiters = new ArrayList<>(2);

    HashLock(DataVio agent) { this.agent = agent; }
}
