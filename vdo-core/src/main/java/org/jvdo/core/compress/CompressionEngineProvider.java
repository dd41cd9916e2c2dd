package org.jvdo.core.compress;

import org.jvdo.core.api.PoolConfig;

/**
 * A compression engine found with {@link java.util.ServiceLoader} when a pool opens (besides the
 * built-in {@code lz4} and {@code none}): a jar on the class path with a
 * {@code META-INF/services/org.jvdo.core.compress.CompressionEngineProvider} entry makes its
 * engine selectable per volume. The only name with a super-block engine code besides the
 * built-ins is {@code qat}; providers of other names are ignored.
 */
public interface CompressionEngineProvider {
    /** The engine's name in configuration and statistics, e.g. "qat". */
    String name();

    /** Whether {@link #create} can work here now, and if not, why (e.g. "libqatzip.so.3 not found"). */
    Availability availability(PoolConfig config);

    /** Creates the engine for one pool; called only after {@link #availability} said yes. */
    CompressionEngine create(PoolConfig config);

    /** The answer of {@link #availability}: usable, or not with a reason for the log and the error message. */
    record Availability(boolean available, String reason) {
        public static Availability yes() { return new Availability(true, "available"); }

        public static Availability no(String reason) { return new Availability(false, reason); }
    }
}
