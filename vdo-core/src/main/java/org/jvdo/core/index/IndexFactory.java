package org.jvdo.core.index;

import org.jvdo.format.IndexFileLayout;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * Builds the configured dedup index ({@code PoolConfig.indexMode}): {@value #DENSE} (the
 * default, {@link DenseIndex}) or {@value #SPARSE} ({@link SparseIndex}), loading the saved file
 * when it fits. The file is advice only: missing, damaged, of the other mode, or keyed on fewer
 * fingerprint bits than this configuration needs, the index starts empty and the open report
 * says why. A version-1 file (the old {@link MemoryIndex}'s) is converted into a dense index.
 */
public final class IndexFactory {
    public static final String DENSE = "dense";
    public static final String SPARSE = "sparse";
    private static final Logger LOG = Logger.getLogger("org.jvdo.core");

    private IndexFactory() { }

    /** The mode named by {@code s} (case-insensitive), or IllegalArgumentException saying what is accepted. */
    public static String checkMode(String s) {
        String m = s == null ? DENSE : s.trim().toLowerCase(Locale.ROOT);
        if (m.equals(DENSE) || m.equals(SPARSE)) return m;
        throw new IllegalArgumentException("index mode '" + s + "' is not one of: dense, sparse");
    }

    /** An empty index of {@code mode}. */
    public static DedupIndex create(String mode, long initialSlots, long maxSlots, long maxPbn, DedupIndex.MappingReader reader) {
        return checkMode(mode).equals(SPARSE) ? new SparseIndex(initialSlots, maxSlots, reader)
                : new DenseIndex(initialSlots, maxSlots, maxPbn);
    }

    /**
     * The index saved in {@code file} if it is usable for {@code mode}, else an empty one; what
     * happened is appended to {@code report} ("; index: ...").
     */
    public static DedupIndex loadOrEmpty(Path file, String mode, long initialSlots, long maxSlots, long maxPbn,
                                         DedupIndex.MappingReader reader, StringBuilder report) {
        String m = checkMode(mode);
        try {
            DedupIndex idx = load(file, m, initialSlots, maxSlots, maxPbn, reader, report);
            report.append("; index: loaded ").append(idx.entries()).append(" entries (").append(m).append(')');
            return idx;
        } catch (NoSuchFileException e) {
            return create(m, initialSlots, maxSlots, maxPbn, reader);
        } catch (IOException | RuntimeException e) {
            LOG.warning("dedup index unusable, starting an empty one (advice only, no data lost): " + e.getMessage());
            report.append("; index: ").append(e.getMessage()).append(" - started empty");
            return create(m, initialSlots, maxSlots, maxPbn, reader);
        }
    }

    /** A file that is intact but not usable here (other mode, too few key bits): discarded, nothing lost. */
    static final class Unusable extends IOException {
        Unusable(String message) { super(message); }
    }

    /**
     * Loads {@code file} into a new index of {@code mode}. Missing: NoSuchFileException;
     * damaged: CorruptPoolException; intact but for the other mode: IOException saying so.
     */
    public static DedupIndex load(Path file, String mode, long initialSlots, long maxSlots, long maxPbn,
                                  DedupIndex.MappingReader reader, StringBuilder report) throws IOException {
        String m = checkMode(mode);
        DedupIndex[] made = {null};
        int[] version = {0};
        IndexFiles.read(file, new IndexFiles.Sink() {
            @Override
            public void header(IndexFiles.Header h) throws IOException {
                version[0] = h.version();
                String fileMode = IndexFileLayout.modeName(h.mode());
                if (!fileMode.equals(m)) {
                    throw new Unusable(file + ": saved by a " + fileMode + " index (version " + h.version() + "), this pool runs " + m);
                }
                // sized for what the file holds (dense: about 0.89 full, within its bound at once)
                long slots = Math.max(initialSlots, m.equals(SPARSE) ? h.count() * SparseIndex.SAMPLE * 2 : h.count() + h.count() / 8);
                made[0] = create(m, Math.min(slots, maxSlots), maxSlots, maxPbn, reader);
                if (made[0] instanceof DenseIndex d && h.keyBits() < d.keyBits()) {
                    throw new Unusable(file + ": saved with " + h.keyBits() + " fingerprint bits, this index size needs " + d.keyBits());
                }
            }

            @Override
            public void entry(long key, long location, int volume, long lbn) {
                if (made[0] instanceof DenseIndex d) d.putLocation(key, location);
                else ((SparseIndex) made[0]).putHook(key, location, volume, lbn);
            }
        });
        if (version[0] == IndexFileLayout.VERSION_1) report.append("; index: converted a version-1 file");
        return made[0];
    }
}
