package org.jvdo.core.volumes;

import org.jvdo.core.api.Errno;
import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.compress.CompressionEngine;
import org.jvdo.core.compress.CompressionEngineProvider;
import org.jvdo.core.compress.FallbackEngine;
import org.jvdo.core.compress.Lz4Engine;
import org.jvdo.core.compress.NoCompressionEngine;
import org.jvdo.format.Codes;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The compression engines of a pool: lz4 and none always, pluggable ones (qat) found through
 * {@link CompressionEngineProvider}s on the class path when available, and the fallback policy
 * for a volume configured for an engine that is unavailable now (lz4, counted; or refused with
 * {@link PoolConfig#strictEngines}). Engine codes are those recorded in the super block.
 */
public final class EngineRegistry implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");
    public static final int ENGINE_LZ4 = Codes.ENGINE_LZ4;
    public static final int ENGINE_QAT = Codes.ENGINE_QAT;
    public static final int ENGINE_NONE = Codes.ENGINE_NONE;
    private static final String NO_PROVIDER = "no provider for it on the class path (qat-bridge missing)";

    private final PoolConfig cfg;
    private final Map<String, CompressionEngine> engines = new LinkedHashMap<>();
    /** Pluggable engines found but unusable now, with the reason; volumes configured for them fall back to lz4. */
    private final Map<String, String> unavailable = new LinkedHashMap<>();
    private final Map<String, FallbackEngine> fallbacks = new LinkedHashMap<>();

    public EngineRegistry(PoolConfig cfg) {
        this.cfg = cfg;
        engines.put("lz4", new Lz4Engine(cfg.compressionThreads, Math.max(1024, cfg.vioPoolSize * 2)));
        engines.put("none", new NoCompressionEngine());
        try {
            loadProviders();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Finds {@link CompressionEngineProvider}s on the class path; each available one (and not in
     * {@link PoolConfig#disabledEngines}) becomes an engine, the others are recorded with why.
     */
    private void loadProviders() {
        Iterator<CompressionEngineProvider> it = ServiceLoader.load(CompressionEngineProvider.class).iterator();
        while (true) {
            CompressionEngineProvider p;
            try {
                if (!it.hasNext()) break;
                p = it.next();
            } catch (ServiceConfigurationError e) {
                LOG.log(Level.WARNING, "compression engine provider failed to load", e);
                continue;
            }
            String name = p.name();
            if (!"qat".equals(name)) {
                LOG.warning("ignoring compression engine provider '" + name + "': only 'qat' has a super-block engine code");
                continue;
            }
            if (engines.containsKey(name) || unavailable.containsKey(name)) continue;
            String reason;
            if (cfg.disabledEngines.contains(name)) {
                reason = "disabled by configuration";
            } else {
                try {
                    CompressionEngineProvider.Availability a = p.availability(cfg);
                    if (a.available()) {
                        engines.put(name, p.create(cfg));
                        continue;
                    }
                    reason = a.reason();
                } catch (RuntimeException | LinkageError e) {
                    reason = e.toString();
                }
            }
            unavailable.put(name, reason);
            LOG.fine("compression engine " + name + " unavailable: " + reason);
        }
    }

    private static String name(int code) {
        return switch (code) {
            case ENGINE_NONE -> "none";
            case ENGINE_QAT -> "qat";
            default -> "lz4";
        };
    }

    /** The super-block code of an engine name; EINVAL for an unknown name. */
    public static int code(String name) {
        return switch (name) {
            case "lz4" -> ENGINE_LZ4;
            case "none" -> ENGINE_NONE;
            case "qat" -> ENGINE_QAT;
            default -> throw new VdoException(Errno.EINVAL, "unknown compression engine '" + name + "' (lz4, none, qat)");
        };
    }

    /** The engine for a volume's recorded engine code, applying the fallback policy when it is unavailable. */
    public CompressionEngine forCode(int code, String volumeName) {
        String name = name(code);
        CompressionEngine e = engines.get(name);
        if (e != null) return e;
        String reason = unavailable.getOrDefault(name, NO_PROVIDER);
        if (cfg.strictEngines) {
            throw new VdoException(Errno.ENOTSUP, "volume " + volumeName + " is configured for compression engine " + name
                    + ", which is unavailable: " + reason + " (strict engine policy; without it the volume would use lz4)");
        }
        LOG.warning("volume " + volumeName + ": compression engine " + name + " unavailable (" + reason + "), using lz4");
        return fallbacks.computeIfAbsent(name, n -> new FallbackEngine(n, reason, engines.get("lz4")));
    }

    /** Refuses an engine that cannot be used now (for new volumes and engine changes). */
    public void requireAvailable(String name) {
        if (engines.containsKey(name)) return;
        String reason = unavailable.getOrDefault(name, NO_PROVIDER);
        throw new VdoException(Errno.ENOTSUP, "compression engine " + name + " is unavailable: " + reason);
    }

    /** Names of the engines usable now. */
    public List<String> names() { return new ArrayList<>(engines.keySet()); }

    /** Engines found on the class path but unusable now, each with the reason. */
    public Map<String, String> unavailable() { return new LinkedHashMap<>(unavailable); }

    /** Per-engine counters as {@code engine_<name>_<key>}: requests, bytes_in, bytes_out, fallbacks, errors. */
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (CompressionEngine e : engines.values()) {
            for (Map.Entry<String, Long> s : e.stats().entrySet()) m.put("engine_" + e.name() + "_" + s.getKey(), s.getValue());
        }
        for (FallbackEngine f : fallbacks.values()) {
            for (Map.Entry<String, Long> s : f.stats().entrySet()) m.put("engine_" + f.configured() + "_" + s.getKey(), s.getValue());
        }
        return m;
    }

    @Override
    public void close() {
        for (CompressionEngine e : engines.values()) e.close();
    }
}
