package org.jvdo.nbd;

import java.util.List;
import org.jvdo.core.api.BlockDevice;

/**
 * The one walk over a device's block status, shared by NBD_CMD_BLOCK_STATUS (the extents a
 * client asked for) and structured READ replies (which runs of the data read may be sent as
 * holes). Owns no state: it asks the device for extents until the range is covered, clips
 * them to the range and merges neighbours of the same state into {@link Run}s.
 */
final class ExtentWalk {
    private ExtentWalk() { }

    /** A run of bytes of one state, {@code start} relative to the walked range. */
    static final class Run {
        final long start;
        long length;
        final int state;

        Run(long start, long length, int state) {
            this.start = start;
            this.length = length;
            this.state = state;
        }
    }

    /** The state of {@code length} bytes at {@code pos} (relative to the range) covered by extent {@code e}. */
    interface Classifier {
        int state(long pos, long length, BlockDevice.Extent e);
    }

    /**
     * Appends to {@code out} the runs covering {@code [offset, offset + length)} from the
     * start, as far as the device describes it (it may stop early: no more extents, an empty
     * one, or after the first with {@code firstOnly}). What the device throws propagates;
     * {@code out} then holds the runs found before.
     */
    static void walk(BlockDevice d, long offset, long length, boolean firstOnly, Classifier classify, List<Run> out) {
        long pos = 0;
        while (pos < length) {
            List<BlockDevice.Extent> extents = d.blockStatus(offset + pos, length - pos);
            if (extents.isEmpty()) {
                return;
            }
            for (BlockDevice.Extent e : extents) {
                long len = Math.min(e.length(), length - pos);
                if (len <= 0) {
                    return;
                }
                add(out, pos, len, classify.state(pos, len, e));
                pos += len;
                if (firstOnly) {
                    return;
                }
            }
        }
    }

    /** Appends a run, merged into the last one if it has the same state. */
    static void add(List<Run> out, long start, long len, int state) {
        if (!out.isEmpty()) {
            Run last = out.get(out.size() - 1);
            if (last.state == state) {
                last.length += len;
                return;
            }
        }
        out.add(new Run(start, len, state));
    }

    /** Where the runs end (relative to the range): they always start at 0 and leave no gaps. */
    static long end(List<Run> runs) {
        if (runs.isEmpty()) {
            return 0;
        }
        Run last = runs.get(runs.size() - 1);
        return last.start + last.length;
    }
}
