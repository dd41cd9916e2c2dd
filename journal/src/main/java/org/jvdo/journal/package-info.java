package org.jvdo.journal;
