package org.jvdo.nbd.admin;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jvdo.nbd.Sizes;

/**
 * {@code jvdo stats} and {@code jvdo volume}: clients of the admin API of a running
 * {@code jvdo serve}, using the token in the pool folder.
 */
public final class AdminCommands {
    private AdminCommands() { }

    public static final String STATS_USAGE = """
            usage: jvdo stats [--json] [--verbose] [VOLUME] [options]

            Prints the pool's (or one volume's) statistics like vdostats, read from the admin API
            of a running `jvdo serve`.

              --json                the API's JSON as is
              --verbose             every statistic, one per line
            """ + "\n" + common();

    public static final String VOLUME_USAGE = """
            usage: jvdo volume create NAME SIZE [--engine E] [options]
                   jvdo volume list [options]
                   jvdo volume delete NAME [--force] [options]
                   jvdo volume resize NAME SIZE [options]

            Manages the volumes of a running `jvdo serve` through its admin API. A new volume is an
            NBD export at once; delete refuses while a client is connected unless --force (which
            disconnects it); resize only grows.
            """ + "\n" + common();

    private static String common() {
        return """
                options:
                  --data DIR            pool folder, where admin.token is (default ./jvdo-data)
                  --admin-listen ADDR   admin API address (default 127.0.0.1)
                  --admin-port N        admin API port (default 10810)
                  -h, --help            this help

                SIZE takes K, M, G, T suffixes (binary).
                """;
    }

    /** A bad command line: one line on stderr, exit 2. */
    static final class Usage extends Exception {
        Usage(String m) { super(m); }
    }

    /** An error answered by the API or met reaching it: exit 1. */
    public static final class Failure extends Exception {
        Failure(String m) { super(m); }
    }

    private static final class Options {
        Path data = Path.of("jvdo-data");
        String host = "127.0.0.1";
        int port = 10810;
        /** HTTPS (the server's {@code --admin-tls}), trusting {@code tlsCertificates}/ca-cert.pem. */
        boolean tls;
        /** Where ca-cert.pem is; null: {@link org.jvdo.nbd.TlsSettings#defaultDirectory()}. */
        Path tlsCertificates;
        boolean json, verbose, force, help;
        String engine;
        final List<String> positional = new ArrayList<>();
    }

    private static Options parse(String[] args, int from, boolean stats) throws Usage {
        Options o = new Options();
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) { value = a.substring(eq + 1); a = a.substring(0, eq); }
            switch (a) {
                case "-h", "--help" -> o.help = true;
                case "--json", "--verbose", "--force" -> {
                    if (value != null) throw new Usage(a + " takes no value");
                    boolean ok = stats ? !a.equals("--force") : a.equals("--force");
                    if (!ok) throw new Usage("unknown option '" + a + "'");
                    switch (a) {
                        case "--json" -> o.json = true;
                        case "--verbose" -> o.verbose = true;
                        default -> o.force = true;
                    }
                }
                case "--data", "--admin-listen", "--admin-port", "--engine" -> {
                    if (stats && a.equals("--engine")) throw new Usage("unknown option '" + a + "'");
                    if (value == null) {
                        if (i + 1 >= args.length) throw new Usage(a + " needs a value");
                        value = args[++i];
                    }
                    switch (a) {
                        case "--data" -> o.data = Path.of(value);
                        case "--admin-listen" -> o.host = value;
                        case "--admin-port" -> {
                            try {
                                o.port = Integer.parseInt(value);
                            } catch (NumberFormatException e) {
                                throw new Usage("--admin-port: '" + value + "' is not a number");
                            }
                            if (o.port < 1 || o.port > 65535) throw new Usage("--admin-port must be 1..65535, not " + value);
                        }
                        default -> o.engine = value;
                    }
                }
                default -> {
                    if (a.startsWith("-") && a.length() > 1) throw new Usage("unknown option '" + args[i] + "'");
                    o.positional.add(args[i]);
                }
            }
        }
        return o;
    }

    /** A subcommand's body: its exit code, or a usage error or failure to report. */
    private interface Command {
        int run() throws Usage, Failure;
    }

    /** Runs a subcommand: a usage error exits 2, a failure 1, each after a "jvdo: " line on {@code err}. */
    private static int exitCode(PrintStream err, Command command) {
        try {
            return command.run();
        } catch (Usage e) {
            err.println("jvdo: " + e.getMessage());
            return 2;
        } catch (Failure e) {
            err.println("jvdo: " + e.getMessage());
            return 1;
        }
    }

    /** {@code jvdo stats ...}; args[0] is "stats". */
    public static int stats(String[] args, PrintStream out, PrintStream err) {
        return exitCode(err, () -> {
            Options o = parse(args, 1, true);
            if (o.help) { out.print(STATS_USAGE); return 0; }
            if (o.positional.size() > 1) throw new Usage("stats takes at most one VOLUME, not " + String.join(" ", o.positional));
            Client c = new Client(o);
            String volume = o.positional.isEmpty() ? null : o.positional.get(0);
            JsonObject s = c.call("GET", volume == null ? "/api/v1/stats" : "/api/v1/volumes/" + enc(volume) + "/stats", null);
            if (o.json) {
                out.println(s.encodePrettily());
            } else if (o.verbose) {
                printVerbose(out, volume == null ? o.data.toString() : volume, s);
            } else {
                printTable(out, volume, s, o.data);
            }
            return 0;
        });
    }

    static void printTable(PrintStream out, String volume, JsonObject s, Path data) {
        long kTotal, kUsed;
        String saving;
        String device;
        if (volume == null) {
            device = data.toAbsolutePath().normalize().toString(); // `--data .` names the folder, not "."
            kTotal = s.getLong("physical_blocks", 0L) * 4;
            kUsed = (s.getLong("data_blocks_used", 0L) + s.getLong("overhead_blocks_used", 0L)) * 4;
            long logicalUsed = s.getLong("logical_blocks_used", 0L);
            saving = logicalUsed == 0 ? "N/A" : s.getLong("saving_percent", 0L) + "%";
        } else {
            // a volume shares the pool's physical space; its own figures are logical
            device = volume;
            kTotal = s.getLong("logical_blocks", 0L) * 4;
            kUsed = s.getLong("logical_blocks_used", 0L) * 4;
            saving = "N/A";
        }
        long avail = Math.max(0, kTotal - kUsed);
        String use = kTotal == 0 ? "N/A" : ((kUsed * 100 + kTotal - 1) / kTotal) + "%";
        int w = Math.max(20, device.length() + 1);
        out.printf(Locale.ROOT, "%-" + w + "s %10s %10s %10s %4s %13s%n", "Device", "1K-blocks", "Used", "Available", "Use%", "Space saving%");
        out.printf(Locale.ROOT, "%-" + w + "s %10d %10d %10d %4s %13s%n", device, kTotal, kUsed, avail, use, saving);
    }

    static void printVerbose(PrintStream out, String device, JsonObject s) {
        out.println(device + " : ");
        printObject(out, s, "  ");
    }

    private static void printObject(PrintStream out, JsonObject s, String indent) {
        int w = 0;
        for (String k : s.fieldNames()) w = Math.max(w, k.length());
        for (Map.Entry<String, Object> e : s) {
            String label = e.getKey().replace('_', ' ');
            if (e.getValue() instanceof JsonObject sub) {
                out.println(indent + label + " : ");
                printObject(out, sub, indent + "  ");
            } else {
                out.printf(Locale.ROOT, "%s%-" + w + "s : %s%n", indent, label, e.getValue());
            }
        }
    }

    /** {@code jvdo volume ...}; args[0] is "volume". */
    public static int volume(String[] args, PrintStream out, PrintStream err) {
        return exitCode(err, () -> {
            Options o = parse(args, 1, false);
            if (o.help) { out.print(VOLUME_USAGE); return 0; }
            if (o.positional.isEmpty()) throw new Usage("volume needs a subcommand: create, list, delete or resize (see jvdo volume --help)");
            String sub = o.positional.get(0);
            List<String> p = o.positional.subList(1, o.positional.size());
            if (o.engine != null && !sub.equals("create")) throw new Usage("--engine is for volume create only");
            if (o.force && !sub.equals("delete")) throw new Usage("--force is for volume delete only");
            switch (sub) {
                case "create" -> {
                    need(p, 2, "volume create NAME SIZE [--engine E]");
                    long size = size(p.get(1));
                    JsonObject body = new JsonObject().put("name", p.get(0)).put("logical_size", size);
                    if (o.engine != null) body.put("engine", o.engine);
                    JsonObject v = new Client(o).call("POST", "/api/v1/volumes", body);
                    out.println("jvdo: created " + v.getString("name") + " (" + Sizes.human(v.getLong("logical_size")) + ", "
                            + v.getString("engine") + ") at " + v.getString("export"));
                }
                case "list" -> {
                    need(p, 0, "volume list");
                    JsonArray vs = new Client(o).call("GET", "/api/v1/volumes", null).getJsonArray("volumes");
                    out.printf(Locale.ROOT, "%-20s %12s %12s %-6s %5s %s%n", "NAME", "SIZE", "USED", "ENGINE", "CONNS", "EXPORT");
                    for (int i = 0; i < vs.size(); i++) {
                        JsonObject v = vs.getJsonObject(i);
                        out.printf(Locale.ROOT, "%-20s %12s %12s %-6s %5d %s%n", v.getString("name"),
                                Sizes.human(v.getLong("logical_size")), Sizes.human(v.getLong("logical_blocks_used") * 4096),
                                v.getString("engine"), v.getInteger("connections"), v.getString("export"));
                    }
                }
                case "delete" -> {
                    need(p, 1, "volume delete NAME [--force]");
                    JsonObject r;
                    try {
                        r = new Client(o).call("DELETE", "/api/v1/volumes/" + enc(p.get(0)) + (o.force ? "?force=true" : ""), null);
                    } catch (Failure f) {
                        // the API's 409 names its query parameter; on the command line the option is --force
                        throw new Failure(f.getMessage().replace("?force=true", "--force"));
                    }
                    out.println("jvdo: deleted " + r.getString("deleted")
                            + (r.getInteger("connections_closed", 0) > 0 ? " (closed " + r.getInteger("connections_closed") + " connection(s))" : ""));
                }
                case "resize" -> {
                    need(p, 2, "volume resize NAME SIZE");
                    long size = size(p.get(1));
                    JsonObject v = new Client(o).call("POST", "/api/v1/volumes/" + enc(p.get(0)) + "/resize",
                            new JsonObject().put("logical_size", size));
                    out.println("jvdo: " + v.getString("name") + " is now " + Sizes.human(v.getLong("logical_size")));
                }
                default -> throw new Usage("unknown volume subcommand '" + sub + "' (create, list, delete, resize)");
            }
            return 0;
        });
    }

    private static void need(List<String> p, int n, String usage) throws Usage {
        if (p.size() != n) throw new Usage("usage: jvdo " + usage);
    }

    private static long size(String s) throws Usage {
        try {
            return Sizes.parse(s);
        } catch (IllegalArgumentException e) {
            throw new Usage(e.getMessage());
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * One admin API call with the pool folder's token, over HTTP or, with a certificate
     * directory, HTTPS: the server's certificate must be signed by that directory's
     * {@value org.jvdo.nbd.TlsSettings#CA_CERT} and name the host (as the server certificate
     * names 127.0.0.1 and localhost).
     */
    public static final class Client {
        private final String base;
        private final String token;
        private final javax.net.ssl.SSLContext ssl;

        Client(Options o) throws Failure {
            this(o.data, o.host, o.port, o.tls ? (o.tlsCertificates != null ? o.tlsCertificates : org.jvdo.nbd.TlsSettings.defaultDirectory()) : null);
        }

        /**
         * A client of the API at {@code host:port} with the token of the pool folder {@code data};
         * {@code tlsCertificates} null for HTTP, else the directory whose ca-cert.pem to trust (HTTPS).
         */
        public Client(Path data, String host, int port, Path tlsCertificates) throws Failure {
            this.base = (tlsCertificates == null ? "http" : "https") + "://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
            this.ssl = tlsCertificates == null ? null : trusting(tlsCertificates.resolve(org.jvdo.nbd.TlsSettings.CA_CERT));
            try {
                this.token = AdminToken.read(data);
            } catch (NoSuchFileException e) {
                throw new Failure("no admin token in " + data + " (" + AdminToken.file(data)
                        + " is missing: is `jvdo serve --data " + data + "` running?)");
            } catch (IOException e) {
                throw new Failure("cannot read the admin token: " + e.getMessage());
            }
        }

        /** A TLS context trusting the certificates (a CA) in the PEM file {@code ca}; a clear failure naming it otherwise. */
        static javax.net.ssl.SSLContext trusting(Path ca) throws Failure {
            try (java.io.InputStream in = java.nio.file.Files.newInputStream(ca)) {
                java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
                trust.load(null, null);
                int n = 0;
                for (java.security.cert.Certificate c : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    trust.setCertificateEntry("ca" + n++, c);
                }
                if (n == 0) throw new Failure("no certificate in " + ca);
                javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                        javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
                javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
                ctx.init(null, tmf.getTrustManagers(), null);
                return ctx;
            } catch (NoSuchFileException e) {
                throw new Failure("cannot read " + ca + ": no such file (--tls-certificates DIR holds " + org.jvdo.nbd.TlsSettings.CA_CERT + ")");
            } catch (IOException | java.security.GeneralSecurityException e) {
                throw new Failure("cannot use " + ca + " as the CA of the admin API: " + e.getMessage());
            }
        }

        /** Sends the request; the answer's JSON, or a Failure saying what the API answered or why it could not be reached. */
        public JsonObject call(String method, String path, JsonObject body) throws Failure {
            HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(Duration.ofSeconds(120))
                    .header("Authorization", "Bearer " + token)
                    .header("Accept", "application/json");
            if (body != null) {
                rb.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofString(body.encode()));
            } else {
                rb.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> r;
            try {
                HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
                if (ssl != null) hb.sslContext(ssl);
                r = hb.build().send(rb.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new Failure("cannot reach the admin API at " + base + " (" + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "); is jvdo serve running"
                        + (ssl == null ? "? (if it serves HTTPS, add --admin-tls)" : " with --admin-tls?") );
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure("interrupted");
            }
            JsonObject j;
            try {
                j = new JsonObject(r.body());
            } catch (DecodeException | ClassCastException e) {
                throw new Failure("admin API answered " + r.statusCode() + " without JSON");
            }
            if (r.statusCode() >= 300) {
                throw new Failure(j.getString("error", "admin API answered " + r.statusCode())
                        + (j.containsKey("field") ? " [" + j.getString("field") + "]" : "") + " (HTTP " + r.statusCode() + ")");
            }
            return j;
        }
    }
}
