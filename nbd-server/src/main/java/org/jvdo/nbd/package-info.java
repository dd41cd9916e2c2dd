package org.jvdo.nbd;
