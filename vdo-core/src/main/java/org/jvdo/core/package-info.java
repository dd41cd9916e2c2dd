/**
 * The jvdo engine: a pool of deduplicated, compressed 4 KiB blocks shared by volumes.
 * {@link org.jvdo.core.Pool} builds the parts and runs the lifecycle; {@link org.jvdo.core.Volume}
 * is a volume's {@code BlockDevice}. The parts, each depending only on those after it:
 * {@code volumes} (administration, engines), {@code durability} (flush, checkpoint, recovery,
 * read-only mode, slab space), {@code write} (the pipeline, one class per stage), {@code read},
 * {@code index}, {@code physical} (slab depot, super block, files), {@code logical} (block maps),
 * {@code compress}, {@code api} (config, errors, the device and store interfaces).
 */
package org.jvdo.core;
