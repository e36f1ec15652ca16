/**
 * The records of one stored batch as the cleaner sees them: offset, key and whether the
 * value is null (a tombstone), with the byte span of each record so that the ones kept
 * are copied as they are. A cleaned batch keeps its header (baseOffset, lastOffsetDelta,
 * timestamps, producer fields, attributes, leader epoch) and the kept records byte for
 * byte: each record's offsetDelta and timestampDelta stay relative to the same base, so
 * records keep their offsets and timestamps. Only recordCount, batchLength and the CRC
 * change (Kafka's MemoryRecords.filterTo keeps baseOffset and lastOffset the same way).
 */
import { crc32c } from '../../util/crc32c.js';
import { readVarint, readVarlong, varintNextOffset } from '../../util/varint.js';
import { readBatchHeader, type BatchHeader } from '../../record/header.js';
import { ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, CRC_OFFSET, LOG_OVERHEAD_BYTES, RECORD_COUNT_OFFSET, RECORDS_OFFSET } from '../../record/layout.js';

export interface RecordView {
  offset: number;
  /** A view into the batch; null for a keyless record. */
  key: Buffer | null;
  isTombstone: boolean;
  /** Byte span of the whole record (its length varint included) within the batch buffer. */
  start: number;
  end: number;
}

/**
 * Calls `visit` for every record of the uncompressed, validated batch at `position` of
 * `buffer`. Record fields after the value (headers) are not read: the span covers them.
 */
export function forEachRecord(buffer: Buffer, position: number, header: BatchHeader, visit: (record: RecordView) => void): void {
  let cursor = position + RECORDS_OFFSET;
  const batchEnd = position + header.sizeBytes;
  for (let i = 0; i < header.recordCount; i++) {
    const start = cursor;
    const bodySize = readVarint(buffer, cursor);
    const end = varintNextOffset + bodySize;
    if (bodySize < 6 || end > batchEnd) throw new Error(`batch at offset ${header.baseOffset}: record ${i} does not fit the batch`);
    readVarlong(buffer, varintNextOffset + 1); // + 1: record attributes; the timestampDelta is kept as it is
    const offsetDelta = readVarint(buffer, varintNextOffset);
    const keyLength = readVarint(buffer, varintNextOffset);
    const keyStart = varintNextOffset;
    const key = keyLength < 0 ? null : buffer.subarray(keyStart, keyStart + keyLength);
    const valueLength = readVarint(buffer, keyStart + Math.max(keyLength, 0));
    visit({ offset: header.baseOffset + offsetDelta, key, isTombstone: valueLength < 0, start, end });
    cursor = end;
  }
}

/**
 * Builds the batch that keeps `kept` (record spans of the batch at `position`, in
 * order) under the original header. Returns a new buffer.
 */
export function rebuildBatch(buffer: Buffer, position: number, kept: ReadonlyArray<{ start: number; end: number }>): Buffer {
  let recordsBytes = 0;
  for (const span of kept) recordsBytes += span.end - span.start;
  const batch = Buffer.allocUnsafe(RECORDS_OFFSET + recordsBytes);
  buffer.copy(batch, 0, position, position + RECORDS_OFFSET);
  let cursor = RECORDS_OFFSET;
  for (const span of kept) cursor += buffer.copy(batch, cursor, span.start, span.end);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(kept.length, RECORD_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

/** Index of the first record without a key in the batch, or -1 (a compacted topic refuses such records). */
export function firstKeylessRecord(buffer: Buffer, position: number, header: BatchHeader): number {
  let index = 0;
  let found = -1;
  forEachRecord(buffer, position, header, (record) => {
    if (record.key === null && found < 0) found = index;
    index += 1;
  });
  return found;
}

/**
 * Records of `batches` (whole batches, as a log read returns them) from offset `from`
 * on, at most `maxRecords`: how many, and the offset after the last one counted. In a
 * compacted log offsets have gaps, so a count of offsets is not a count of records;
 * once a batch is counted to its end, the next offset is past its last offset (records
 * cleaned away at its end included). `next` is `from` when none is counted.
 */
export function countRecordsFrom(batches: Buffer, from: number, maxRecords: number): { count: number; next: number } {
  let count = 0;
  let next = from;
  for (let position = 0; position < batches.length && count < maxRecords;) {
    const header = readBatchHeader(batches, position);
    if (header.lastOffset >= next) {
      if (header.recordCount === header.lastOffsetDelta + 1) {
        const first = Math.max(header.baseOffset, next);
        const taken = Math.min(header.lastOffset - first + 1, maxRecords - count);
        count += taken;
        next = first + taken;
      } else {
        let isWhole = true;
        forEachRecord(batches, position, header, (record) => {
          if (record.offset < next) return;
          if (count >= maxRecords) {
            isWhole = false;
            return;
          }
          count += 1;
          next = record.offset + 1;
        });
        if (isWhole) next = header.lastOffset + 1;
      }
    }
    position += header.sizeBytes;
  }
  return { count, next };
}
