/**
 * Kafka's RecordBatch v2 (magic 2, KIP-98), the unit Runnel appends, stores, replicates
 * and serves. All integers are big-endian; positions are relative to the batch start.
 *
 *   @0  baseOffset           int64   first offset of the batch; outside the CRC
 *   @8  batchLength          int32   bytes after this field (total size - 12)
 *   @12 partitionLeaderEpoch int32   outside the CRC
 *   @16 magic                int8    always 2
 *   @17 crc                  uint32  CRC-32C of the bytes from @21 to the end
 *   @21 attributes           int16   see below
 *   @23 lastOffsetDelta      int32   recordCount - 1 (Runnel never compacts)
 *   @27 baseTimestamp        int64   first record's timestamp
 *   @35 maxTimestamp         int64
 *   @43 producerId           int64   -1 when not idempotent
 *   @51 producerEpoch        int16   -1 when not idempotent
 *   @53 baseSequence         int32   -1 when not idempotent
 *   @57 recordCount          int32
 *   @61 records: length varint, attributes int8 (0), timestampDelta varlong,
 *       offsetDelta varint, keyLength varint (-1 = null) + key, valueLength varint
 *       (-1 = null) + value, headerCount varint, then per header keyLength varint +
 *       UTF-8 key, valueLength varint (-1 = null) + value.
 *
 * Attributes: bits 0-2 compression (Runnel writes 0 and refuses to decode anything
 * else), bit 3 timestampType (0 CreateTime, 1 LogAppendTime), bit 4 transactional,
 * bit 5 control, bit 6 Kafka's delete horizon (unused here). Runnel keeps Kafka's
 * spare bits 8-9 for keyFormat and 10-11 for valueFormat (0 binary, 1 string, 2 json)
 * so a fetch returns values in the format they were produced in; Kafka readers ignore
 * those bits.
 *
 * baseOffset and partitionLeaderEpoch lie outside the CRC on purpose: the leader stamps
 * them into a batch the broker encoded without recomputing its checksum, and followers
 * store the leader's bytes unchanged. With LogAppendTime every record reports the
 * batch's maxTimestamp (Kafka's rule), so the encoder writes zero timestamp deltas.
 *
 * Offsets and timestamps are JS numbers; an int64 outside +-(2^53 - 1) is treated as
 * corruption. Decoding returns key and value as views into the batch (no copies), so a
 * decoded record keeps its batch's buffer alive.
 */
import { assert } from '../util/assert.js';
import { crc32c } from '../util/crc32c.js';
import { readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, varintNextOffset, writeVarint, writeVarlong } from '../util/varint.js';

export const MAGIC = 2;
export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes batchLength does not count (Kafka's LOG_OVERHEAD). */
export const LOG_OVERHEAD_BYTES = 12;
export const BATCH_LENGTH_MIN = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_MASK = 0x08;
const TRANSACTIONAL_MASK = 0x10;
const CONTROL_MASK = 0x20;
const KEY_FORMAT_SHIFT = 8;
const VALUE_FORMAT_SHIFT = 10;
const FORMAT_MASK = 0x03;
/** length, attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount. */
const RECORD_BYTES_MIN = 7;
const TWO_POW_32 = 4294967296;

export type ValueFormat = 'binary' | 'string' | 'json';
export type TimestampType = 'CreateTime' | 'LogAppendTime';
const FORMATS: readonly ValueFormat[] = ['binary', 'string', 'json'];
const NO_HEADERS: ReadonlyArray<readonly [string, Buffer | null]> = [];

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer | null]> | null;
  timestampMs: number;
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

export interface DecodedRecord {
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer | null]>;
}

/** Bytes that are not a sound batch: torn, overwritten, or never a batch at all. */
export class CorruptBatchError extends Error {
  override name = 'CorruptBatchError';
  /** Kafka's name for this error (CorruptRecordException). */
  readonly code = 'CORRUPT_MESSAGE';
}

/** A sound batch whose records are compressed, which Runnel neither writes nor reads. */
export class UnsupportedCompressionError extends Error {
  override name = 'UnsupportedCompressionError';
  readonly code = 'UNSUPPORTED_COMPRESSION_TYPE';
  constructor(readonly compression: number) {
    super(`record batch uses compression codec ${compression}; Runnel reads only uncompressed batches`);
  }
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
  setBaseOffset(batch, options.baseOffset ?? 0);
  batch.writeInt32BE(sizeBytes - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(options.leaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(MAGIC, MAGIC_OFFSET);
  batch.writeInt16BE(
    (isLogAppendTime ? TIMESTAMP_TYPE_MASK : 0) |
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

  let position = RECORDS_OFFSET;
  for (let i = 0; i < recordCount; i++) {
    const record = records[i];
    const bodySize = recordBodySizes[i];
    position = writeVarint(batch, bodySize, position);
    const bodyEnd = position + bodySize;
    batch[position++] = 0; // Record attributes: Kafka defines none.
    position = writeVarlong(batch, isLogAppendTime ? 0 : record.timestampMs - baseTimestamp, position);
    position = writeVarint(batch, i, position);
    position = writeNullableBytes(batch, record.key, position);
    position = writeNullableBytes(batch, record.value, position);
    const headers = record.headers ?? NO_HEADERS;
    position = writeVarint(batch, headers.length, position);
    for (let h = 0; h < headers.length; h++) {
      const header = headers[h];
      const keyBytes = Buffer.byteLength(header[0], 'utf8');
      position = writeVarint(batch, keyBytes, position);
      position += batch.write(header[0], position, keyBytes, 'utf8');
      position = writeNullableBytes(batch, header[1], position);
    }
    assert(position === bodyEnd, () => `record ${i} wrote ${position - bodyEnd} bytes more than it was sized for`);
  }
  assert(position === sizeBytes, () => `batch wrote ${position} of ${sizeBytes} sized bytes`);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

function sizeOfRecordBody(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += record.key === null ? 1 : sizeOfVarint(record.key.length) + record.key.length;
  size += record.value === null ? 1 : sizeOfVarint(record.value.length) + record.value.length;
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

function writeInt64(buf: Buffer, value: number, position: number): void {
  assert(Number.isSafeInteger(value), () => `int64 field at ${position} must be a safe integer, got ${value}`);
  const high = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(high, position);
  buf.writeUInt32BE(value - high * TWO_POW_32, position + 4);
}

/** Returns the int64 at `position`, or NaN when it lies outside the safe integer range. */
function readInt64(buf: Buffer, position: number): number {
  const value = buf.readInt32BE(position) * TWO_POW_32 + buf.readUInt32BE(position + 4);
  return Number.isSafeInteger(value) ? value : NaN;
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

/**
 * Why the 61-byte header at `position` cannot start a sound batch, or null. Checks
 * only the header: not the CRC, nor that the whole batch is in `buf`.
 */
function headerProblem(buf: Buffer, position: number): string | null {
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
  if (lastOffsetDelta !== recordCount - 1) return `lastOffsetDelta ${lastOffsetDelta} is not recordCount - 1 (${recordCount - 1})`;
  const baseOffset = readInt64(buf, position + BASE_OFFSET_OFFSET);
  if (expectedBaseOffset !== undefined && baseOffset !== expectedBaseOffset) {
    return `baseOffset ${baseOffset} is not the expected ${expectedBaseOffset}`;
  }
  return null;
}

export function isBatchValid(buf: Buffer, position = 0, expectedBaseOffset?: number): boolean {
  return validateBatch(buf, position, expectedBaseOffset) === null;
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

/**
 * Yields the position of each whole batch in a buffer of concatenated batches and
 * stops before a trailing partial one, as Kafka's log input streams do. It checks
 * lengths only; validate or decode each batch before trusting it.
 */
export function* batchPositions(buf: Buffer, position = 0): Generator<number, void, undefined> {
  let next = position;
  while (true) {
    const sizeBytes = batchSizeAt(buf, next);
    if (sizeBytes < 0 || sizeBytes > buf.length - next) return;
    yield next;
    next += sizeBytes;
  }
}

// The decode cursor, shared by decodeRecords and its helpers instead of returning
// positions in objects; decoding is synchronous, so nothing else can move it.
let cursor = 0;

/**
 * Validates the batch at `position` (CRC included) and decodes its records. Keys and
 * values are subarray views into `batch`. Throws CorruptBatchError for any malformed
 * byte and UnsupportedCompressionError for a compressed batch.
 */
export function decodeRecords(batch: Buffer, position = 0): DecodedRecord[] {
  const problem = validateBatch(batch, position);
  if (problem !== null) throw new CorruptBatchError(`batch at ${position}: ${problem}`);
  const header = readBatchHeader(batch, position);
  if (header.compression !== 0) throw new UnsupportedCompressionError(header.compression);
  const end = position + header.sizeBytes;
  const recordCount = header.recordCount;
  if (recordCount > (end - position - RECORDS_OFFSET) / RECORD_BYTES_MIN) {
    throw new CorruptBatchError(`batch at ${position}: ${recordCount} records cannot fit in ${header.sizeBytes} bytes`);
  }
  const isLogAppendTime = header.timestampType === 'LogAppendTime';
  const records = new Array<DecodedRecord>(recordCount);
  let previousOffsetDelta = -1;
  cursor = position + RECORDS_OFFSET;
  try {
    for (let i = 0; i < recordCount; i++) {
      const bodySize = readVarint(batch, cursor);
      cursor = varintNextOffset;
      const recordEnd = cursor + bodySize;
      if (bodySize < RECORD_BYTES_MIN - 1 || recordEnd > end) {
        throw new CorruptBatchError(`record ${i}: length ${bodySize} does not fit the batch`);
      }
      cursor++; // Record attributes: unused by Kafka and Runnel.
      const timestampDelta = readVarlong(batch, cursor);
      const offsetDelta = readVarint(batch, varintNextOffset);
      cursor = varintNextOffset;
      if (offsetDelta <= previousOffsetDelta || offsetDelta > header.lastOffsetDelta) {
        throw new CorruptBatchError(`record ${i}: offsetDelta ${offsetDelta} is out of order or past lastOffsetDelta`);
      }
      previousOffsetDelta = offsetDelta;
      const timestampMs = isLogAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta;
      if (!Number.isSafeInteger(timestampMs)) throw new CorruptBatchError(`record ${i}: timestamp is outside the safe integer range`);
      const key = readNullableBytes(batch, recordEnd);
      const value = readNullableBytes(batch, recordEnd);
      const headerCount = readVarint(batch, cursor);
      cursor = varintNextOffset;
      if (headerCount < 0 || headerCount > (recordEnd - cursor) / 2) {
        throw new CorruptBatchError(`record ${i}: headerCount ${headerCount} does not fit the record`);
      }
      const headers = new Array<[string, Buffer | null]>(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const keyBytes = readVarint(batch, cursor);
        cursor = varintNextOffset;
        if (keyBytes < 0 || cursor + keyBytes > recordEnd) {
          throw new CorruptBatchError(`record ${i}: header ${h} key length ${keyBytes} is invalid`);
        }
        const headerKey = batch.toString('utf8', cursor, cursor + keyBytes);
        cursor += keyBytes;
        headers[h] = [headerKey, readNullableBytes(batch, recordEnd)];
      }
      if (cursor !== recordEnd) throw new CorruptBatchError(`record ${i}: ${recordEnd - cursor} bytes left over`);
      records[i] = { offset: header.baseOffset + offsetDelta, timestampMs, key, value, headers };
    }
  } catch (error) {
    // The varint readers report overruns as RangeErrors; inside a batch they mean corruption.
    if (error instanceof RangeError) throw new CorruptBatchError(`batch at ${position}: ${error.message}`);
    throw error;
  }
  if (cursor !== end) throw new CorruptBatchError(`batch at ${position}: ${end - cursor} bytes after the last record`);
  return records;
}

function readNullableBytes(batch: Buffer, recordEnd: number): Buffer | null {
  const length = readVarint(batch, cursor);
  cursor = varintNextOffset;
  if (length === -1) return null;
  if (length < -1 || cursor + length > recordEnd) {
    throw new CorruptBatchError(`byte field at ${cursor} has invalid length ${length}`);
  }
  const bytes = batch.subarray(cursor, cursor + length);
  cursor += length;
  return bytes;
}
