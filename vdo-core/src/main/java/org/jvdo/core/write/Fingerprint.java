package org.jvdo.core.write;

/** A block's XXH3-128 fingerprint, the key of its hash lock. */
record Fingerprint(long high, long low, boolean internal) { }
