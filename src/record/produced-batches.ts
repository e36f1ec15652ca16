/**
 * Record batches a client sends as they are (application/vnd.runnel.record-batch):
 * one or more RecordBatch v2 back to back, as a Kafka producer encodes them. Before a
 * byte of them is stored, every batch is checked to the last record field, because
 * everything after the append trusts stored batches (the JSON writer copies json and
 * string fields byte for byte; a record that does not parse there is damage).
 *
 * What a broker may change, it changes in the header only (Kafka's LogValidator does
 * the same for uncompressed batches): baseOffset and the leader epoch (outside the
 * CRC), and, with a new CRC, a maxTimestamp that is not the records' largest, the
 * LogAppendTime stamp, and the producer fields of an Idempotency-Key. Records, keys,
 * values and headers stay byte for byte.
 */
import { isUtf8 } from 'node:buffer';
import { crc32c } from '../util/crc32c.js';
import { readVarint, readVarlong, varintNextOffset } from '../util/varint.js';
import { CorruptBatchError, InvalidBatchError, UnsupportedCompressionError } from './errors.js';
import { readBatchHeader, setBaseOffset, type BatchHeader } from './header.js';
import {
  ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET, BATCH_HEADER_BYTES, CRC_OFFSET, MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORDS_OFFSET, TIMESTAMP_TYPE_MASK, writeInt64, type ValueFormat,
} from './layout.js';
import { validateBatch } from './validate.js';

/** One checked batch: a view into the body it came in. */
export interface ProducedBatch {
  bytes: Buffer;
  header: BatchHeader;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Checks every batch of `body` and returns them as views into it, in order. Throws
 * CorruptBatchError (framing, CRC, a record that does not parse), InvalidBatchError (a
 * sound batch Runnel does not take: transactional, control, LogAppendTime, negative
 * timestamps, a key or value that does not fit its format bits) or
 * UnsupportedCompressionError. A maxTimestamp that is not the records' largest is
 * set right (new CRC). baseOffset is ignored (set to 0 here; the log stamps it).
 */
export function checkProducedBatches(body: Buffer): ProducedBatch[] {
  if (body.length === 0) throw new CorruptBatchError('the body holds no record batch');
  const batches: ProducedBatch[] = [];
  for (let position = 0; position < body.length;) {
    if (body.length - position < BATCH_HEADER_BYTES) {
      throw new CorruptBatchError(`batch ${batches.length} at byte ${position}: ${body.length - position} bytes remain, fewer than a ${BATCH_HEADER_BYTES}-byte header`);
    }
    setBaseOffset(body, 0, position);
    const problem = validateBatch(body, position);
    if (problem !== null) throw new CorruptBatchError(`batch ${batches.length} at byte ${position}: ${problem}`);
    const header = readBatchHeader(body, position);
    const bytes = body.subarray(position, position + header.sizeBytes);
    if (header.compression !== 0) throw new UnsupportedCompressionError(header.compression);
    if (header.isTransactional || header.isControl) {
      throw new InvalidBatchError(`batch ${batches.length}: transactional and control batches are not supported`);
    }
    if (header.timestampType !== 'CreateTime') {
      throw new InvalidBatchError(`batch ${batches.length}: a producer's batch carries CreateTime; the topic's message.timestamp.type decides LogAppendTime`);
    }
    const maxTimestamp = checkRecords(bytes, header, batches.length);
    if (maxTimestamp !== header.maxTimestamp) {
      writeInt64(bytes, maxTimestamp, MAX_TIMESTAMP_OFFSET);
      updateCrc(bytes);
    }
    batches.push({ bytes, header: readBatchHeader(bytes, 0) });
    position += header.sizeBytes;
  }
  return batches;
}

/** Marks a checked batch LogAppendTime at `nowMs` (Kafka's broker does the same), with a new CRC. */
export function stampLogAppendTime(batch: Buffer, nowMs: number): void {
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
  writeInt64(batch, nowMs, MAX_TIMESTAMP_OFFSET);
  updateCrc(batch);
}

/** Writes producer fields into a checked batch, with a new CRC. */
export function stampProducer(batch: Buffer, producerId: number, producerEpoch: number, baseSequence: number): void {
  writeInt64(batch, producerId, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  updateCrc(batch);
}

function updateCrc(batch: Buffer): void {
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
}

/**
 * Walks every record of a batch whose header and CRC are sound: lengths within their
 * record, offsetDelta i for record i, timestamps non-negative, keys and values as their
 * format bits say, header keys UTF-8. Returns the records' largest timestamp.
 */
function checkRecords(batch: Buffer, header: BatchHeader, index: number): number {
  const end = batch.length;
  let cursor = RECORDS_OFFSET;
  let maxTimestamp = -1;
  const corrupt = (i: number, what: string): CorruptBatchError => new CorruptBatchError(`batch ${index}, record ${i}: ${what}`);
  try {
    for (let i = 0; i < header.recordCount; i++) {
      const bodySize = readVarint(batch, cursor);
      const recordEnd = varintNextOffset + bodySize;
      if (bodySize < 6 || recordEnd > end) throw corrupt(i, `length ${bodySize} does not fit the batch`);
      const timestampDelta = readVarlong(batch, varintNextOffset + 1); // + 1: record attributes
      const offsetDelta = readVarint(batch, varintNextOffset);
      if (offsetDelta !== i) throw corrupt(i, `offsetDelta ${offsetDelta} is not ${i}`);
      const timestampMs = header.baseTimestamp + timestampDelta;
      if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
        throw new InvalidBatchError(`batch ${index}, record ${i}: timestamp ${timestampMs} is not a non-negative integer of milliseconds`);
      }
      if (timestampMs > maxTimestamp) maxTimestamp = timestampMs;
      cursor = checkField(batch, varintNextOffset, recordEnd, header.keyFormat, i, index, 'key');
      cursor = checkField(batch, cursor, recordEnd, header.valueFormat, i, index, 'value');
      const headerCount = readVarint(batch, cursor);
      cursor = varintNextOffset;
      if (headerCount < 0 || headerCount > (recordEnd - cursor) / 2) throw corrupt(i, `headerCount ${headerCount} does not fit the record`);
      for (let h = 0; h < headerCount; h++) {
        const keyLength = readVarint(batch, cursor);
        cursor = varintNextOffset;
        if (keyLength < 0 || cursor + keyLength > recordEnd) throw corrupt(i, `header ${h} key length ${keyLength} is invalid`);
        if (!isUtf8(batch.subarray(cursor, cursor + keyLength))) throw new InvalidBatchError(`batch ${index}, record ${i}: header ${h}'s key is not UTF-8`);
        cursor = checkField(batch, cursor + keyLength, recordEnd, 'binary', i, index, `header ${h} value`);
      }
      if (cursor !== recordEnd) throw corrupt(i, `${recordEnd - cursor} bytes left over`);
    }
  } catch (error) {
    // The varint readers report overruns as RangeErrors; inside a batch they mean corruption.
    if (error instanceof RangeError) throw new CorruptBatchError(`batch ${index}: ${error.message}`);
    throw error;
  }
  if (cursor !== end) throw new CorruptBatchError(`batch ${index}: ${end - cursor} bytes after the last record`);
  return maxTimestamp;
}

/** Checks the nullable bytes field at `start` (its length varint first) and returns the position after it. */
function checkField(batch: Buffer, start: number, recordEnd: number, format: ValueFormat, i: number, index: number, what: string): number {
  const length = readVarint(batch, start);
  const from = varintNextOffset;
  if (length < -1 || from + length > recordEnd) throw new CorruptBatchError(`batch ${index}, record ${i}: ${what} length ${length} is invalid`);
  if (length <= 0 || format === 'binary') return from + Math.max(length, 0);
  const bytes = batch.subarray(from, from + length);
  if (!isUtf8(bytes)) throw new InvalidBatchError(`batch ${index}, record ${i}: ${what} is not UTF-8, as its ${format} format requires`);
  if (format === 'json' && !isOneLineJson(bytes)) {
    throw new InvalidBatchError(`batch ${index}, record ${i}: ${what} is not JSON text on one line, as its json format requires`);
  }
  return from + length;
}

/** JSON text without raw line breaks (NDJSON and SSE answers copy it onto one line). */
function isOneLineJson(bytes: Buffer): boolean {
  if (bytes.includes(LF) || bytes.includes(CR)) return false;
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}
