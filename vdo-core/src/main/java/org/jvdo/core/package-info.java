package org.jvdo.core;
