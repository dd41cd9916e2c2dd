package org.jvdo.nbd.cli;

/**
 * A command line that cannot be run as given (found after picocli's parsing: a combination of
 * options, a value that contradicts the pool): one line on stderr, exit code 2 (8 for check).
 */
final class UsageError extends RuntimeException {
    UsageError(String message) {
        super(message);
    }
}
