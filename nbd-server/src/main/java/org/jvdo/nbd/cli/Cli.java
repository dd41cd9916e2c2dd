package org.jvdo.nbd.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import org.jvdo.nbd.Version;
import org.jvdo.nbd.admin.AdminCommands;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/**
 * The {@code jvdo} command line: one picocli tree for every subcommand, so every option is
 * declared once, with its converter ({@link Converters}), and every subcommand has its own
 * {@code --help} and {@code --version}.
 *
 * <p>Errors, all one line on stderr starting with {@code jvdo: }: a usage error (picocli's, or a
 * {@link UsageError}) ends with a hint naming the subcommand's {@code --help} and exits 2 (8 for
 * {@code check}, as fsck); a {@link Failure} or an admin API failure exits 1.
 */
public final class Cli {
    private Cli() { }

    /** Runs {@code jvdo args...} with these streams; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Jvdo top = new Jvdo(out, err);
        CommandLine cl = new CommandLine(top);
        PrintWriter o = new PrintWriter(out, true);
        PrintWriter e = new PrintWriter(err, true);
        cl.setOut(o).setErr(e);
        cl.setExpandAtFiles(false); // `jvdo check @pool` names a folder, not a file of arguments
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            if (ex instanceof CommandLine.UnmatchedArgumentException u && !c.getSubcommands().isEmpty()
                    && !u.getUnmatched().isEmpty() && !u.getUnmatched().get(0).startsWith("-")) {
                e.println("jvdo: unknown command '" + u.getUnmatched().get(0) + "' (see " + c.getCommandSpec().qualifiedName(" ") + " --help)");
                return usageExit(c);
            }
            e.println("jvdo: " + oneLine(ex.getMessage()) + " (see " + c.getCommandSpec().qualifiedName(" ") + " --help)");
            return usageExit(c);
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof UsageError) {
                e.println("jvdo: " + oneLine(ex.getMessage()));
                return usageExit(c);
            }
            if (ex instanceof Failure || ex instanceof AdminCommands.Failure) {
                e.println("jvdo: " + oneLine(ex.getMessage()));
                return 1;
            }
            e.println("jvdo: " + ex);
            return 1;
        });
        try {
            return cl.execute(args);
        } finally {
            o.flush();
            e.flush();
        }
    }

    private static int usageExit(CommandLine c) {
        return c.getCommandSpec().userObject() instanceof CheckCommand ? 8 : 2;
    }

    private static String oneLine(String s) {
        return String.valueOf(s).replace('\n', ' ').replace('\r', ' ').strip();
    }

    /** What {@code --version} prints in every subcommand. */
    static final class VersionText implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"jvdo " + Version.get()};
        }
    }

    /** The top command; its streams are the ones every subcommand writes to. */
    @Command(name = "jvdo", mixinStandardHelpOptions = true, versionProvider = VersionText.class,
            synopsisHeading = "usage: ", usageHelpWidth = 100, descriptionHeading = "%n", optionListHeading = "%noptions:%n", commandListHeading = "%ncommands:%n",
            subcommands = {ServeCommand.class, StatsCommand.class, VolumeCommand.class, CheckCommand.class, ClusterCommand.class,
                    CommandLine.HelpCommand.class},
            description = "A VDO-style deduplicating, compressing block device served over NBD. `jvdo serve` formats a pool on first start and serves its volumes as NBD exports; the other commands talk to a running server (stats, volume) or check a stopped pool (check). Every command has its own --help.")
    static final class Jvdo implements java.util.concurrent.Callable<Integer> {
        final PrintStream out;
        final PrintStream err;

        @picocli.CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        Jvdo(PrintStream out, PrintStream err) {
            this.out = out;
            this.err = err;
        }

        /** {@code jvdo} alone: the usage, exit 2 (a command is missing). */
        @Override
        public Integer call() {
            spec.commandLine().usage(spec.commandLine().getOut());
            return 2;
        }
    }
}
