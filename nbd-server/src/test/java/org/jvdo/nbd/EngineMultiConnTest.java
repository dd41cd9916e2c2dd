package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvdo.core.Pool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * fio's nbd engine with four jobs, i.e. four NBD connections to one volume of a real pool, 16
 * requests in flight each, half-dedupable half-compressible buffers, crc32c verification; then
 * the same data verified again after a clean pool restart.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class EngineMultiConnTest {
    static final int JOBS = 4;
    static final long PER_JOB = 64L << 20;
    static final Duration T = Duration.ofSeconds(200);

    @TempDir
    Path tmp;
    Pool pool;
    TestServers.Handle server;

    @AfterEach
    void stop() throws Exception {
        try {
            if (server != null) {
                server.close();
            }
        } finally {
            if (pool != null) {
                pool.close();
            }
        }
    }

    private List<String> fio(String uri, Path output, String... extra) {
        List<String> cmd = new ArrayList<>(List.of("fio",
                "--name=multiconn", "--ioengine=nbd", "--uri=" + uri,
                "--rw=randwrite", "--bsrange=4k-64k", "--iodepth=16",
                "--numjobs=" + JOBS, "--size=" + PER_JOB, "--offset_increment=" + PER_JOB,
                "--verify_fatal=1", "--verify_state_save=0", "--output=" + output));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    private List<String> crcFio(String uri, Path output, String... extra) {
        List<String> cmd = fio(uri, output, "--verify=crc32c",
                "--dedupe_percentage=50", "--buffer_compress_percentage=50", "--buffer_compress_chunk=4k",
                "--refill_buffers");
        cmd.addAll(List.of(extra));
        return cmd;
    }

    private static String checkFioOutput(Path log, Tools.Result r) throws Exception {
        String out = Files.readString(log);
        assertFalse(out.contains("verify: bad") || out.contains("bad magic") || out.contains("crc32c: verify failed"),
                out + r.output());
        assertEquals(JOBS, out.lines().filter(l -> l.contains("err= 0")).count(), "every job ends with err= 0:\n" + out);
        return out;
    }

    private static List<String> iops(String out, String dir) {
        List<String> l = new ArrayList<>();
        Matcher m = Pattern.compile("\\b" + dir + ": IOPS=([0-9.]+k?)").matcher(out);
        while (m.find()) {
            l.add(m.group(1));
        }
        return l;
    }

    @Test
    void fourConnectionsWriteAndVerifyThroughTheEngine() throws Exception {
        Tools.require("fio");
        Path dir = tmp.resolve("pool");
        pool = Pool.create(dir, EngineDevices.config());
        pool.createVolume("vol", JOBS * PER_JOB);
        server = TestServers.start(List.of(pool.volume("vol")));

        Path log = tmp.resolve("fio.log");
        Tools.Result r = Tools.run(T, crcFio(server.uri("vol"), log, "--do_verify=1")).assertOk("fio");
        String out = checkFioOutput(log, r);
        System.out.println("multi-conn fio: write IOPS per job " + iops(out, "write") + ", verify read IOPS per job "
                + iops(out, "read"));
        assertEquals(JOBS, iops(out, "write").size(), out);
        assertEquals(JOBS, iops(out, "read").size(), "every job verified what it wrote:\n" + out);

        pool.quiesce();
        Map<String, Long> s = pool.stats();
        System.out.println("multi-conn fio stats: " + s);
        assertEquals(List.of(), pool.verifyReferenceCounts());
        // no dedupe assertion here: fio's verify header (offset, sequence) makes every 4 KiB block unique
        assertTrue(s.get("compressed_fragments_written") > 0, "fio's compressible buffers compressed: " + s);
        assertTrue(s.get("data_blocks_used") < s.get("logical_blocks_used"), s.toString());

        // the same writes verified again after a clean restart of the pool
        server.close();
        server = null;
        pool.close();
        pool = Pool.open(dir, EngineDevices.config());
        assertFalse(pool.openReport().contains("recovered"), pool.openReport());
        server = TestServers.start(List.of(pool.volume("vol")));
        Path log2 = tmp.resolve("fio-verify.log");
        Tools.Result r2 = Tools.run(T, crcFio(server.uri("vol"), log2, "--verify_only")).assertOk("fio --verify_only");
        String out2 = checkFioOutput(log2, r2);
        System.out.println("multi-conn fio after restart: verify read IOPS per job " + iops(out2, "read"));
        assertEquals(JOBS, iops(out2, "read").size(), out2);
        long usedBefore = pool.stats().get("data_blocks_used");

        // every block overwritten with one pattern by four connections at once: concurrent
        // identical writes share one hash lock, the old blocks are freed
        Path log3 = tmp.resolve("fio-pattern.log");
        Tools.Result r3 = Tools.run(T, fio(server.uri("vol"), log3, "--do_verify=1", "--verify=pattern",
                "--verify_pattern=0x5aa5c33c")).assertOk("fio pattern");
        String out3 = checkFioOutput(log3, r3);
        System.out.println("multi-conn fio identical blocks: write IOPS per job " + iops(out3, "write"));
        pool.quiesce();
        Map<String, Long> s3 = pool.stats();
        System.out.println("multi-conn fio identical blocks stats: " + s3);
        assertEquals(List.of(), pool.verifyReferenceCounts());
        long dedupe = s3.get("dedupe_advice_valid") + s3.get("concurrent_data_matches");
        assertTrue(dedupe >= pool.volume("vol").logicalBlocks() - 1000, "identical blocks deduplicated: " + s3);
        assertTrue(s3.get("data_blocks_used") < usedBefore / 20, "overwritten blocks freed: " + usedBefore + " -> " + s3);
    }
}
