package org.jvdo.core;

import org.jvdo.core.api.BlockStore;
import org.jvdo.core.index.MemoryIndex;
import org.jvdo.core.logical.BlockMap;
import org.jvdo.core.logical.BlockMapTree;
import org.jvdo.core.logical.Mapping;
import org.jvdo.core.physical.SlabDepot;
import org.jvdo.core.physical.SuperBlock;

import org.junit.jupiter.api.Test;
import org.jvdo.core.compress.FragmentCodec;
import org.jvdo.packer.PackedBlock;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The numeric codes stored on disk, as asserted constants: the volume record's engine byte, the
 * packed-block fragment encodings, the format versions and magics, and the index file's location
 * encoding. Changing any of them is an on-disk format change and must bump the pool format
 * version (see {@link org.jvdo.testsupport.GoldenBytes}).
 */
class GoldenCodesTest {
    @Test
    void engineCodesInTheVolumeRecordAreUnchanged() {
        assertEquals(0, Pool.ENGINE_LZ4);
        assertEquals(1, Pool.ENGINE_QAT);
        assertEquals(2, Pool.ENGINE_NONE);
    }

    @Test
    void fragmentEncodingsAreUnchangedAndAgreeWithThePackedBlock() {
        assertEquals(0, FragmentCodec.LZ4_BLOCK);
        assertEquals(1, FragmentCodec.LZ4_FRAME);
        assertEquals(2, FragmentCodec.DEFLATE);
        assertEquals(PackedBlock.ENCODING_LZ4_BLOCK, FragmentCodec.LZ4_BLOCK);
        assertEquals(PackedBlock.ENCODING_LZ4_FRAME, FragmentCodec.LZ4_FRAME);
        assertEquals(PackedBlock.ENCODING_DEFLATE, FragmentCodec.DEFLATE);
        assertEquals(Mapping.MAX_SLOTS, PackedBlock.MAX_FRAGMENTS);
    }

    @Test
    void versionsAndMagicsAreUnchanged() {
        assertEquals(3, SuperBlock.MAJOR);
        assertEquals(1, SuperBlock.MINOR); // 3.1: the owner epoch (docs/cluster.md)
        assertEquals(0x4C4F4F504F44564AL, SuperBlock.MAGIC);
        assertEquals(8, SuperBlock.COPY_BLOCKS);
        assertEquals(16, SuperBlock.JOURNAL_START);
        assertEquals(64, SuperBlock.MAX_NAME);
        assertEquals(64, SuperBlock.MAX_VOLUMES);
        assertEquals(0x4D42, BlockMap.PAGE_MAGIC);
        assertEquals(2, BlockMap.PAGE_VERSION);
        assertEquals(340, BlockMap.ENTRIES_PER_PAGE);
        assertEquals(0x5442, BlockMapTree.MAGIC);
        assertEquals(1, BlockMapTree.VERSION);
        assertEquals(16, BlockMapTree.HEADER);
        assertEquals(32_640, BlockMapTree.BITS_PER_PAGE);
        assertEquals(254, SlabDepot.MAX_REFS);
        assertEquals(4096, BlockStore.BLOCK_SIZE);
    }

    @Test
    void indexLocationEncodingIsUnchanged() {
        assertEquals((0x123L << 4) | 1, MemoryIndex.encodeLocation(Mapping.raw(0x123)));
        assertEquals((0x123L << 4) | 2, MemoryIndex.encodeLocation(Mapping.packed(0x123, 0)));
        assertEquals((0x123L << 4) | 15, MemoryIndex.encodeLocation(Mapping.packed(0x123, 13)));
        assertEquals(-1, MemoryIndex.encodeLocation(Mapping.ZERO_ENTRY));
        assertEquals(-1, MemoryIndex.encodeLocation(Mapping.raw(1L << 36))); // beyond 36 bits: not indexed
        assertEquals(Mapping.packed(0x123, 13), MemoryIndex.decodeLocation((0x123L << 4) | 15));
    }
}
