package org.jvdo.nbd;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jvdo.core.api.BlockDevice;

/**
 * A thread-safe, mutable {@link ExportRegistry} keyed by {@link BlockDevice#name()}.
 *
 * <p>Exists for the common case of a process that opens volumes itself and wants to add or
 * remove them at run time. The default export (for the empty name) is the one set with
 * {@link #setDefaultExport(String)}, or else the first device added that is still present.
 */
public final class SimpleExportRegistry implements ExportRegistry {
    private final Map<String, BlockDevice> devices = new LinkedHashMap<>();
    private String defaultName;

    public SimpleExportRegistry() { }

    /** A registry holding {@code initial}, in order. */
    public SimpleExportRegistry(List<? extends BlockDevice> initial) {
        initial.forEach(this::add);
    }

    /** Adds or replaces the export named {@code device.name()}. */
    public synchronized SimpleExportRegistry add(BlockDevice device) {
        if (device.name() == null || device.name().isEmpty()) {
            throw new IllegalArgumentException("an export needs a non-empty name");
        }
        devices.put(device.name(), device);
        return this;
    }

    /** Removes an export; connections already using it keep it until they disconnect. */
    public synchronized Optional<BlockDevice> remove(String name) {
        return Optional.ofNullable(devices.remove(name));
    }

    /** Makes {@code name} the export for the empty name; {@code null} restores the default rule. */
    public synchronized void setDefaultExport(String name) {
        this.defaultName = name;
    }

    @Override
    public synchronized Optional<BlockDevice> find(String name) {
        return Optional.ofNullable(devices.get(name));
    }

    @Override
    public synchronized List<BlockDevice> list() {
        return List.copyOf(new ArrayList<>(devices.values()));
    }

    @Override
    public synchronized Optional<String> defaultExportName() {
        if (defaultName != null) {
            return Optional.of(defaultName);
        }
        return devices.keySet().stream().findFirst();
    }
}
