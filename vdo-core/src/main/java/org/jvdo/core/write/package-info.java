/**
 * The write path, one class per stage. {@link org.jvdo.core.write.WritePipeline} draws the whole
 * path and hands each {@link org.jvdo.core.write.DataVio} from stage to stage; in path order:
 * <ol>
 * <li>{@code Admission}: split into vios, join the LBN queue, merge partial writes, early ack;</li>
 * <li>{@code LogicalLocks}: the per-LBN queues (and how reads meet them);</li>
 * <li>{@code ZeroCheck}: trim, write-zeroes, all-zero blocks;</li>
 * <li>{@code HashLocks}: fingerprint, hash lock, and (after the write) the index update;</li>
 * <li>{@code Dedupe}: index advice and byte-for-byte verify;</li>
 * <li>{@code CompressionHandoff}: to the engine and back, into the packer;</li>
 * <li>{@code PhysicalWrite}: allocate, write raw or packed;</li>
 * <li>{@code MappingUpdate}: journal entry, block map, reference counts;</li>
 * <li>{@code Release}: leave the LBN queue, back to the vio pool; and failures.</li>
 * </ol>
 * What the stages need from outside is narrow: {@code JournalAppender}, {@code Faults},
 * {@code PipelineThreads}, the slab depot, the index and the block store.
 */
package org.jvdo.core.write;
