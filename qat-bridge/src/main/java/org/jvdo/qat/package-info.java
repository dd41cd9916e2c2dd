/** Intel QAT compression engine (issue 5): not built yet. */
package org.jvdo.qat;
