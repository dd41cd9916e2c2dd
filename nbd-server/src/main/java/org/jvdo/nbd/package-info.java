/**
 * The NBD (Network Block Device) protocol server of jvdo.
 *
 * <p>{@link org.jvdo.nbd.NbdServer} serves the {@link org.jvdo.core.api.BlockDevice} volumes named
 * by an {@link org.jvdo.nbd.ExportRegistry} over the fixed-newstyle NBD protocol, so that
 * ordinary clients (qemu, libnbd tools, nbdfuse, the kernel's nbd-client) can use a jvdo volume
 * as a disk.
 */
package org.jvdo.nbd;
