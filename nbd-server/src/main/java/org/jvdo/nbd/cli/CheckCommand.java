package org.jvdo.nbd.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jvdo.core.PoolCheck;
import org.jvdo.nbd.Main;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code jvdo check DIR}: the offline check. Adding an option is one field and one line in {@link #call}. */
@Command(name = "check", mixinStandardHelpOptions = true, versionProvider = Cli.VersionText.class,
        synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", abbreviateSynopsis = true, sortOptions = false,
        description = {"Checks a pool offline (the server must be stopped): super block, journal, block maps, packed blocks and reference counts.", "--repair rebuilds reference counts and the free list from the block maps (never dropping a mapping) and leaves read-only mode. Exit codes as fsck: 0 clean, 1 repaired, 4 errors left, 8 usage or I/O error."})
final class CheckCommand implements Callable<Integer> {
    @ParentCommand
    Cli.Jvdo top;

    @Parameters(index = "0", paramLabel = "DIR", description = "the pool folder")
    Path dir;

    @Parameters(index = "1..*", arity = "0..*", paramLabel = "MORE", description = "with --cluster: the other pool folders")
    java.util.List<Path> more = new java.util.ArrayList<>();

    @Option(names = "--cluster", description = "check the pools of a cluster together: each alone, then every foreign mapping's reference slot in the pool it names (docs/cluster.md)")
    boolean cluster;

    @Option(names = "--repair", description = "rebuild reference counts and free space from the block maps, leave read-only mode")
    boolean repair;

    @Option(names = "--json", description = "the result as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        // progress on stderr: a bar on a terminal, else a line per 10%
        if (!more.isEmpty() && !cluster) throw new UsageError("more than one pool folder needs --cluster");
        if (cluster && repair) throw new UsageError("--cluster checks only; repair each pool alone");
        java.util.List<Path> all = new java.util.ArrayList<>(java.util.List.of(dir));
        all.addAll(more);
        PoolCheck.Result r = org.jvdo.nbd.ProgressBar.around(top.err, "jvdo check", bar -> cluster
                ? org.jvdo.core.ClusterCheck.run(all, bar) : PoolCheck.run(dir, repair, bar));
        if (json) {
            StringBuilder sb = new StringBuilder("{\"exit_code\":").append(r.exitCode()).append(",\"repaired\":").append(r.repaired()).append(",\"problems\":[");
            for (int i = 0; i < r.problems().size(); i++) {
                PoolCheck.Problem p = r.problems().get(i);
                if (i > 0) sb.append(',');
                sb.append("{\"volume\":").append(p.volume() == null ? "null" : Main.quote(p.volume()))
                        .append(",\"block\":").append(p.block()).append(",\"problem\":").append(Main.quote(p.what())).append('}');
            }
            sb.append("],\"notes\":[");
            for (int i = 0; i < r.notes().size(); i++) sb.append(i > 0 ? "," : "").append(Main.quote(r.notes().get(i)));
            top.out.println(sb.append("]}"));
        } else {
            for (String n : r.notes()) top.out.println("jvdo check: " + n);
            for (PoolCheck.Problem p : r.problems()) top.out.println("jvdo check: " + p);
            top.out.println("jvdo check: " + switch (r.exitCode()) {
                case 0 -> "clean";
                case 1 -> "repaired";
                case 4 -> "errors left" + (repair ? "" : " (run with --repair)");
                default -> "could not check";
            });
        }
        return r.exitCode();
    }
}
