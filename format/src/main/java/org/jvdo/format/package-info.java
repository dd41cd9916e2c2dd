/**
 * The on-disk format of a pool: every structure jvdo writes, declared once, with named offsets
 * and sizes, magic and version numbers, and the encoding and decoding of plain values. The
 * runtime classes ({@code SuperBlock}, {@code BlockMap}, {@code SlabDepot}, {@code PackedBlock},
 * {@code JournalBlockFormat}, ...) keep their state and their validation and call these.
 *
 * <p><b>Any change in this package is a format change</b>: bump the version of the structure it
 * touches (and the pool format version when an older jvdo would misread it), and describe it in
 * the "On-disk format" section of {@code docs/architecture.md}. The golden-byte tests of journal,
 * packer and vdo-core pin the bytes this package produces.
 *
 * <p>JDK only, no dependencies. All integers are little-endian except in the index file
 * ({@link org.jvdo.format.IndexFileLayout}), which is big-endian.
 */
package org.jvdo.format;
