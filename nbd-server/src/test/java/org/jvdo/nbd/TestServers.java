package org.jvdo.nbd;

import java.util.List;
import org.jvdo.core.api.BlockDevice;

/**
 * The one place tests get devices and servers from, so the same protocol and client-tool
 * tests run against the real engine too: the {@code Engine*Test} subclasses use
 * {@link EngineDevices}, which sets the factory for their class. The system property
 * {@code jvdo.nbd.testDeviceFactory} may name a class implementing {@link DeviceFactory} (with a
 * public no-argument constructor); the default is {@link MemoryBlockDevice}.
 */
public final class TestServers {
    private TestServers() { }

    /** Makes a fresh, empty, writable device for a test. */
    public interface DeviceFactory {
        BlockDevice create(String name, long size);
    }

    private static volatile DeviceFactory factory;

    public static DeviceFactory factory() {
        DeviceFactory f = factory;
        if (f == null) {
            String cls = System.getProperty("jvdo.nbd.testDeviceFactory");
            if (cls == null || cls.isBlank()) {
                f = MemoryBlockDevice::new;
            } else {
                try {
                    f = (DeviceFactory) Class.forName(cls).getDeclaredConstructor().newInstance();
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot make device factory " + cls, e);
                }
            }
            factory = f;
        }
        return f;
    }

    /** Overrides the device factory (e.g. from an integration test's setup). */
    public static void setFactory(DeviceFactory f) {
        factory = f;
    }

    public static BlockDevice device(String name, long size) {
        return factory().create(name, size);
    }

    /** Starts a server on 127.0.0.1, an ephemeral port and two event loops. */
    public static Handle start(List<? extends BlockDevice> devices) {
        SimpleExportRegistry registry = new SimpleExportRegistry(devices);
        NbdServer server = new NbdServer(registry, "127.0.0.1", 0, 2).start();
        return new Handle(server, registry);
    }

    /** A running test server; closing it stops the server (devices are left open). */
    public record Handle(NbdServer server, SimpleExportRegistry registry) implements AutoCloseable {
        public int port() {
            return server.actualPort();
        }

        public String uri(String export) {
            return "nbd://127.0.0.1:" + port() + "/" + export;
        }

        @Override
        public void close() {
            server.close();
        }
    }
}
