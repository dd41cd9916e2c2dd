/**
 * Packing of compressed fragments into shared 4 KiB physical blocks.
 *
 * <p>{@link org.jvdo.packer.PackedBlock} defines the on-disk format of a packed block and how to
 * find one fragment in it; {@link org.jvdo.packer.Packer} collects fragments from concurrent write
 * requests into {@link org.jvdo.packer.Bin}s and hands full bins to a
 * {@link org.jvdo.packer.BinWriter}. The module depends on nothing but the JDK.
 */
package org.jvdo.packer;
