package org.jvdo.qat;

import org.jvdo.core.api.PoolConfig;
import org.jvdo.core.compress.CompressionEngine;
import org.jvdo.core.compress.CompressionEngineProvider;

/**
 * Makes "qat" selectable in vdo-core (registered in META-INF/services). Available when the
 * QATzip library loads and a session opens with the configured algorithm: the check opens and
 * closes one, so "no device" shows as e.g. {@code QZ_NOSW_NO_HW (-101: ...)}.
 */
public final class QatEngineProvider implements CompressionEngineProvider {
    @Override
    public String name() { return "qat"; }

    @Override
    public Availability availability(PoolConfig config) {
        QatOptions opt;
        try {
            opt = QatOptions.from(config);
        } catch (IllegalArgumentException e) {
            return Availability.no("bad qat settings: " + e.getMessage());
        }
        QatLibrary.Loaded l = QatLibrary.load(opt.library());
        if (!l.ok()) return Availability.no(l.error());
        try {
            QatSession.open(l.lib(), opt).close();
            return Availability.yes();
        } catch (QatException e) {
            return Availability.no(e.status() == QzStatus.UNKNOWN ? e.getMessage() : e.status().name() + " (" + e.getMessage() + ")");
        } catch (RuntimeException | LinkageError e) {
            return Availability.no(opt.library() + " is not a usable QATzip: " + e);
        }
    }

    @Override
    public CompressionEngine create(PoolConfig config) {
        QatOptions opt = QatOptions.from(config);
        QatLibrary.Loaded l = QatLibrary.load(opt.library());
        if (!l.ok()) throw new IllegalStateException(l.error());
        return new QatEngine(l.lib(), opt);
    }
}
