package org.jvdo.nbd;

import org.jvdo.core.api.Errno;
import org.jvdo.core.Pool;
import org.jvdo.core.api.VdoException;
import org.jvdo.core.Volume;

import java.io.IOException;

/**
 * Volume administration as the server performs it: the pool's change plus what the NBD side
 * must do with it (the export registry, the connections to a volume). The REST API calls it
 * (and through the API the {@code jvdo volume} commands); the HTTP layer only validates input
 * and maps outcomes to status codes. Methods block: call them off an event loop.
 */
public final class VolumeService {
    private final Pool pool;
    private final SimpleExportRegistry registry;
    private final NbdServer nbd;

    public VolumeService(Pool pool, SimpleExportRegistry registry, NbdServer nbd) {
        this.pool = pool;
        this.registry = registry;
        this.nbd = nbd;
    }

    /** A delete refused because NBD clients are connected to the volume (and it was not forced). */
    public static final class VolumeBusyException extends VdoException {
        private final int connections;

        VolumeBusyException(String name, int connections) {
            super(Errno.EBUSY, "volume " + name + " has " + connections + " NBD connection(s)");
            this.connections = connections;
        }

        public int connections() { return connections; }
    }

    /** Creates a volume ({@code engine} null: the pool's default) and exports it at once. */
    public Volume create(String name, long bytes, String engine) throws IOException {
        Volume v = engine == null ? pool.createVolume(name, bytes) : pool.createVolume(name, bytes, engine);
        registry.add(v);
        return v;
    }

    /**
     * Deletes a volume. While clients are connected it is refused ({@link VolumeBusyException})
     * unless {@code force}, which closes their connections first (waiting at most 30 s). The
     * export is withdrawn before the count that decides, so no new client can pick the volume in
     * between; on any failure the export comes back unless the volume is gone. Returns the number
     * of connections closed.
     */
    public int delete(Volume v, boolean force) throws IOException {
        String name = v.name();
        int users = nbd.connectionsTo(name);
        if (users > 0 && !force) throw new VolumeBusyException(name, users);
        // no new client can pick it from here on; one that picked it just now is seen below
        registry.remove(name);
        users = nbd.connectionsTo(name);
        if (users > 0 && !force) {
            registry.add(v);
            throw new VolumeBusyException(name, users);
        }
        if (users > 0) nbd.closeConnectionsTo(name, 30);
        try {
            pool.deleteVolume(name);
        } catch (RuntimeException | IOException e) {
            if (!v.isDeleted()) registry.add(v);
            throw e;
        }
        return users;
    }

    /** Grows a volume while it is in use (its export follows the new size). */
    public void resize(Volume v, long bytes) throws IOException { pool.resizeVolume(v.name(), bytes); }

    /** Sets the compression engine for the volume's new writes. */
    public void setEngine(Volume v, String engine) throws IOException { pool.setVolumeEngine(v.name(), engine); }
}
