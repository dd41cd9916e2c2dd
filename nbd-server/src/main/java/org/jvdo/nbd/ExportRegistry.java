package org.jvdo.nbd;

import java.util.List;
import java.util.Optional;
import org.jvdo.core.api.BlockDevice;

/**
 * The set of volumes an {@link NbdServer} offers, looked up on every handshake.
 *
 * <p>It exists so that volumes can be created, opened and removed while the server runs: the
 * server never caches the set, it asks the registry each time a client lists exports or picks
 * one. A connection that already picked a device keeps using it until it disconnects.
 * Implementations must be thread-safe; {@link SimpleExportRegistry} is a ready-made one.
 */
public interface ExportRegistry {

    /** The device exported under {@code name} (a non-empty export name), if any. */
    Optional<BlockDevice> find(String name);

    /** Every device currently exported, in the order clients should see them. */
    List<BlockDevice> list();

    /**
     * The export name a client gets when it asks for the empty name {@code ""} (what most
     * clients send when no name is given), or empty when there is no default export.
     */
    Optional<String> defaultExportName();

    /** Resolves a client-supplied export name, mapping {@code ""} to the default export. */
    default Optional<BlockDevice> resolve(String name) {
        if (name.isEmpty()) {
            return defaultExportName().flatMap(this::find);
        }
        return find(name);
    }

    /** A human-readable description sent in NBD_INFO_DESCRIPTION. */
    default String description(BlockDevice device) {
        return "jvdo volume " + device.name();
    }
}
