package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.jvdo.core.api.BlockDevice;
import org.jvdo.core.Pool;
import org.jvdo.core.api.PoolConfig;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs a test class against the real engine: every {@link TestServers#device} becomes a volume
 * of its own freshly formatted {@link Pool} in a temp folder.
 *
 * <p>Use with {@code @ExtendWith(EngineDevices.class)} on a subclass of a device-agnostic test.
 * The extension's after-each callback runs after the test's own {@code @AfterEach} methods (which
 * stop servers and detach clients), then closes every pool made for the test, checks its
 * reference counts and deletes its folder. After the class, the default (memory) factory is back.
 */
public final class EngineDevices implements TestServers.DeviceFactory, BeforeAllCallback, AfterEachCallback,
        AfterAllCallback {
    private final List<Pool> pools = new ArrayList<>();
    private Path root;

    /** Moderate sizes: 2 GiB physical, 32 MiB slabs, small caches, two threads of each kind. */
    public static PoolConfig config() {
        PoolConfig c = new PoolConfig();
        c.physicalBytes = 2L << 30;
        c.slabDataBlocks = 8192;
        c.journalBlocks = 1024;
        c.blockMapCachePages = 256;
        c.vioPoolSize = 512;
        c.ioThreads = 2;
        c.compressionThreads = 2;
        c.indexMaxSlots = 1 << 20;
        return c;
    }

    @Override
    public synchronized BlockDevice create(String name, long size) {
        try {
            if (root == null) {
                root = Files.createTempDirectory("jvdo-engine-devices");
            }
            Pool pool = Pool.create(root.resolve("pool-" + pools.size() + "-" + name), config());
            pools.add(pool);
            return pool.createVolume(name, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The pool holding the volume most recently made by this factory. */
    synchronized Pool lastPool() {
        return pools.get(pools.size() - 1);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        TestServers.setFactory(this);
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        List<Pool> mine;
        synchronized (this) {
            mine = new ArrayList<>(pools);
            pools.clear();
        }
        if (mine.isEmpty() && context.getTestMethod().isPresent()) {
            deleteRoot();
            throw new AssertionError(context.getDisplayName() + " made no device through TestServers: it did not run on the engine");
        }
        Throwable first = null;
        for (Pool p : mine) {
            try {
                if (!p.isReadOnly()) {
                    p.quiesce();
                    assertEquals(List.of(), p.verifyReferenceCounts(), "reference counts of " + p.directory());
                }
            } catch (Throwable t) {
                first = first == null ? t : first;
            } finally {
                try {
                    p.close();
                } catch (Throwable t) {
                    first = first == null ? t : first;
                }
            }
        }
        deleteRoot();
        if (first instanceof Exception e) {
            throw e;
        } else if (first instanceof Error e) {
            throw e;
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        TestServers.setFactory(null);
        if (!pools.isEmpty()) {
            afterEach(context); // pools made outside any test (e.g. in @BeforeAll)
        }
        deleteRoot();
    }

    private synchronized void deleteRoot() throws IOException {
        if (root == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
        root = null;
    }
}
