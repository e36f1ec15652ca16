/**
 * The RecordBatch v2 decoder: validates a batch (CRC included) and returns its records
 * as objects, checking every field as it reads it. Keys and values are views into the
 * batch (no copies), so a decoded record keeps its batch's buffer alive.
 *
 * Used where records are needed as values (the offsets topic, searches by time,
 * tests); fetches write JSON straight from the bytes with json-writer.ts instead.
 */
import { readVarint, readVarlong, varintNextOffset } from '../util/varint.js';
import { CorruptBatchError, UnsupportedCompressionError } from './errors.js';
import { readBatchHeader, type BatchHeader } from './header.js';
import { RECORD_BYTES_MIN, RECORDS_OFFSET } from './layout.js';
import { validateStoredBatch } from './validate.js';

export interface DecodedRecord {
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer | null]>;
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
  const problem = validateStoredBatch(batch, position);
  if (problem !== null) throw new CorruptBatchError(`batch at ${position}: ${problem}`);
  const header = readBatchHeader(batch, position);
  if (header.compression !== 0) throw new UnsupportedCompressionError(header.compression);
  const end = position + header.sizeBytes;
  const recordCount = header.recordCount;
  if (recordCount > (end - position - RECORDS_OFFSET) / RECORD_BYTES_MIN) {
    throw new CorruptBatchError(`batch at ${position}: ${recordCount} records cannot fit in ${header.sizeBytes} bytes`);
  }
  const records = new Array<DecodedRecord>(recordCount);
  let previousOffsetDelta = -1;
  cursor = position + RECORDS_OFFSET;
  try {
    for (let i = 0; i < recordCount; i++) {
      const record = decodeRecord(batch, header, i, end, previousOffsetDelta);
      previousOffsetDelta = record.offset - header.baseOffset;
      records[i] = record;
    }
  } catch (error) {
    // The varint readers report overruns as RangeErrors; inside a batch they mean corruption.
    if (error instanceof RangeError) throw new CorruptBatchError(`batch at ${position}: ${error.message}`);
    throw error;
  }
  if (cursor !== end) throw new CorruptBatchError(`batch at ${position}: ${end - cursor} bytes after the last record`);
  return records;
}

/** Decodes record `i` at the cursor, which ends just after it. */
function decodeRecord(batch: Buffer, header: BatchHeader, i: number, end: number, previousOffsetDelta: number): DecodedRecord {
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
  const timestampMs = header.timestampType === 'LogAppendTime' ? header.maxTimestamp : header.baseTimestamp + timestampDelta;
  if (!Number.isSafeInteger(timestampMs)) throw new CorruptBatchError(`record ${i}: timestamp is outside the safe integer range`);
  const key = readNullableBytes(batch, recordEnd);
  const value = readNullableBytes(batch, recordEnd);
  const headers = readHeaders(batch, i, recordEnd);
  if (cursor !== recordEnd) throw new CorruptBatchError(`record ${i}: ${recordEnd - cursor} bytes left over`);
  return { offset: header.baseOffset + offsetDelta, timestampMs, key, value, headers };
}

function readHeaders(batch: Buffer, i: number, recordEnd: number): Array<[string, Buffer | null]> {
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
  return headers;
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
