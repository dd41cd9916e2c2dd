package org.jvdo.nbd;

import java.util.Locale;

/** Sizes as people write them: {@code 4096}, {@code 512M}, {@code 64G}, {@code 1T} (binary units). */
public final class Sizes {
    private Sizes() { }

    public static long parse(String s) {
        if (s == null || s.isBlank()) throw new IllegalArgumentException("empty size");
        String t = s.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) t = t.substring(0, t.length() - 2);
        else if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) t = t.substring(0, t.length() - 1);
        long mult = 1;
        char last = t.charAt(t.length() - 1);
        switch (last) {
            case 'K' -> mult = 1L << 10;
            case 'M' -> mult = 1L << 20;
            case 'G' -> mult = 1L << 30;
            case 'T' -> mult = 1L << 40;
            case 'P' -> mult = 1L << 50;
            default -> { }
        }
        if (mult != 1) t = t.substring(0, t.length() - 1);
        long n;
        try {
            n = Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not a size (examples: 4096, 512M, 64G, 1T)");
        }
        if (n <= 0) throw new IllegalArgumentException("size must be positive: " + s);
        if (n > Long.MAX_VALUE / mult) throw new IllegalArgumentException("size too large: " + s);
        return n * mult;
    }

    public static String human(long bytes) {
        String[] u = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        int i = 0;
        double v = bytes;
        while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
        return (v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v)) + " " + u[i];
    }
}
