/**
 * Intel QAT compression for jvdo through QATzip ({@code libqatzip.so.3}), bound with jnr-ffi (no
 * JNI code of our own): {@link org.jvdo.qat.QatEngine} is an asynchronous
 * {@link org.jvdo.core.compress.CompressionEngine} with one QATzip session per worker thread,
 * found by vdo-core through {@link org.jvdo.qat.QatEngineProvider} under the name {@code qat}.
 */
package org.jvdo.qat;
