package org.jvdo.nbd.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jvdo.nbd.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code jvdo cluster status}: the cluster a running {@code serve --cluster} is a member of, through its admin API. */
@Command(name = "cluster", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
        synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", commandListHeading = "%ncommands:%n",
        subcommands = {ClusterCommand.Status.class},
        description = {"Shows the cluster of a running `jvdo serve --cluster NAME` through its admin API (docs/cluster.md)."})
final class ClusterCommand implements Callable<Integer> {
    @ParentCommand
    Cli.Jvdo top;

    @Override
    public Integer call() {
        throw new UsageError("cluster needs a subcommand: status (see jvdo cluster --help)");
    }

    @Command(name = "status", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
            synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", sortOptions = false,
            description = "Members (address, partitions owned, index entries and memory), the shared index, and the pools with their owners and exports.")
    static final class Status implements Callable<Integer> {
        @ParentCommand
        ClusterCommand cluster;

        @Option(names = "--json", description = "the API's JSON as is")
        boolean json;

        @Mixin
        AdminTarget target;

        @Override
        public Integer call() {
            JsonObject c = target.client().call("GET", "/api/v1/cluster", null);
            PrintStream out = cluster.top.out;
            if (json) {
                out.println(c.encodePrettily());
                return 0;
            }
            print(out, c);
            return 0;
        }

        static void print(PrintStream out, JsonObject c) {
            JsonArray members = c.getJsonArray("members", new JsonArray());
            out.println("cluster " + c.getString("name") + ": " + members.size() + " member" + (members.size() == 1 ? "" : "s"));
            out.printf(Locale.ROOT, "%-24s %-36s %10s %14s %12s%n", "MEMBER", "UUID", "PARTITIONS", "INDEX ENTRIES", "INDEX MEMORY");
            for (int i = 0; i < members.size(); i++) {
                JsonObject m = members.getJsonObject(i);
                out.printf(Locale.ROOT, "%-24s %-36s %10d %14d %12s%n", m.getString("address") + (m.getBoolean("local", false) ? " *" : ""),
                        m.getString("uuid"), m.getLong("partitions", 0L), m.getLong("index_entries", 0L),
                        Sizes.human(m.getLong("index_memory_bytes", 0L)));
            }
            JsonObject index = c.getJsonObject("index", new JsonObject());
            out.println("index: " + index.stream().map(e -> e.getKey() + " " + e.getValue()).reduce((a, b) -> a + ", " + b).orElse("-"));
            JsonArray pools = c.getJsonArray("pools", new JsonArray());
            out.printf(Locale.ROOT, "%-36s %-24s %6s %s%n", "POOL", "OWNER", "EPOCH", "EXPORTS");
            for (int i = 0; i < pools.size(); i++) {
                JsonObject p = pools.getJsonObject(i);
                JsonArray ex = p.getJsonArray("exports", new JsonArray());
                StringBuilder e = new StringBuilder();
                for (int j = 0; j < ex.size(); j++) e.append(j == 0 ? "" : " ").append(ex.getValue(j));
                out.printf(Locale.ROOT, "%-36s %-24s %6d %s%n", p.getString("uuid"), p.getString("owner_address", p.getString("owner", "-")),
                        p.getLong("epoch", 0L), e);
            }
        }
    }
}
