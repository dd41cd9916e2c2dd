package org.jvdo.nbd.cli;

import java.nio.file.Path;
import org.jvdo.nbd.admin.AdminCommands;
import picocli.CommandLine.Option;

/**
 * The options of the commands that call a running server's admin API ({@code stats},
 * {@code volume ...}): which pool folder holds the token, and where the API listens. The
 * address options are serve's, with serve's defaults and the same port rule; only 0 ("pick a
 * free port", which means something to a server only) is refused here.
 */
final class AdminTarget {
    @Option(names = "--data", paramLabel = "DIR", description = "pool folder, where admin.token is (default ./jvdo-data)")
    Path data = Path.of("jvdo-data");

    @Option(names = "--admin-listen", paramLabel = "ADDR", description = "admin API address (default 127.0.0.1)")
    String adminListen = "127.0.0.1";

    @Option(names = "--admin-port", paramLabel = "N", converter = Converters.Port.class,
            description = "admin API port (default 10810)")
    int adminPort = 10810;

    @Option(names = "--admin-tls", description = "the API serves HTTPS (serve --admin-tls): trust DIR/ca-cert.pem of --tls-certificates")
    boolean adminTls;

    @Option(names = "--tls-certificates", paramLabel = "DIR",
            description = "with --admin-tls: where ca-cert.pem is (default: as serve's --tls-certificates)")
    Path tlsCertificates;

    /** A client of the API with the folder's token. */
    AdminCommands.Client client() {
        if (adminPort == 0) {
            throw new UsageError("--admin-port 0 picks a free port for `jvdo serve`; here give the port serve printed"
                    + " (its \"admin API at\" line)");
        }
        return new AdminCommands.Client(data, adminListen, adminPort,
                adminTls ? (tlsCertificates != null ? tlsCertificates : org.jvdo.nbd.TlsSettings.defaultDirectory()) : null);
    }
}
