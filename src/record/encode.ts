/**
 * The RecordBatch v2 encoder: records in, one new batch out. Two passes over the
 * records: the first sizes every record body, the second writes into the one buffer
 * allocated for the whole batch; the CRC is computed last, over the written bytes.
 */
import { assert } from '../util/assert.js';
import { crc32c } from '../util/crc32c.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../util/varint.js';
import { setBaseOffset } from './header.js';
import {
  ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, CRC_OFFSET,
  FORMATS, KEY_FORMAT_SHIFT, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, MAGIC, MAGIC_OFFSET, MAX_TIMESTAMP_OFFSET,
  NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET, RECORDS_OFFSET, TIMESTAMP_TYPE_MASK, VALUE_FORMAT_SHIFT, writeInt64,
  type TimestampType, type ValueFormat,
} from './layout.js';

const NO_HEADERS: ReadonlyArray<readonly [string, Buffer | null]> = [];

export interface RecordInput {
  key: Buffer | null;
  /** The value; null for none, or when valueSource holds it. */
  value: Buffer | null;
  headers: Array<[string, Buffer | null]> | null;
  timestampMs: number;
  /**
   * A value that is a span of a larger buffer (a scanned produce body): bytes
   * [valueStart, valueEnd) of it, copied once, into the batch, with no Buffer of its own.
   */
  valueSource?: Buffer;
  valueStart?: number;
  valueEnd?: number;
}

/** The bytes of a record's value, -1 when it has none. */
export function valueLength(record: RecordInput): number {
  if (record.valueSource !== undefined) return (record.valueEnd as number) - (record.valueStart as number);
  return record.value === null ? -1 : record.value.length;
}

export interface EncodeBatchOptions {
  baseOffset?: number;
  leaderEpoch: number;
  timestampType: TimestampType;
  /** Required with LogAppendTime: becomes baseTimestamp and maxTimestamp. */
  logAppendTimeMs?: number;
  keyFormat: ValueFormat;
  valueFormat: ValueFormat;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

// Body sizes from encodeBatch's sizing pass, reused by its writing pass. Encoding is
// synchronous, so one module-level scratch array serves every call without allocating.
let recordBodySizes = new Int32Array(1024);

/** Encodes `records` into one new batch: sizes first, one allocation, CRC last. */
export function encodeBatch(records: readonly RecordInput[], options: EncodeBatchOptions): Buffer {
  const recordCount = records.length;
  assert(recordCount >= 1, 'a record batch holds at least one record');
  const isLogAppendTime = options.timestampType === 'LogAppendTime';
  let baseTimestamp: number;
  let maxTimestamp: number;
  if (isLogAppendTime) {
    const logAppendTimeMs = options.logAppendTimeMs;
    assert(Number.isSafeInteger(logAppendTimeMs), () => `LogAppendTime needs logAppendTimeMs, got ${logAppendTimeMs}`);
    baseTimestamp = logAppendTimeMs as number;
    maxTimestamp = baseTimestamp;
  } else {
    baseTimestamp = records[0].timestampMs;
    maxTimestamp = baseTimestamp;
  }
  if (recordBodySizes.length < recordCount) {
    recordBodySizes = new Int32Array(2 ** Math.ceil(Math.log2(recordCount)));
  }
  let recordsBytes = 0;
  for (let i = 0; i < recordCount; i++) {
    const record = records[i];
    let timestampDelta = 0;
    if (!isLogAppendTime) {
      assert(Number.isSafeInteger(record.timestampMs), () => `record ${i} timestamp ${record.timestampMs} is not a safe integer`);
      if (record.timestampMs > maxTimestamp) maxTimestamp = record.timestampMs;
      timestampDelta = record.timestampMs - baseTimestamp;
      assert(Number.isSafeInteger(timestampDelta), () => `record ${i} timestamp is too far from the first record's`);
    }
    const bodySize = sizeOfRecordBody(record, timestampDelta, i);
    recordBodySizes[i] = bodySize;
    recordsBytes += sizeOfVarint(bodySize) + bodySize;
  }
  const sizeBytes = BATCH_HEADER_BYTES + recordsBytes;
  assert(sizeBytes - LOG_OVERHEAD_BYTES <= 0x7fffffff, () => `a batch of ${sizeBytes} bytes does not fit batchLength`);

  const batch = Buffer.allocUnsafe(sizeBytes);
  writeHeader(batch, options, recordCount, baseTimestamp, maxTimestamp);
  let position = RECORDS_OFFSET;
  for (let i = 0; i < recordCount; i++) {
    const timestampDelta = isLogAppendTime ? 0 : records[i].timestampMs - baseTimestamp;
    position = writeRecord(batch, records[i], i, recordBodySizes[i], timestampDelta, position);
  }
  assert(position === sizeBytes, () => `batch wrote ${position} of ${sizeBytes} sized bytes`);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

/** Writes the 61-byte header, all but the CRC. */
function writeHeader(batch: Buffer, options: EncodeBatchOptions, recordCount: number, baseTimestamp: number, maxTimestamp: number): void {
  setBaseOffset(batch, options.baseOffset ?? 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(options.leaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(MAGIC, MAGIC_OFFSET);
  batch.writeInt16BE(
    (options.timestampType === 'LogAppendTime' ? TIMESTAMP_TYPE_MASK : 0) |
      (formatBits(options.keyFormat) << KEY_FORMAT_SHIFT) |
      (formatBits(options.valueFormat) << VALUE_FORMAT_SHIFT),
    ATTRIBUTES_OFFSET,
  );
  batch.writeInt32BE(recordCount - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(batch, baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64(batch, maxTimestamp, MAX_TIMESTAMP_OFFSET);
  writeInt64(batch, options.producerId ?? NO_PRODUCER_ID, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(options.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(options.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(recordCount, RECORD_COUNT_OFFSET);
}

/** Writes record `offsetDelta` (its length first) at `position`; returns the position after it. */
function writeRecord(batch: Buffer, record: RecordInput, offsetDelta: number, bodySize: number, timestampDelta: number, start: number): number {
  let position = writeVarint(batch, bodySize, start);
  const bodyEnd = position + bodySize;
  batch[position++] = 0; // Record attributes: Kafka defines none.
  position = writeVarlong(batch, timestampDelta, position);
  position = writeVarint(batch, offsetDelta, position);
  position = writeNullableBytes(batch, record.key, position);
  if (record.valueSource === undefined) {
    position = writeNullableBytes(batch, record.value, position);
  } else {
    const source = record.valueSource;
    const length = valueLength(record);
    position = writeVarint(batch, length, position);
    // A plain view and set: Buffer#copy's argument checks cost more than copying a 100-byte value.
    batch.set(new Uint8Array(source.buffer, source.byteOffset + (record.valueStart as number), length), position);
    position += length;
  }
  const headers = record.headers ?? NO_HEADERS;
  position = writeVarint(batch, headers.length, position);
  for (let h = 0; h < headers.length; h++) {
    const header = headers[h];
    const keyBytes = Buffer.byteLength(header[0], 'utf8');
    position = writeVarint(batch, keyBytes, position);
    position += batch.write(header[0], position, keyBytes, 'utf8');
    position = writeNullableBytes(batch, header[1], position);
  }
  assert(position === bodyEnd, () => `record ${offsetDelta} wrote ${position - bodyEnd} bytes more than it was sized for`);
  return position;
}

function sizeOfRecordBody(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += record.key === null ? 1 : sizeOfVarint(record.key.length) + record.key.length;
  const valueBytes = valueLength(record);
  size += valueBytes < 0 ? 1 : sizeOfVarint(valueBytes) + valueBytes;
  const headers = record.headers ?? NO_HEADERS;
  size += sizeOfVarint(headers.length);
  for (let h = 0; h < headers.length; h++) {
    const header = headers[h];
    const keyBytes = Buffer.byteLength(header[0], 'utf8');
    const value = header[1];
    size += sizeOfVarint(keyBytes) + keyBytes + (value === null ? 1 : sizeOfVarint(value.length) + value.length);
  }
  return size;
}

function formatBits(format: ValueFormat): number {
  const bits = FORMATS.indexOf(format);
  assert(bits >= 0, () => `unknown record format ${String(format)}`);
  return bits;
}

function writeNullableBytes(batch: Buffer, bytes: Buffer | null, position: number): number {
  if (bytes === null) return writeVarint(batch, -1, position);
  const start = writeVarint(batch, bytes.length, position);
  return start + bytes.copy(batch, start);
}
