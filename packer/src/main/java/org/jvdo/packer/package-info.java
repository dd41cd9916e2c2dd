package org.jvdo.packer;
