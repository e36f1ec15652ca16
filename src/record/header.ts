/**
 * The batch header: read whole into a BatchHeader, the size a batch declares, and the
 * two fields the log stamps into a batch after it was encoded (baseOffset and the
 * leader epoch, both outside the CRC so stamping leaves the checksum valid).
 */
import { assert } from '../util/assert.js';
import { CorruptBatchError } from './errors.js';
import {
  ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_LENGTH_MIN, BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK, CONTROL_MASK, CRC_OFFSET, FORMAT_MASK, FORMATS, KEY_FORMAT_SHIFT, LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES, MAGIC, MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_MASK, VALUE_FORMAT_SHIFT, readInt64, writeInt64,
  type TimestampType, type ValueFormat,
} from './layout.js';
import { headerProblem } from './validate.js';

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  /** The whole batch on disk: batchLength + 12. */
  sizeBytes: number;
  lastOffsetDelta: number;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  /** Kafka's codec id from attribute bits 0-2 (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd). */
  compression: number;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  keyFormat: ValueFormat;
  valueFormat: ValueFormat;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/**
 * Reads the 61-byte header at `position` without checking the CRC, so it also works
 * on a header read alone from disk; validateBatch checks the whole batch. Throws
 * CorruptBatchError for a header no sound batch has (magic, lengths, formats, int64s
 * out of range), which validateBatch also reports: a validated batch never throws here.
 */
export function readBatchHeader(buf: Buffer, position = 0): BatchHeader {
  const problem = headerProblem(buf, position);
  if (problem !== null) throw new CorruptBatchError(`batch header at ${position}: ${problem}`);
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  const attributes = buf.readInt16BE(position + ATTRIBUTES_OFFSET);
  const baseOffset = readInt64(buf, position + BASE_OFFSET_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
  return {
    baseOffset,
    batchLength,
    sizeBytes: batchLength + LOG_OVERHEAD_BYTES,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    partitionLeaderEpoch: buf.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET),
    magic: MAGIC,
    crc: buf.readUInt32BE(position + CRC_OFFSET),
    attributes,
    compression: attributes & COMPRESSION_MASK,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) === 0 ? 'CreateTime' : 'LogAppendTime',
    isTransactional: (attributes & TRANSACTIONAL_MASK) !== 0,
    isControl: (attributes & CONTROL_MASK) !== 0,
    keyFormat: FORMATS[(attributes >> KEY_FORMAT_SHIFT) & FORMAT_MASK],
    valueFormat: FORMATS[(attributes >> VALUE_FORMAT_SHIFT) & FORMAT_MASK],
    baseTimestamp: readInt64(buf, position + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buf, position + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buf, position + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(position + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(position + BASE_SEQUENCE_OFFSET),
    recordCount: buf.readInt32BE(position + RECORD_COUNT_OFFSET),
  };
}

/**
 * The size of the batch starting at `position` as its batchLength declares it, or -1
 * when fewer than 12 bytes remain. The batch itself may extend past the buffer (a
 * fetch cut at maxBytes, or a torn write); compare with the bytes available.
 */
export function batchSizeAt(buf: Buffer, position: number): number {
  if (buf.length - position < LOG_OVERHEAD_BYTES) return -1;
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_LENGTH_MIN) {
    throw new CorruptBatchError(`batch at ${position}: batchLength ${batchLength} is below the minimum ${BATCH_LENGTH_MIN}`);
  }
  return batchLength + LOG_OVERHEAD_BYTES;
}

/** Stamps the offset the log assigns; the CRC stays valid because it does not cover it. */
export function setBaseOffset(batch: Buffer, baseOffset: number, position = 0): void {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, () => `baseOffset must be a non-negative safe integer, got ${baseOffset}`);
  writeInt64(batch, baseOffset, position + BASE_OFFSET_OFFSET);
}

/** Stamps the leader's epoch (KIP-101); outside the CRC like baseOffset. */
export function setLeaderEpoch(batch: Buffer, leaderEpoch: number, position = 0): void {
  assert((leaderEpoch | 0) === leaderEpoch, () => `leader epoch must be an int32, got ${leaderEpoch}`);
  batch.writeInt32BE(leaderEpoch, position + PARTITION_LEADER_EPOCH_OFFSET);
}
