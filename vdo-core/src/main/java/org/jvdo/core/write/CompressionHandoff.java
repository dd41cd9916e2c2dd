package org.jvdo.core.write;

import org.jvdo.core.api.LatencyHistogram;
import org.jvdo.packer.PackedBlock;
import org.jvdo.packer.Packer;

import java.nio.ByteBuffer;
import java.util.logging.Logger;

/**
 * Stage "compression hand-off": the block goes to its volume's engine, which calls back on its
 * own thread ({@link DataVio#compressed} / {@link DataVio#failed}). A fragment that fits a packed
 * block goes into the packer's bins; anything larger, and a failed compression, is written raw.
 */
final class CompressionHandoff {
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");

    private final Flow flow;
    private final Packer<DataVio> packer;
    private final LatencyHistogram latCompress;

    CompressionHandoff(Flow flow, Packer<DataVio> packer, LatencyHistogram latCompress) {
        this.flow = flow;
        this.packer = packer;
        this.latCompress = latCompress;
    }

    void submit(DataVio v) {
        v.stageStart = System.nanoTime();
        v.volume.engine().submit(v);
    }

    /** The engine's answer; on the engine's thread. */
    void done(DataVio v, int size, int encoding, Throwable error) {
        latCompress.since(v.stageStart);
        if (error != null) {
            v.volume.counters.compressionErrors.increment();
            LOG.warning(() -> "compression failed for " + v + ", storing raw: " + error);
            size = 0;
        }
        if (size > 0 && size <= PackedBlock.MAX_PAYLOAD) {
            v.compressedSize = size;
            v.encoding = encoding;
            v.inPacker = true;
            v.stage = Stage.PACK;
            v.stageStart = System.nanoTime();
            packer.add(v, ByteBuffer.wrap(v.compressed, 0, size), encoding);
            flow.packForFlush();
            return;
        }
        flow.writeRaw(v);
    }
}
