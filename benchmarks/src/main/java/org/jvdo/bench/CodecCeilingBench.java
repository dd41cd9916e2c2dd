package org.jvdo.bench;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import net.openhft.hashing.LongTupleHashFunction;
import org.jvdo.testsupport.Blocks;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * The per-block ceilings under the engine, on the same block shapes the engine benchmarks write:
 * XXH3-128 of 4 KiB (the dedup fingerprint), LZ4 fast compress, LZ4 safe decompress. One
 * operation is one 4 KiB block (MB/s = ops/s * 4096 / 1e6), per thread count given with -t.
 * 1024 distinct blocks (4 MiB) are cycled so the data is not all in L1.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CodecCeilingBench {
    private static final int N = 1024;
    private static final LongTupleHashFunction XX128 = LongTupleHashFunction.xx128();
    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().safeDecompressor();

    @Param({"RAW2050", "PACKED1800"})
    public Blocks.Shape shape;

    private byte[][] blocks;
    private byte[][] compressed;
    private int[] compressedLen;
    private final long[] hash = new long[2];
    private byte[] out;
    private final byte[] plain = new byte[Blocks.BS];
    private int i;

    @Setup(Level.Trial)
    public void setup() {
        blocks = Blocks.shaped(N, shape, Thread.currentThread().getId());
        out = new byte[COMPRESSOR.maxCompressedLength(Blocks.BS)];
        compressed = new byte[N][];
        compressedLen = new int[N];
        for (int k = 0; k < N; k++) {
            int n = COMPRESSOR.compress(blocks[k], 0, Blocks.BS, out, 0, out.length);
            compressed[k] = java.util.Arrays.copyOf(out, n);
            compressedLen[k] = n;
        }
    }

    private int next() {
        int k = i;
        i = (k + 1) & (N - 1);
        return k;
    }

    @Benchmark
    public long xxh3_128() {
        XX128.hashBytes(blocks[next()], hash);
        return hash[0] ^ hash[1];
    }

    @Benchmark
    public int lz4Compress() {
        return COMPRESSOR.compress(blocks[next()], 0, Blocks.BS, out, 0, out.length);
    }

    @Benchmark
    public int lz4SafeDecompress() {
        int k = next();
        return DECOMPRESSOR.decompress(compressed[k], 0, compressedLen[k], plain, 0, Blocks.BS);
    }
}
