package org.jvdo.nbd;

import java.io.InputStream;
import java.util.Properties;

/**
 * The version {@code jvdo --version} prints: the jar manifest's Implementation-Version when the
 * classes run from a jar that has one, else the version Maven wrote into
 * {@code jvdo-version.properties} at build time, else "dev". Each source is read defensively: a
 * manifest without the entry, or a missing resource, only moves on to the next.
 */
public final class Version {
    private Version() { }

    public static String get() {
        try {
            Package p = Version.class.getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            if (v != null && !v.isBlank()) return v.trim();
        } catch (RuntimeException e) {
            // no usable manifest: fall through
        }
        try (InputStream in = Version.class.getResourceAsStream("jvdo-version.properties")) {
            if (in != null) {
                Properties props = new Properties();
                props.load(in);
                String v = props.getProperty("version");
                if (v != null && !v.isBlank() && !v.contains("${")) return v.trim();
            }
        } catch (Exception e) {
            // unreadable resource: fall through
        }
        return "dev";
    }
}
