package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * zram's {@code mm_stat} in {@code GET /api/v1/stats}, field by field, with a known write
 * pattern: zero blocks are same_pages, incompressible blocks huge_pages, compressible blocks
 * make compr_data_size smaller than orig_data_size, and a duplicate adds to orig only.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MmStatTest {
    static final int ZERO = 5, RANDOM = 4, TEXT = 6;
    @TempDir Path dir;
    AdminFixture f;

    @BeforeEach
    void start() throws Exception { f = new AdminFixture(dir); }

    @AfterEach
    void stop() throws Exception { f.close(); }

    static byte[] text(int i) {
        return ("block " + i + ": the same words again and again, ").repeat(200).substring(0, 4096).getBytes(StandardCharsets.US_ASCII);
    }

    JsonObject stats() throws Exception {
        f.pool.quiesce();
        return new JsonObject(f.send("GET", "/api/v1/stats", null).body());
    }

    static void flush(RawClient c) throws Exception {
        c.request(0, NbdProtocol.CMD_FLUSH, 99, 0, 0, null);
        assertEquals(0, c.simple().error());
    }

    @Test
    void fieldsMeanWhatZramsMean() throws Exception {
        try (RawClient c = RawClient.open(f.nbd.actualPort())) {
            c.go("vol0");
            long lbn = 0;
            for (int i = 0; i < ZERO; i++) assertEquals(0, c.write(1, 4096 * lbn++, new byte[4096]));
            Random r = new Random(11);
            for (int i = 0; i < RANDOM; i++) {
                byte[] b = new byte[4096];
                r.nextBytes(b);
                assertEquals(0, c.write(2, 4096 * lbn++, b));
            }
            for (int i = 0; i < TEXT; i++) assertEquals(0, c.write(3, 4096 * lbn++, text(i)));
            flush(c);
            JsonObject s = stats();
            JsonObject mm = s.getJsonObject("mm_stat");
            String ctx = mm.encode();
            assertEquals(ZERO, mm.getLong("same_pages"), ctx);
            assertEquals(RANDOM, mm.getLong("huge_pages"), ctx);
            assertEquals(RANDOM, mm.getLong("huge_pages_since"), ctx);
            assertEquals((RANDOM + TEXT) * 4096L, mm.getLong("orig_data_size"), ctx);
            long fragments = mm.getLong("compr_data_size") - RANDOM * 4096L;
            // six repetitive blocks compress to a few dozen bytes each: their fragments, not the block that packs them
            assertTrue(fragments > 0 && fragments < 2048, "compressible blocks counted by their compressed bytes: " + ctx);
            assertTrue(mm.getLong("compr_data_size") < mm.getLong("orig_data_size"), ctx);
            assertEquals((s.getLong("data_blocks_used") + s.getLong("overhead_blocks_used")) * 4096, mm.getLong("mem_used_total"), ctx);
            assertEquals(s.getLong("physical_blocks") * 4096, mm.getLong("mem_limit"), ctx);
            assertEquals(mm.getLong("mem_used_total"), mm.getLong("mem_used_max"), ctx);
            assertEquals(0, mm.getLong("pages_compacted"), ctx);

            // a duplicate of a compressible block: one more page of original data, nothing more stored
            assertEquals(0, c.write(4, 4096 * lbn++, text(0)));
            // a random block overwritten by zeros: one huge page fewer, one same page more
            assertEquals(0, c.write(5, 4096L * ZERO, new byte[4096]));
            flush(c);
            JsonObject mm2 = stats().getJsonObject("mm_stat");
            String ctx2 = ctx + " then " + mm2.encode();
            assertEquals((RANDOM - 1 + TEXT + 1) * 4096L, mm2.getLong("orig_data_size"), ctx2);
            assertEquals(mm.getLong("compr_data_size") - 4096, mm2.getLong("compr_data_size"), ctx2);
            assertEquals(ZERO + 1, mm2.getLong("same_pages"), ctx2);
            assertEquals(RANDOM - 1, mm2.getLong("huge_pages"), ctx2);
            assertEquals(RANDOM, mm2.getLong("huge_pages_since"), ctx2);
            assertTrue(mm2.getLong("mem_used_max") > mm2.getLong("mem_used_total"), "the peak stays after a block is freed: " + ctx2);
            assertEquals(mm.getLong("mem_used_max"), mm2.getLong("mem_used_max"), ctx2);
        }
    }
}
