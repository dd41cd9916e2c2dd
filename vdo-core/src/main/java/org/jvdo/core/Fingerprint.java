package org.jvdo.core;

/** A block's 128-bit XXH3 fingerprint, as the key of the hash-lock table. */
record Fingerprint(long high, long low) { }
