package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jvdo.nbd.admin.AdminToken;
import org.jvdo.testsupport.Blocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@code jvdo serve --cluster} processes on loopback, one pool each, share one index: the
 * dataset written through nbdcopy to the first member's volume is found by the second member's
 * writes (advice naming the first pool, counted as foreign: pins, which would let it share the
 * block, are not built yet), both read back exactly, and the cluster route shows both members,
 * both pools and the index.
 */
class ClusterServeTest {
    static final Duration T = Duration.ofSeconds(120);
    static final int BLOCKS = 8192; // 32 MiB
    @TempDir Path tmp;

    @Test
    @Timeout(600)
    void twoMembersShareOneIndex() throws Exception {
        Tools.require("nbdcopy", "cmp");
        byte[] data = Blocks.dataset(BLOCKS, 14);
        Path in = tmp.resolve("in.img");
        Files.write(in, data);
        String[] cluster = {"127.0.0.1:" + ServeProcess.freePort(), "127.0.0.1:" + ServeProcess.freePort()};
        List<String> jvm = List.of("-Dhazelcast.wait.seconds.before.join=0", "-Djava.util.concurrent.ForkJoinPool.common.parallelism=4");
        List<ServeProcess> members = new ArrayList<>();
        try {
            for (int m = 0; m < 2; m++) {
                members.add(ServeProcess.serveJvm(jvm, tmp, "member" + m, tmp.resolve("pool" + m), ServeProcess.freePort(),
                        "--volume", "m" + m, "--logical-size", "64M", "--physical-size", "256M",
                        "--cluster", "ct", "--cluster-listen", cluster[m], "--cluster-members", String.join(",", cluster),
                        "--cluster-index-timeout", "10000"));
                members.get(m).awaitServing("m" + m, T);
            }
            for (int m = 0; m < 2; m++) {
                Tools.run(T, "nbdcopy", "--flush", in.toString(), members.get(m).uri("m" + m)).assertOk("nbdcopy into member " + m);
            }
            for (int m = 0; m < 2; m++) {
                Path out = tmp.resolve("out" + m + ".img");
                Tools.run(T, "nbdcopy", members.get(m).uri("m" + m), out.toString()).assertOk("nbdcopy out of member " + m);
                assertArrayEquals(data, java.util.Arrays.copyOf(Files.readAllBytes(out), data.length), "member " + m + " reads back the dataset");
            }
            JsonObject first = get(members.get(0), tmp.resolve("pool0"), "/stats");
            JsonObject second = get(members.get(1), tmp.resolve("pool1"), "/stats");
            long foreign = number(second, "dedupe_advice_foreign");
            assertTrue(foreign >= 0.95 * BLOCKS, "the second member's writes found the first pool's blocks: foreign advice "
                    + foreign + " of " + BLOCKS + "\n" + second.encodePrettily());
            assertEquals(0, number(first, "dedupe_advice_foreign"), "the first copy had nothing to find elsewhere");
            assertEquals(0, number(second, "dedupe_advice_timeouts"), "no lookup timed out");
            JsonObject status = get(members.get(0), tmp.resolve("pool0"), "/cluster");
            JsonArray ms = status.getJsonArray("members");
            assertEquals(2, ms.size(), status.encodePrettily());
            long entries = 0;
            for (int i = 0; i < ms.size(); i++) entries += ms.getJsonObject(i).getLong("index_entries");
            assertTrue(entries >= 0.95 * BLOCKS && entries <= 2L * BLOCKS, "one entry per distinct block in the cluster: " + entries);
            assertEquals(2, status.getJsonArray("pools").size(), "both pools published: " + status.encodePrettily());
            // jvdo cluster status, as an operator runs it, against the second member
            MainTest.Run cli = MainTest.run("cluster", "status", "--data", tmp.resolve("pool1").toString(),
                    "--admin-port", String.valueOf(members.get(1).adminPort()));
            assertEquals(0, cli.exit(), cli.toString());
            assertTrue(cli.out().contains("cluster ct: 2 members"), cli.out());
            for (int m = 0; m < 2; m++) {
                assertTrue(cli.out().contains(cluster[m]), "member " + cluster[m] + " listed:\n" + cli.out());
                assertTrue(cli.out().contains("m" + m), "export m" + m + " listed:\n" + cli.out());
            }
            for (int m = 0; m < 2; m++) assertEquals(0, members.get(m).terminate(T), "clean stop of member " + m);
        } finally {
            for (ServeProcess p : members) p.close();
        }
    }

    static long number(JsonObject stats, String key) {
        Object v = stats.getValue(key);
        if (v == null && stats.containsKey("pool")) v = stats.getJsonObject("pool").getValue(key);
        if (!(v instanceof Number n)) throw new AssertionError("no " + key + " in " + stats.encodePrettily());
        return n.longValue();
    }

    static JsonObject get(ServeProcess p, Path data, String path) throws Exception {
        String token = AdminToken.loadOrCreate(data).value();
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + p.adminPort() + "/api/v1" + path)).header("Authorization", "Bearer " + token)
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return new JsonObject(r.body());
    }
}
