/**
 * The check of a leader's batches before a follower appends them
 * (PartitionLog.appendAsFollower), as Kafka's appendAsFollower: every batch sound
 * (framing, CRC), each starting at or after the end of the one before and the first at
 * or after the follower's log end, and no leader epoch going back. Offsets may skip:
 * a leader's cleaned (compacted) log has gaps between batches and inside them.
 */
import { readBatchHeader, type BatchHeader } from '../record/header.js';
import { validateStoredBatch } from '../record/validate.js';

export interface CheckedBatches {
  headers: BatchHeader[];
  /** True when some offsets are skipped (between batches, or inside a cleaned one). */
  hasGaps: boolean;
}

/** Throws (naming the offset) unless every batch in `batches` may follow `logEndOffset` and `latestEpoch`. */
export function checkFollowerBatches(batches: Buffer, logEndOffset: number, latestEpoch: number): CheckedBatches {
  const headers: BatchHeader[] = [];
  let expected = logEndOffset;
  let epoch = latestEpoch;
  let hasGaps = false;
  for (let position = 0; position < batches.length;) {
    const problem = validateStoredBatch(batches, position, expected);
    if (problem !== null) throw new Error(`refusing replicated batch at offset ${expected}: ${problem}`);
    const header = readBatchHeader(batches, position);
    // The epoch lies outside the CRC. One going back would trip the epoch cache's
    // assertion halfway through the appends, after earlier batches were written.
    if (header.partitionLeaderEpoch < epoch) {
      throw new Error(`refusing replicated batch at offset ${expected}: leader epoch ${header.partitionLeaderEpoch} is below the latest epoch ${epoch}`);
    }
    hasGaps ||= header.baseOffset > expected || header.lastOffsetDelta >= header.recordCount;
    epoch = header.partitionLeaderEpoch;
    headers.push(header);
    expected = header.lastOffset + 1;
    position += header.sizeBytes;
  }
  return { headers, hasGaps };
}
