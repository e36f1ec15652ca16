/**
 * Validation of a RecordBatch v2: whether bytes are a sound batch before they are
 * stored (a follower's replicated batches), while recovery walks a segment, and right
 * after a read before they are served. The checks stop at the batch level (header,
 * length, CRC, offsets); the decoder checks each record's fields as it reads them.
 */
import { crc32c } from '../util/crc32c.js';
import {
  ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, BATCH_LENGTH_OFFSET,
  CRC_OFFSET, FORMAT_MASK, KEY_FORMAT_SHIFT, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, MAGIC, MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET, PRODUCER_ID_OFFSET, RECORD_COUNT_OFFSET, VALUE_FORMAT_SHIFT, readInt64,
} from './layout.js';

/**
 * Why the 61-byte header at `position` cannot start a sound batch, or null. Checks
 * only the header: not the CRC, nor that the whole batch is in `buf`.
 */
export function headerProblem(buf: Buffer, position: number): string | null {
  if (position < 0 || buf.length - position < BATCH_HEADER_BYTES) {
    return `${buf.length - position} bytes remain, fewer than a ${BATCH_HEADER_BYTES}-byte header`;
  }
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_LENGTH_MIN) return `batchLength ${batchLength} is below the minimum ${BATCH_LENGTH_MIN}`;
  const magic = buf.readInt8(position + MAGIC_OFFSET);
  if (magic !== MAGIC) return `magic ${magic} is not ${MAGIC}`;
  const attributes = buf.readInt16BE(position + ATTRIBUTES_OFFSET);
  if (((attributes >> KEY_FORMAT_SHIFT) & FORMAT_MASK) === FORMAT_MASK || ((attributes >> VALUE_FORMAT_SHIFT) & FORMAT_MASK) === FORMAT_MASK) {
    return `attributes 0x${attributes.toString(16)} name an unknown key or value format`;
  }
  const baseOffset = readInt64(buf, position + BASE_OFFSET_OFFSET);
  if (!(baseOffset >= 0) || !Number.isSafeInteger(baseOffset + buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET))) {
    return 'baseOffset or lastOffset is negative or outside the safe integer range';
  }
  if (Number.isNaN(readInt64(buf, position + BASE_TIMESTAMP_OFFSET)) || Number.isNaN(readInt64(buf, position + MAX_TIMESTAMP_OFFSET)) ||
      Number.isNaN(readInt64(buf, position + PRODUCER_ID_OFFSET))) {
    return 'a timestamp or the producerId is outside the safe integer range';
  }
  return null;
}

/**
 * Why the batch at `position` is not sound, or null when it is: a representable
 * header, whole (its length within the buffer), CRC-32C matching, at least one record
 * with contiguous offsets and, if given, the expected baseOffset.
 */
export function validateBatch(buf: Buffer, position = 0, expectedBaseOffset?: number): string | null {
  return checkBatch(buf, position, expectedBaseOffset, false);
}

/**
 * validateBatch for a batch read back from a log, which compaction may have cleaned
 * (cleanup.policy=compact): records may be missing inside it (fewer records than
 * lastOffsetDelta + 1; baseOffset and lastOffsetDelta are kept) and whole batches may
 * be missing before it, so its baseOffset need only be at or above `minBaseOffset`.
 */
export function validateStoredBatch(buf: Buffer, position = 0, minBaseOffset?: number): string | null {
  return checkBatch(buf, position, minBaseOffset, true);
}

function checkBatch(buf: Buffer, position: number, expectedBaseOffset: number | undefined, allowsGaps: boolean): string | null {
  const problem = headerProblem(buf, position);
  if (problem !== null) return problem;
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  const followingBytes = buf.length - position - LOG_OVERHEAD_BYTES;
  if (batchLength > followingBytes) return `batchLength ${batchLength} runs past the end of the buffer (${followingBytes} bytes follow)`;
  const storedCrc = buf.readUInt32BE(position + CRC_OFFSET);
  const computedCrc = crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, position + LOG_OVERHEAD_BYTES + batchLength));
  if (storedCrc !== computedCrc) return `CRC ${storedCrc.toString(16)} does not match the computed ${computedCrc.toString(16)}`;
  const recordCount = buf.readInt32BE(position + RECORD_COUNT_OFFSET);
  if (recordCount < 1) return `recordCount ${recordCount} is below 1`;
  const lastOffsetDelta = buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
  if (allowsGaps ? lastOffsetDelta < recordCount - 1 : lastOffsetDelta !== recordCount - 1) {
    return `lastOffsetDelta ${lastOffsetDelta} is not recordCount - 1 (${recordCount - 1})${allowsGaps ? ' or more' : ''}`;
  }
  const baseOffset = readInt64(buf, position + BASE_OFFSET_OFFSET);
  if (expectedBaseOffset !== undefined && (allowsGaps ? baseOffset < expectedBaseOffset : baseOffset !== expectedBaseOffset)) {
    return `baseOffset ${baseOffset} is not the expected ${expectedBaseOffset}${allowsGaps ? ' or above' : ''}`;
  }
  return null;
}
