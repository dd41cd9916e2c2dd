package org.jvdo.nbd.cli;

/** The command was fine but could not be done (no server to ask, a refused start): one line on stderr, exit code 1. */
final class Failure extends RuntimeException {
    Failure(String message) {
        super(message);
    }
}
