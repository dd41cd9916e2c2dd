package org.jvdo.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.net.ConnectException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jvdo.core.api.BlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Starting, stopping and restarting servers around the same device. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ServerLifecycleTest {
    @Test
    void restartOnTheSamePortKeepsTheData() throws IOException {
        BlockDevice dev = TestServers.device("vol", 4L << 20);
        SimpleExportRegistry registry = new SimpleExportRegistry(List.of(dev));
        NbdServer first = new NbdServer(registry, "127.0.0.1", 0, 2);
        assertThrows(IllegalStateException.class, first::actualPort);
        first.start();
        int port = first.actualPort();
        byte[] data = "persisted across restarts".getBytes();
        try (RawClient c = RawClient.open(port)) {
            c.go("vol");
            assertEquals(0, c.write(1, 8192, data));
        }
        first.close();
        first.close(); // idempotent
        assertThrows(ConnectException.class, () -> new RawClient(port).close());

        NbdServer second = new NbdServer(registry, "127.0.0.1", port, 1).start();
        try (RawClient c = RawClient.open(second.actualPort())) {
            assertEquals(port, second.actualPort());
            c.go("");
            assertArrayEquals(data, c.read(2, 8192, data.length));
        } finally {
            second.close();
        }
    }

    @Test
    void manyConnectionsAreSpreadAndServedConcurrently() throws Exception {
        BlockDevice dev = TestServers.device("vol", 4L << 20);
        try (TestServers.Handle h = TestServers.start(List.of(dev))) {
            RawClient[] clients = new RawClient[8];
            for (int i = 0; i < clients.length; i++) {
                clients[i] = RawClient.open(h.port());
                clients[i].go("vol");
            }
            assertEquals(8, h.server().connectionCount());
            for (int i = 0; i < clients.length; i++) {
                assertEquals(0, clients[i].write(i, i * 4096L, new byte[] {(byte) i}));
            }
            for (int i = 0; i < clients.length; i++) {
                // read another connection's write: writes are visible across connections
                int j = (i + 1) % clients.length;
                assertArrayEquals(new byte[] {(byte) j}, clients[i].read(100 + i, j * 4096L, 1));
                clients[i].close();
            }
        }
    }
}
