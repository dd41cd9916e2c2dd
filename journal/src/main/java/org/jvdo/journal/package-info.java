/**
 * Recovery journal (write-ahead log) for block-map changes: a ring of checksummed 4 KiB blocks
 * inside a caller-provided region, with group commit, trimming after checkpoints and replay on open.
 */
package org.jvdo.journal;
