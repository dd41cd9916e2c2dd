package org.jvdo.nbd.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jvdo.nbd.Sizes;
import org.jvdo.nbd.admin.AdminCommands;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.TypeConversionException;

/** {@code jvdo volume create|list|delete|resize}: a running server's volumes, through its admin API. */
@Command(name = "volume", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
        synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", commandListHeading = "%ncommands:%n",
        subcommands = {VolumeCommand.Create.class, VolumeCommand.ListVolumes.class, VolumeCommand.Delete.class, VolumeCommand.Resize.class},
        description = {"Manages the volumes of a running `jvdo serve` through its admin API.", "A new volume is an NBD export at once; delete refuses while a client is connected unless --force (which disconnects it); resize only grows. SIZE takes K, M, G, T suffixes (binary)."})
final class VolumeCommand implements Callable<Integer> {
    @ParentCommand
    Cli.Jvdo top;

    @Override
    public Integer call() {
        throw new UsageError("volume needs a subcommand: create, list, delete or resize (see jvdo volume --help)");
    }

    /** A volume size as the API takes it (bytes; K, M, G, T suffixes). */
    static final class ByteSize implements ITypeConverter<Long> {
        @Override
        public Long convert(String v) {
            try {
                return Sizes.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
            synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", sortOptions = false, description = "Creates a volume, exported at once.")
    static final class Create implements Callable<Integer> {
        @ParentCommand
        VolumeCommand volume;

        @Parameters(index = "0", paramLabel = "NAME", converter = Converters.VolumeName.class)
        String name;

        @Parameters(index = "1", paramLabel = "SIZE", converter = ByteSize.class, description = "logical size (thin)")
        long size;

        @Option(names = "--engine", paramLabel = "NAME", converter = Converters.Engine.class,
                description = "lz4, none or qat (default: serve's --engine)")
        String engine;

        @Mixin
        AdminTarget target;

        @Override
        public Integer call() {
            JsonObject body = new JsonObject().put("name", name).put("logical_size", size);
            if (engine != null) body.put("engine", engine);
            JsonObject v = target.client().call("POST", "/api/v1/volumes", body);
            volume.top.out.println("jvdo: created " + v.getString("name") + " (" + Sizes.human(v.getLong("logical_size")) + ", "
                    + v.getString("engine") + ") at " + v.getString("export"));
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
            synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", description = "Lists the volumes: size, space used, engine, NBD connections, export URI.")
    static final class ListVolumes implements Callable<Integer> {
        @ParentCommand
        VolumeCommand volume;

        @Mixin
        AdminTarget target;

        @Override
        public Integer call() {
            JsonArray vs = target.client().call("GET", "/api/v1/volumes", null).getJsonArray("volumes");
            volume.top.out.printf(Locale.ROOT, "%-20s %12s %12s %-6s %5s %s%n", "NAME", "SIZE", "USED", "ENGINE", "CONNS", "EXPORT");
            for (int i = 0; i < vs.size(); i++) {
                JsonObject v = vs.getJsonObject(i);
                volume.top.out.printf(Locale.ROOT, "%-20s %12s %12s %-6s %5d %s%n", v.getString("name"),
                        Sizes.human(v.getLong("logical_size")), Sizes.human(v.getLong("logical_blocks_used") * 4096),
                        v.getString("engine"), v.getInteger("connections"), v.getString("export"));
            }
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
            synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", sortOptions = false, description = "Deletes a volume and frees its blocks.")
    static final class Delete implements Callable<Integer> {
        @ParentCommand
        VolumeCommand volume;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--force", description = "disconnect its NBD clients instead of refusing")
        boolean force;

        @Mixin
        AdminTarget target;

        @Override
        public Integer call() {
            JsonObject r;
            try {
                r = target.client().call("DELETE", "/api/v1/volumes/" + AdminCommands.enc(name) + (force ? "?force=true" : ""), null);
            } catch (AdminCommands.Failure f) {
                // the API's 409 names its query parameter; on the command line the option is --force
                throw new AdminCommands.Failure(f.getMessage().replace("?force=true", "--force"));
            }
            volume.top.out.println("jvdo: deleted " + r.getString("deleted")
                    + (r.getInteger("connections_closed", 0) > 0 ? " (closed " + r.getInteger("connections_closed") + " connection(s))" : ""));
            return 0;
        }
    }

    @Command(name = "resize", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
            synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", description = "Grows a volume online; new connections see the new size.")
    static final class Resize implements Callable<Integer> {
        @ParentCommand
        VolumeCommand volume;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "SIZE", converter = ByteSize.class, description = "the new logical size")
        long size;

        @Mixin
        AdminTarget target;

        @Override
        public Integer call() {
            JsonObject v = target.client().call("POST", "/api/v1/volumes/" + AdminCommands.enc(name) + "/resize",
                    new JsonObject().put("logical_size", size));
            volume.top.out.println("jvdo: " + v.getString("name") + " is now " + Sizes.human(v.getLong("logical_size")));
            return 0;
        }
    }
}
