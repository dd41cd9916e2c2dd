package org.jvdo.core;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Opts a test method (or a whole class) out of {@link RefcountInvariant}: for tests that break
 * the reference-count invariant on purpose (or cannot let it be checked) and leave a pool open or
 * close it that way. The reason is required and should say what is broken and why that is the
 * point of the test. For a parameterized test, {@link #cases} narrows the opt-out to the
 * invocations that need it.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
@interface SkipRefcountInvariant {
    /** Why the invariant does not hold in this test. */
    String value();

    /** Only the invocations whose display name contains one of these; none: every invocation. */
    String[] cases() default {};
}
