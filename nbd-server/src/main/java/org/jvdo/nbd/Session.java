package org.jvdo.nbd;

import org.jvdo.core.api.BlockDevice;

/**
 * What the handshake negotiated, handed to the transmission phase and never changed after:
 * the export and its device, whether structured replies and the {@code base:allocation} meta
 * context were agreed, and the transmission flags the client was told. Owns nothing.
 *
 * @param exportName the name the client picked (the device's name)
 * @param device the export being served
 * @param structured NBD_OPT_STRUCTURED_REPLY was acknowledged
 * @param baseAllocation NBD_OPT_SET_META_CONTEXT selected {@code base:allocation}
 * @param transmissionFlags the NBD_FLAG_* sent with the export
 */
record Session(String exportName, BlockDevice device, boolean structured, boolean baseAllocation,
        int transmissionFlags) {
}
