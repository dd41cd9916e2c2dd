package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code mvn package} builds, driven as a user runs it: {@code java -jar target/jvdo.jar}
 * (its manifest's Main-Class, Class-Path and version), the distribution tarball unpacked and
 * served from with its {@code bin/jvdo} (no Maven, no build tree), and the systemd unit in
 * {@code packaging/} checked by {@code systemd-analyze verify} against that unpacked tree.
 * Runs in the integration-test phase, after package (the *IT surefire execution).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PackagingIT {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    static Path target() {
        Path t = Path.of(System.getProperty("jvdo.target", "target"));
        if (!Files.isRegularFile(t.resolve("jvdo.jar"))) fail("no " + t.resolve("jvdo.jar") + ": run mvn package first");
        return t;
    }

    static String version() {
        String v = System.getProperty("jvdo.version");
        if (v != null) return v;
        // run outside the integration-test execution: the one tarball there names the version
        try (Stream<Path> s = Files.list(target())) {
            String name = s.map(p -> p.getFileName().toString()).filter(n -> n.matches("jvdo-.+\\.tar\\.gz"))
                    .findFirst().orElseThrow(() -> new AssertionError("no jvdo-VERSION.tar.gz in " + target()));
            return name.substring("jvdo-".length(), name.length() - ".tar.gz".length());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    @Test
    void jarManifestNamesMainClassLibrariesAndVersion() throws Exception {
        Path jar = target().resolve("jvdo.jar");
        Manifest m;
        try (JarFile j = new JarFile(jar.toFile())) {
            m = j.getManifest();
        }
        Attributes a = m.getMainAttributes();
        assertEquals(Main.class.getName(), a.getValue(Attributes.Name.MAIN_CLASS));
        assertEquals("jvdo", a.getValue(Attributes.Name.IMPLEMENTATION_TITLE));
        assertEquals(version(), a.getValue(Attributes.Name.IMPLEMENTATION_VERSION));
        String cp = a.getValue(Attributes.Name.CLASS_PATH);
        assertTrue(cp != null && cp.contains("lib/vertx-core-"), "Class-Path: " + cp);
        for (String entry : cp.trim().split("\\s+")) {
            assertTrue(Files.isRegularFile(target().resolve(entry)), "Class-Path entry " + entry + " is not in " + target());
        }
    }

    @Test
    void javaJarPrintsHelpAndServes() throws Exception {
        Path jar = target().resolve("jvdo.jar").toAbsolutePath();
        Tools.Result help = Tools.run(T, java(), "-jar", jar.toString(), "--help").assertOk("java -jar jvdo.jar --help");
        assertTrue(help.output().startsWith("usage: jvdo"), help.output());
        serveAndProbe(List.of(java(), "-Xmx256m", "-jar", jar.toString()), Map.of(), "jar");
    }

    @Test
    void distributionTarballRunsFromItsUnpackedTree() throws Exception {
        Path home = unpack();
        Path launcher = home.resolve("bin/jvdo");
        assertTrue(Files.getPosixFilePermissions(launcher).contains(PosixFilePermission.OWNER_EXECUTE), launcher + " is not executable");
        List<String> libs;
        try (Stream<Path> s = Files.list(home.resolve("lib"))) {
            libs = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertTrue(libs.contains("jvdo.jar"), "lib/: " + libs);
        assertTrue(libs.stream().anyMatch(n -> n.startsWith("vertx-core-")), "lib/: " + libs);
        assertTrue(libs.stream().anyMatch(n -> n.startsWith("vdo-core-")), "lib/: " + libs);
        assertTrue(Files.isRegularFile(home.resolve("share/jvdo.service")), "share/jvdo.service");

        Tools.Result help = Tools.run(T, launcher.toString(), "--help").assertOk("bin/jvdo --help");
        assertTrue(help.output().startsWith("usage: jvdo"), help.output());
        // the JVM the tests run on, through JAVA_HOME, as an operator would point it at one
        serveAndProbe(List.of(launcher.toString()), Map.of("JAVA_HOME", System.getProperty("java.home"),
                "JVDO_JAVA_OPTS", "-Xmx256m"), "dist");
        // without -Xmx the launcher sizes the heap from the pool's needs: the JVM has exactly the planned heap
        String err = serveAndProbe(List.of(launcher.toString()), Map.of("JAVA_HOME", System.getProperty("java.home")), "planned");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("memory plan: .*, heap (\\S+ \\S+); this JVM's heap (\\S+ \\S+)").matcher(err);
        assertTrue(m.find(), "a memory plan line in\n" + err);
        assertEquals(m.group(1), m.group(2), "the launcher started the JVM with the planned heap: " + m.group());
    }

    /**
     * The unit as shipped, with /opt/jvdo pointing at the unpacked tarball (systemd-analyze
     * checks that ExecStart is executable): systemd-analyze verify must pass and print nothing
     * (it reports an unknown or misspelt key only as a warning, with exit code 0).
     */
    @Test
    void systemdUnitVerifies() throws Exception {
        Tools.require("systemd-analyze");
        Path home = unpack();
        String shipped = Files.readString(repoRoot().resolve("packaging/jvdo.service"), StandardCharsets.UTF_8);
        for (String key : List.of("ExecStart=/opt/jvdo/bin/jvdo serve --data /var/lib/jvdo", "Restart=on-failure",
                "ReadWritePaths=/var/lib/jvdo", "ProtectSystem=strict", "User=jvdo")) {
            assertTrue(shipped.lines().anyMatch(l -> l.equals(key)), "the unit has the line " + key);
        }
        long stop = shipped.lines().filter(l -> l.startsWith("TimeoutStopSec=")).mapToLong(l -> Long.parseLong(l.substring(15)))
                .findFirst().orElseThrow(() -> new AssertionError("no TimeoutStopSec"));
        assertTrue(stop >= 60, "TimeoutStopSec=" + stop + " leaves too little for a clean close");
        Path unit = tmp.resolve("jvdo.service");
        Files.writeString(unit, shipped.replace("/opt/jvdo", home.toString()), StandardCharsets.UTF_8);
        Tools.Result r = Tools.run(T, "systemd-analyze", "verify", unit.toString());
        assertEquals(0, r.exit(), "systemd-analyze verify:\n" + r.output());
        assertEquals("", r.output().strip(), "systemd-analyze verify printed warnings");
    }

    private Path unpack() throws IOException {
        Path tar = target().resolve("jvdo-" + version() + ".tar.gz");
        assertTrue(Files.isRegularFile(tar), "no " + tar);
        Path into = tmp.resolve("unpacked");
        Files.createDirectories(into);
        Tools.run(T, "tar", "-xzf", tar.toAbsolutePath().toString(), "-C", into.toString()).assertOk("tar");
        Path home = into.resolve("jvdo-" + version());
        assertTrue(Files.isDirectory(home), "the tarball unpacks into jvdo-" + version() + "/");
        return home;
    }

    static Path repoRoot() {
        String r = System.getenv("JVDO_REPO_ROOT");
        return r != null ? Path.of(r) : Path.of("..");
    }

    /** {@code cmd serve} on free ports: it serves vdo0, nbdinfo reads its size, SIGTERM closes it with 0. */
    private String serveAndProbe(List<String> cmd, Map<String, String> env, String name) throws Exception {
        Tools.require("nbdinfo");
        int port = ServeProcess.freePort();
        List<String> full = new ArrayList<>(cmd);
        full.addAll(List.of("serve", "--data", tmp.resolve("data-" + name).toString(), "--port", String.valueOf(port),
                "--admin-port", "0", "--physical-size", "1G", "--logical-size", "64M"));
        try (ServeProcess p = ServeProcess.command(tmp, name, port, full, env)) {
            p.awaitServing("vdo0", T);
            Tools.Result info = Tools.run(T, "nbdinfo", "--size", p.uri("vdo0")).assertOk("nbdinfo");
            assertEquals(String.valueOf(64L << 20), info.output().strip());
            assertEquals(0, p.terminate(T), p.err());
            return p.err();
        }
    }
}
