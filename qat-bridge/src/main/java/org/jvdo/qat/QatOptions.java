package org.jvdo.qat;

import org.jvdo.core.api.PoolConfig;

import java.util.Locale;

/**
 * Settings of the QAT engine, from {@link PoolConfig#engineOptions} ("qat.*") or else system
 * properties ("jvdo.qat.*"):
 * <ul>
 * <li>{@code library}: the QATzip library, a file path or a soname (default {@code libqatzip.so.3})</li>
 * <li>{@code algorithm}: {@code lz4} (LZ4 frames, encoding 1; QAT 2.0+) or {@code deflate} (raw
 *     deflate, encoding 2; every QAT generation); default lz4</li>
 * <li>{@code level}: compression level 1..9 (default 1)</li>
 * <li>{@code sessions}: sessions = worker threads (default 2, like zram's per-CPU streams)</li>
 * <li>{@code queue}: request queue capacity (default max(1024, 2 x the pool's vio pool))</li>
 * <li>{@code swBackup}: QATzip's {@code sw_backup} bits (default 0: hardware only; jvdo's own
 *     fallback is lz4-java, which is faster than QATzip's software deflate)</li>
 * </ul>
 */
public record QatOptions(String library, String algorithm, int level, int sessions, int queueCapacity, int swBackup) {
    public static final String DEFAULT_LIBRARY = "libqatzip.so.3";

    public QatOptions {
        if (!algorithm.equals("lz4") && !algorithm.equals("deflate")) {
            throw new IllegalArgumentException("qat.algorithm must be lz4 or deflate, not " + algorithm);
        }
        if (level < 1 || level > 9) throw new IllegalArgumentException("qat.level must be 1..9, not " + level);
        if (sessions < 1 || sessions > 64) throw new IllegalArgumentException("qat.sessions must be 1..64, not " + sessions);
        if (queueCapacity < 1) throw new IllegalArgumentException("qat.queue must be positive, not " + queueCapacity);
        if (swBackup < 0 || swBackup > 3) throw new IllegalArgumentException("qat.swBackup must be 0..3, not " + swBackup);
    }

    public static QatOptions from(PoolConfig cfg) {
        return new QatOptions(
                get(cfg, "library", DEFAULT_LIBRARY),
                get(cfg, "algorithm", "lz4").toLowerCase(Locale.ROOT),
                Integer.parseInt(get(cfg, "level", "1")),
                Integer.parseInt(get(cfg, "sessions", "2")),
                Integer.parseInt(get(cfg, "queue", Integer.toString(Math.max(1024, cfg.vioPoolSize * 2)))),
                Integer.parseInt(get(cfg, "swBackup", "0")));
    }

    private static String get(PoolConfig cfg, String key, String dflt) {
        String v = cfg.engineOptions.get("qat." + key);
        if (v == null) v = System.getProperty("jvdo.qat." + key);
        return v == null ? dflt : v.trim();
    }

    /** The fragment encoding this algorithm produces (packed-block header byte). */
    public int encoding() {
        return algorithm.equals("lz4") ? org.jvdo.core.compress.FragmentCodec.LZ4_FRAME : org.jvdo.core.compress.FragmentCodec.DEFLATE;
    }
}
