package org.jvdo.core.api;

/**
 * Guards every write, sync and extension of a pool's file (docs/cluster.md): a cluster member
 * may write a pool only while it holds the pool's lease and the super block's owner epoch is
 * still the one it claimed. The check runs right before each I/O call, so a member that was
 * paused past its lease finds out with its first write after it resumes.
 */
@FunctionalInterface
public interface WriteFence {
    /** Returns when this process may still write the pool; throws when it may not. */
    void check() throws FencedException;

    /**
     * Called once the open's claim is written and synced ({@link PoolConfig#ownerMember}): the
     * epoch this process now owns the pool at. A fence compares later epochs with it; a
     * takeover's fence may wait here (the former owner's lease running out) before the open
     * writes anything else. Before this call {@link #check()} lets the claim itself through.
     */
    default void claimed(long epoch) throws java.io.IOException { }

    /** No fence (a pool outside a cluster). */
    WriteFence NONE = () -> { };
}
