package org.jvdo.nbd.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.jvdo.core.physical.SuperBlock;
import org.jvdo.nbd.admin.AdminCommands;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jvdo stats}, as vdostats: a row for the pool and one per volume (or only the volume
 * named), {@code --human-readable} sizes (powers of 1024, of 1000 with {@code --si}),
 * {@code --verbose} with vdostats' verbose names where jvdo has the statistic, then the rest.
 */
@Command(name = "stats", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
        synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", abbreviateSynopsis = true, sortOptions = false,
        description = {"Prints the pool's and each volume's statistics like vdostats.", "Read from the admin API of a running `jvdo serve`: the pool's physical space, then each volume's logical space; with VOLUME only that volume."})
final class StatsCommand implements Callable<Integer> {
    @ParentCommand
    Cli.Jvdo top;

    @Parameters(arity = "0..1", paramLabel = "VOLUME", description = "only this volume")
    String volume;

    @Option(names = "--human-readable", description = "sizes as 16.0G instead of 1K-blocks (powers of 1024)")
    boolean human;

    @Option(names = "--si", description = "with --human-readable: powers of 1000 (as vdostats --si)")
    boolean si;

    @Option(names = {"-v", "--verbose"}, description = "every statistic, one per line, with vdostats' names")
    boolean verbose;

    @Option(names = "--json", description = "the API's JSON as is")
    boolean json;

    @Mixin
    AdminTarget target;

    /** One row of the table: sizes in bytes. */
    record Row(String device, long total, long used, String saving) { }

    @Override
    public Integer call() {
        AdminCommands.Client c = target.client();
        PrintStream out = top.out;
        if (volume != null) {
            JsonObject s = c.call("GET", "/api/v1/volumes/" + AdminCommands.enc(volume) + "/stats", null);
            if (json) out.println(s.encodePrettily());
            else if (verbose) printVerbose(out, volume, volumeNames(s), s);
            else printTable(out, List.of(volumeRow(volume, s)), human, si);
            return 0;
        }
        JsonObject s = c.call("GET", "/api/v1/stats", null);
        if (json) {
            out.println(s.encodePrettily());
            return 0;
        }
        String device = target.data.toAbsolutePath().normalize().toString(); // `--data .` names the folder, not "."
        JsonArray vs = c.call("GET", "/api/v1/volumes", null).getJsonArray("volumes");
        if (verbose) {
            printVerbose(out, device, poolNames(s), s);
            for (int i = 0; i < vs.size(); i++) {
                String name = vs.getJsonObject(i).getString("name");
                JsonObject v = c.call("GET", "/api/v1/volumes/" + AdminCommands.enc(name) + "/stats", null);
                printVerbose(out, name, volumeNames(v), v);
            }
            return 0;
        }
        List<Row> rows = new ArrayList<>();
        rows.add(poolRow(device, s));
        for (int i = 0; i < vs.size(); i++) {
            JsonObject v = vs.getJsonObject(i);
            rows.add(new Row(v.getString("name"), v.getLong("logical_size", 0L), v.getLong("logical_blocks_used", 0L) * 4096, "N/A"));
        }
        printTable(out, rows, human, si);
        return 0;
    }

    static Row poolRow(String device, JsonObject s) {
        long logicalUsed = s.getLong("logical_blocks_used", 0L);
        return new Row(device, s.getLong("physical_blocks", 0L) * 4096,
                (s.getLong("data_blocks_used", 0L) + s.getLong("overhead_blocks_used", 0L)) * 4096,
                logicalUsed == 0 ? "N/A" : s.getLong("saving_percent", 0L) + "%");
    }

    /** A volume shares the pool's physical space; its own figures are logical. */
    static Row volumeRow(String name, JsonObject s) {
        return new Row(name, s.getLong("logical_blocks", 0L) * 4096, s.getLong("logical_blocks_used", 0L) * 4096, "N/A");
    }

    static void printTable(PrintStream out, List<Row> rows, boolean human, boolean si) {
        int w = 20;
        for (Row r : rows) w = Math.max(w, r.device().length() + 1);
        String fmt = "%-" + w + "s %10s %10s %10s %4s %13s%n";
        out.printf(Locale.ROOT, fmt, "Device", human ? "Size" : "1K-blocks", "Used", "Available", "Use%", "Space saving%");
        for (Row r : rows) {
            long avail = Math.max(0, r.total() - r.used());
            String use = r.total() == 0 ? "N/A" : ((r.used() * 100 + r.total() - 1) / r.total()) + "%";
            out.printf(Locale.ROOT, fmt, r.device(), size(r.total(), human, si), size(r.used(), human, si),
                    size(avail, human, si), use, r.saving());
        }
    }

    /** 1K-blocks, or with {@code human} vdostats' form: one decimal and a unit (B, K, M, G, T, P, E). */
    static String size(long bytes, boolean human, boolean si) {
        if (!human) return String.valueOf(bytes / 1024);
        double base = si ? 1000 : 1024;
        String units = "BKMGTPE";
        double v = bytes;
        int i = 0;
        while (v >= base && i < units.length() - 1) {
            v /= base;
            i++;
        }
        return String.format(Locale.ROOT, "%.1f%c", v, units.charAt(i));
    }

    /** The pool's statistics under vdostats' verbose names, where jvdo has them. */
    static Map<String, Object> poolNames(JsonObject s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", SuperBlock.MAJOR + "." + SuperBlock.MINOR); // the pool format this jvdo serves
        m.put("operating mode", s.getValue("mode"));
        m.put("data blocks used", s.getValue("data_blocks_used"));
        m.put("overhead blocks used", s.getValue("overhead_blocks_used"));
        m.put("logical blocks used", s.getValue("logical_blocks_used"));
        m.put("physical blocks", s.getValue("physical_blocks"));
        m.put("logical blocks", s.getValue("logical_blocks"));
        Row r = poolRow("", s);
        putSpace(m, r);
        m.put("saving percent", r.saving().replace("%", ""));
        m.put("block size", s.getValue("block_size"));
        m.put("write policy", "async"); // writes are acknowledged before they are durable; FLUSH makes them so
        m.put("compressed fragments written", s.getValue("compressed_fragments_written"));
        m.put("compressed blocks written", s.getValue("compressed_blocks_written"));
        m.put("compressed fragments in packer", s.getValue("compressed_fragments_in_packer"));
        m.put("journal disk full count", s.getValue("journal_full_waits"));
        m.put("journal entries committed", s.getValue("journal_entries_committed"));
        m.put("journal blocks written", s.getValue("journal_blocks_written"));
        m.put("current VDO IO requests in progress", s.getValue("vio_pool_in_use"));
        m.put("entries indexed", s.getValue("index_entries"));
        return m;
    }

    /** A volume's statistics under vdostats' names (its bios and dedupe counters already have them). */
    static Map<String, Object> volumeNames(JsonObject s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("operating mode", s.getValue("mode"));
        m.put("logical blocks used", s.getValue("logical_blocks_used"));
        m.put("logical blocks", s.getValue("logical_blocks"));
        putSpace(m, volumeRow("", s));
        return m;
    }

    private static void putSpace(Map<String, Object> m, Row r) {
        m.put("1K-blocks", r.total() / 1024);
        m.put("1K-blocks used", r.used() / 1024);
        m.put("1K-blocks available", Math.max(0, r.total() - r.used()) / 1024);
        m.put("used percent", r.total() == 0 ? "N/A" : String.valueOf((r.used() * 100 + r.total() - 1) / r.total()));
    }

    /** The keys {@link #poolNames} and {@link #volumeNames} already showed under another name. */
    private static final Set<String> RENAMED = Set.of("mode", "journal_full_waits", "vio_pool_in_use", "index_entries");

    /** {@code DEVICE : } then the named statistics, then every other field of the API (underscores as spaces). */
    static void printVerbose(PrintStream out, String device, Map<String, Object> named, JsonObject s) {
        Map<String, Object> all = new LinkedHashMap<>(named);
        all.values().removeIf(v -> v == null);
        Set<String> shown = new HashSet<>(RENAMED);
        for (String k : all.keySet()) shown.add(k.replace(' ', '_'));
        for (Map.Entry<String, Object> e : s) {
            if (!shown.contains(e.getKey())) all.put(e.getKey().replace('_', ' '), e.getValue());
        }
        out.println(device + " : ");
        printObject(out, all, "  ");
    }

    private static void printObject(PrintStream out, Map<String, Object> s, String indent) {
        int w = 0;
        for (String k : s.keySet()) w = Math.max(w, k.length());
        for (Map.Entry<String, Object> e : s.entrySet()) {
            if (e.getValue() instanceof JsonObject sub) {
                out.println(indent + e.getKey() + " : ");
                Map<String, Object> m = new LinkedHashMap<>();
                for (Map.Entry<String, Object> x : sub) m.put(x.getKey().replace('_', ' '), x.getValue());
                printObject(out, m, indent + "  ");
            } else {
                out.printf(Locale.ROOT, "%s%-" + w + "s : %s%n", indent, e.getKey(), e.getValue());
            }
        }
    }
}
