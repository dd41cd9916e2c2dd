package org.jvdo.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.jvdo.nbd.MainTest.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * serve's cluster options are checked before anything is created: each is one line naming the
 * option, exit 2, and the pool folder is not made. {@code jvdo cluster status} against a server
 * that is not a member says so (the API's 404).
 */
class ClusterOptionsTest {
    @TempDir Path dir;

    void refused(String expected, String... args) {
        Path data = dir.resolve("pool");
        String[] a = new String[args.length + 3];
        a[0] = "serve";
        a[1] = "--data";
        a[2] = data.toString();
        System.arraycopy(args, 0, a, 3, args.length);
        MainTest.Run r = run(a);
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains(expected), "stderr names the problem: " + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertFalse(Files.exists(data), "nothing was created");
    }

    @Test
    void clusterOptionsWithoutAClusterOrWithBadValuesAreRefused() {
        refused("--cluster-listen needs --cluster NAME", "--cluster-listen", "127.0.0.1:5701");
        refused("--cluster-members needs --cluster NAME", "--cluster-members", "127.0.0.1:5701,127.0.0.1:5702");
        refused("--cluster-backups needs --cluster NAME", "--cluster-backups", "2");
        refused("is not ADDR:PORT", "--cluster", "c", "--cluster-listen", "localhost");
        refused("a member's port is 1..65535", "--cluster", "c", "--cluster-members", "127.0.0.1:0");
        refused("an IPv6 address goes in brackets", "--cluster", "c", "--cluster-listen", "::1:5701");
        refused("is not a cluster name", "--cluster", "no spaces");
        refused("--cluster-backups is 0..6", "--cluster", "c", "--cluster-backups", "7");
    }

    @Test
    void clusterStatusOfAServerOutsideAClusterSaysSo() throws Exception {
        try (AdminFixture f = new AdminFixture(dir)) {
            MainTest.Run r = run("cluster", "status", "--data", dir.toString(), "--admin-port", String.valueOf(f.admin.actualPort()));
            assertNotEquals(0, r.exit(), r.toString());
            assertTrue(r.err().contains("not a cluster member"), r.err());
        }
    }
}
