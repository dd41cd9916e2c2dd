package org.jvdo.qat;

/** A QATzip call returned a code the engine treats as an error; the message names the function and the code. */
public final class QatException extends RuntimeException {
    private final String function;
    private final int code;

    public QatException(String function, int code) {
        super(function + " returned " + QzStatus.describe(code));
        this.function = function;
        this.code = code;
    }

    public String function() { return function; }

    public int code() { return code; }

    public QzStatus status() { return QzStatus.of(code); }
}
