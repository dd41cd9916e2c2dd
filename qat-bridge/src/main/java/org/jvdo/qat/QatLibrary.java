package org.jvdo.qat;

import jnr.ffi.LibraryLoader;

import java.io.File;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Loads QATzip with jnr-ffi, once per library name or path. A missing library is an answer
 * ("libqatzip.so.3 not found: ..."), not an exception, so the provider can report it.
 */
public final class QatLibrary {
    /** The loaded library, or why it could not be loaded. */
    public record Loaded(Qatzip lib, String error) {
        public boolean ok() { return lib != null; }
    }

    private static final ConcurrentHashMap<String, Loaded> CACHE = new ConcurrentHashMap<>();

    private QatLibrary() { }

    public static Loaded load(String nameOrPath) {
        return CACHE.computeIfAbsent(nameOrPath, QatLibrary::doLoad);
    }

    private static Loaded doLoad(String nameOrPath) {
        File f = new File(nameOrPath);
        if (f.isAbsolute() && !f.isFile()) return new Loaded(null, nameOrPath + " not found");
        try {
            Qatzip lib = LibraryLoader.create(Qatzip.class).failImmediately().load(nameOrPath);
            return new Loaded(lib, null);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return new Loaded(null, nameOrPath + " not found (" + e.getMessage() + ")");
        }
    }
}
