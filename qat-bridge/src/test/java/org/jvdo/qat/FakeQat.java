package org.jvdo.qat;

import jnr.ffi.LibraryLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Builds the QATzip test double (src/test/c/fake_qatzip.c) with gcc into
 * target/fake-qatzip/libqatzip.so.3 and binds its control functions. Not a skip condition: the
 * build needs only gcc, liblz4-dev and zlib1g-dev, and a failure to build fails the tests.
 */
final class FakeQat {
    /** The test double's control and layout functions (not part of QATzip). */
    public interface Control {
        void fakeqz_set_hardware(int present);
        int fakeqz_inject(String function, int code, int count);
        void fakeqz_set_delay_us(int us);
        long fakeqz_calls(String function);
        void fakeqz_reset();
        long fakeqz_sizeof(String type);
        long fakeqz_offsetof(String type, String field);
    }

    private static Path library;
    private static Control control;

    private FakeQat() { }

    /** The built library's absolute path; also set as {@code jvdo.qat.library} so the provider finds it. */
    static synchronized Path library() throws IOException, InterruptedException {
        if (library == null) {
            Path src = Path.of("src/test/c/fake_qatzip.c").toAbsolutePath();
            Path out = Path.of("target/fake-qatzip/libqatzip.so.3").toAbsolutePath();
            if (!Files.exists(out) || Files.getLastModifiedTime(out).compareTo(Files.getLastModifiedTime(src)) < 0) {
                Files.createDirectories(out.getParent());
                Path tmp = out.resolveSibling("libqatzip.so.3.tmp");
                Process p = new ProcessBuilder("gcc", "-Wall", "-Werror", "-shared", "-fPIC", "-O2", "-o", tmp.toString(),
                        src.toString(), "-llz4", "-lz").redirectErrorStream(true).start();
                String log = new String(p.getInputStream().readAllBytes());
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IllegalStateException("building the QATzip test double failed:\n" + log);
                }
                Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            library = out;
            System.setProperty("jvdo.qat.library", out.toString());
        }
        return library;
    }

    static synchronized Control control() throws IOException, InterruptedException {
        if (control == null) control = LibraryLoader.create(Control.class).failImmediately().load(library().toString());
        return control;
    }

    static Qatzip qatzip() throws IOException, InterruptedException {
        QatLibrary.Loaded l = QatLibrary.load(library().toString());
        if (!l.ok()) throw new IllegalStateException(l.error());
        return l.lib();
    }
}
