package org.jvdo.nbd.cli;

import java.util.Locale;
import org.jvdo.core.Pool;
import org.jvdo.nbd.LogSetup;
import org.jvdo.nbd.Sizes;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The value types of jvdo's options, one converter each, so a rule (what a port or a size may
 * be) is written once and holds in every subcommand that has the option. A bad value is a
 * {@link TypeConversionException}: picocli reports it as a usage error naming the option.
 */
final class Converters {
    private Converters() { }

    /** A TCP port, 0..65535; 0 asks for a free one where a server listens (a client refuses 0 itself). */
    static final class Port implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String v) {
            int n;
            try {
                n = Integer.parseInt(v.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + v + "' is not a number (a port is 0..65535)");
            }
            if (n < 0 || n > 65535) throw new TypeConversionException("a port is 0..65535, not " + v);
            return n;
        }
    }

    /** ADDR:PORT ({@code [v6]:PORT} for IPv6), port 1..65535: a cluster member's address. */
    static final class HostPort implements ITypeConverter<String> {
        @Override
        public String convert(String v) {
            String t = v.trim();
            int colon = t.lastIndexOf(':');
            if (colon <= 0 || colon == t.length() - 1) throw new TypeConversionException("'" + v + "' is not ADDR:PORT (e.g. 127.0.0.1:5701)");
            String host = t.substring(0, colon);
            if (host.contains(":") && !(host.startsWith("[") && host.endsWith("]"))) {
                throw new TypeConversionException("'" + v + "': an IPv6 address goes in brackets, as [::1]:5701");
            }
            int port;
            try {
                port = Integer.parseInt(t.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + v + "': '" + t.substring(colon + 1) + "' is not a port");
            }
            if (port < 1 || port > 65535) throw new TypeConversionException("'" + v + "': a member's port is 1..65535");
            return host + ":" + port;
        }
    }

    /** A cluster name: 1..64 of letters, digits, '.', '_' and '-'. */
    static final class ClusterName implements ITypeConverter<String> {
        @Override
        public String convert(String v) {
            if (!v.matches("[A-Za-z0-9._-]{1,64}")) {
                throw new TypeConversionException("'" + v + "' is not a cluster name (1..64 letters, digits, '.', '_', '-')");
            }
            return v;
        }
    }

    /** A size with K, M, G, T, P suffixes (binary), rounded up to whole 4 KiB blocks. */
    static final class Size implements ITypeConverter<Long> {
        @Override
        public Long convert(String v) {
            try {
                return roundUp(Sizes.parse(v));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** A region of the pool (slab, journal): 64K..8T. */
    static final class RegionSize implements ITypeConverter<Long> {
        @Override
        public Long convert(String v) {
            long b = new Size().convert(v);
            if (b < 16 * 4096L || b / 4096 > Integer.MAX_VALUE) throw new TypeConversionException("must be 64K..8T, not " + v);
            return b;
        }
    }

    /** Memory for request payloads: at least 1M. */
    static final class Budget implements ITypeConverter<Long> {
        @Override
        public Long convert(String v) {
            long b;
            try {
                b = Sizes.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
            if (b < 1 << 20) throw new TypeConversionException("must be at least 1M, not " + v);
            return b;
        }
    }

    /** A count of at least 1. */
    static final class Positive implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String v) {
            int n;
            try {
                n = Integer.parseInt(v.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + v + "' is not a number");
            }
            if (n < 1) throw new TypeConversionException("must be at least 1, not " + v);
            return n;
        }
    }

    /** Seconds (decimals allowed, 0 = never) as milliseconds. */
    static final class Seconds implements ITypeConverter<Long> {
        @Override
        public Long convert(String v) {
            double s;
            try {
                s = Double.parseDouble(v.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + v + "' is not a number of seconds");
            }
            if (!(s >= 0) || s > 86_400 * 365) throw new TypeConversionException("must be a number of seconds >= 0, not " + v);
            return Math.round(s * 1000);
        }
    }

    /** A volume (export) name as the pool accepts it. */
    static final class VolumeName implements ITypeConverter<String> {
        @Override
        public String convert(String v) {
            if (!Pool.isValidVolumeName(v)) throw new TypeConversionException("bad volume name '" + v + "'");
            return v;
        }
    }

    /** A compression engine name. */
    static final class Engine implements ITypeConverter<String> {
        @Override
        public String convert(String v) {
            if (!v.equals("lz4") && !v.equals("none") && !v.equals("qat")) {
                throw new TypeConversionException("must be lz4, none or qat, not " + v);
            }
            return v;
        }
    }

    /** --tls off|on|require (any case). */
    static final class TlsMode implements ITypeConverter<String> {
        @Override
        public String convert(String v) {
            try {
                return org.jvdo.nbd.TlsSettings.Mode.parse(v).name().toLowerCase(Locale.ROOT);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("must be off, on or require, not '" + v + "'");
            }
        }
    }

    /** --log-level error|warn|info|debug|trace. */
    static final class LogLevel implements ITypeConverter<java.util.logging.Level> {
        @Override
        public java.util.logging.Level convert(String v) {
            try {
                return LogSetup.level(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    static long roundUp(long bytes) {
        return (bytes + 4095) / 4096 * 4096;
    }

    /** The dedup index mode: dense or sparse. */
    static final class IndexMode implements ITypeConverter<String> {
        @Override
        public String convert(String v) {
            if (v.equals("dense") || v.equals("sparse")) return v;
            throw new TypeConversionException("must be dense or sparse, not " + v);
        }
    }
}
