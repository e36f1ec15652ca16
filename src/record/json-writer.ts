/**
 * Writes fetched records as JSON bytes straight from stored batch bytes, with no
 * object per record and no string in between (pino's "ready JSON fragments" habit,
 * taken one step further): json-format values are stored as JSON text and copied
 * byte for byte; string values are copied between quotes unless they hold a character
 * JSON must escape; binary values become base64. A key or value in another format than
 * its produce default (string keys, json values) comes with keyFormat or valueFormat. Fetch, streams and group polls all
 * write through here, into one growing Buffer per answer.
 *
 * Batches are checked right after reading (CRC and layout) and offsets must rise: a
 * batch damaged on disk after recovery stops the node rather than being served.
 */
import { isUtf8 } from 'node:buffer';
import { assert } from '../util/assert.js';
import { readVarint, readVarlong, varintNextOffset } from '../util/varint.js';
import { UnsupportedCompressionError } from './errors.js';
import { readBatchHeader } from './header.js';
import type { JsonBuffer } from './json-buffer.js';
import { RECORDS_OFFSET, type ValueFormat } from './layout.js';
import { validateStoredBatch } from './validate.js';

export interface RecordStyle {
  /** Written between two records (also between records of different calls sharing `written`). */
  separator: string;
  /** Written before each record, given its offset (SSE's `id:` line). */
  before?: (offset: number) => string;
  /** Written after each record. */
  after?: string;
  /** A `"topic":"..."` field first in each record (group polls). */
  topic?: string;
}

export interface WrittenRecords {
  count: number;
  /** Offset after the last record written (the start offset when none was). */
  nextOffset: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Copies UTF-8 text as a JSON string, escaping only when it must. */
function writeJsonString(out: JsonBuffer, source: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const byte = source[i];
    if (byte < 0x20 || byte === QUOTE || byte === BACKSLASH) {
      out.utf8(JSON.stringify(source.toString('utf8', start, end)));
      return;
    }
  }
  out.byte(QUOTE);
  out.bytes(source, start, end);
  out.byte(QUOTE);
}

function writeField(out: JsonBuffer, source: Buffer, start: number, length: number, format: ValueFormat): void {
  if (length < 0) {
    out.ascii('null');
    return;
  }
  const end = start + length;
  switch (format) {
    case 'json':
      if (length === 0) out.ascii('null');
      else out.bytes(source, start, end);
      return;
    case 'string':
      writeJsonString(out, source, start, end);
      return;
    case 'binary':
      out.byte(QUOTE);
      out.ascii(source.toString('base64', start, end));
      out.byte(QUOTE);
  }
}

/**
 * Header values are text to the JSON API, but a Kafka producer's batch may carry any
 * bytes there: those that are not UTF-8 come out with U+FFFD in place of bad sequences,
 * so the answer stays valid JSON (the binary answer keeps them exact).
 */
function writeHeaderValue(out: JsonBuffer, source: Buffer, start: number, length: number): void {
  if (length > 0 && !isUtf8(source.subarray(start, start + length))) out.utf8(JSON.stringify(source.toString('utf8', start, start + length)));
  else writeField(out, source, start, length, 'string');
}

/**
 * Writes the key, value and headers of the record whose key starts at `start`, as
 * `key,"value":...,"headers":{...}` and, when not the produce defaults (string keys,
 * json values), `"keyFormat"` and `"valueFormat"`; returns the position after the record's last header.
 */
function writeKeyValueHeaders(out: JsonBuffer, batches: Buffer, start: number, keyFormat: ValueFormat, valueFormat: ValueFormat): number {
  let cursor = start;
  const keyLength = readVarint(batches, cursor);
  cursor = varintNextOffset;
  writeField(out, batches, cursor, keyLength, keyFormat);
  if (keyLength > 0) cursor += keyLength;
  out.ascii(',"value":');
  const valueLength = readVarint(batches, cursor);
  cursor = varintNextOffset;
  writeField(out, batches, cursor, valueLength, valueFormat);
  if (valueLength > 0) cursor += valueLength;
  out.ascii(',"headers":{');
  const headerCount = readVarint(batches, cursor);
  cursor = varintNextOffset;
  for (let h = 0; h < headerCount; h++) {
    if (h > 0) out.byte(0x2c);
    const nameLength = readVarint(batches, cursor);
    cursor = varintNextOffset;
    writeJsonString(out, batches, cursor, cursor + nameLength);
    cursor += nameLength;
    out.byte(0x3a);
    const headerValueLength = readVarint(batches, cursor);
    cursor = varintNextOffset;
    writeHeaderValue(out, batches, cursor, headerValueLength);
    if (headerValueLength > 0) cursor += headerValueLength;
  }
  out.byte(0x7d);
  // A key or value that is not in its produce default format says which it is (a
  // base64 string reads like any string), so the record can be produced back as it is.
  if (keyLength >= 0 && keyFormat !== 'string') out.ascii(',"keyFormat":"' + keyFormat + '"');
  if (valueLength >= 0 && valueFormat !== 'json') out.ascii(',"valueFormat":"' + valueFormat + '"');
  return cursor;
}

/**
 * Writes the records of `batches` from `startOffset`, at most `maxRecords`, each as
 * `{"partition","offset","timestamp","key","value","headers"}` (plus keyFormat and
 * valueFormat when not the defaults) in `style`.
 * `written` counts records already in `out` (for separators) and is advanced.
 */
export function writeRecords(
  out: JsonBuffer,
  batches: Buffer | null,
  partition: number,
  startOffset: number,
  maxRecords: number,
  style: RecordStyle,
  written: { count: number } = { count: 0 },
): WrittenRecords {
  let count = 0;
  let lastOffset = startOffset - 1;
  // The offset after the last batch walked to its end: a compacted batch may end in
  // offsets whose records were cleaned away, and the reader must move past them.
  let walkedEnd = startOffset;
  if (batches === null) return { count, nextOffset: startOffset };
  const recordHead = (style.topic === undefined ? '{' : '{"topic":' + JSON.stringify(style.topic) + ',') + '"partition":' + partition + ',"offset":';
  let position = 0;
  while (position < batches.length && count < maxRecords) {
    // Check data right after reading it: a batch that fails its CRC here was damaged
    // on disk after recovery, and serving it would hand out garbage.
    const problem = validateStoredBatch(batches, position);
    assert(problem === null, () => `partition ${partition}: stored batch at read position ${position} is damaged: ${problem}`);
    const header = readBatchHeader(batches, position);
    if (header.compression !== 0) throw new UnsupportedCompressionError(header.compression);
    const batchEnd = position + header.sizeBytes;
    if (header.lastOffset >= startOffset) {
      const { keyFormat, valueFormat } = header;
      const isLogAppendTime = header.timestampType === 'LogAppendTime';
      let cursor = position + RECORDS_OFFSET;
      let i = 0;
      for (; i < header.recordCount && count < maxRecords; i++) {
        const bodySize = readVarint(batches, cursor);
        const recordEnd = varintNextOffset + bodySize;
        assert(recordEnd <= batchEnd, () => `partition ${partition}: record ${i} of the batch at ${header.baseOffset} runs past it`);
        const timestampDelta = readVarlong(batches, varintNextOffset + 1); // + 1: record attributes
        const offset = header.baseOffset + readVarint(batches, varintNextOffset);
        cursor = varintNextOffset;
        if (offset < startOffset) {
          cursor = recordEnd;
          continue;
        }
        assert(offset > lastOffset, () => `fetched offsets do not rise: ${offset} after ${lastOffset}`);
        const timestampMs = isLogAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta;
        if (written.count > 0) out.ascii(style.separator);
        if (style.before !== undefined) out.ascii(style.before(offset));
        out.ascii(recordHead + offset + ',"timestamp":' + timestampMs + ',"key":');
        cursor = writeKeyValueHeaders(out, batches, cursor, keyFormat, valueFormat);
        out.ascii('}');
        if (style.after !== undefined) out.ascii(style.after);
        assert(cursor === recordEnd, () => `partition ${partition}: record at offset ${offset} does not end where its length says`);
        cursor = recordEnd;
        lastOffset = offset;
        count += 1;
        written.count += 1;
      }
      if (i === header.recordCount) walkedEnd = header.lastOffset + 1;
    }
    position = batchEnd;
  }
  return { count, nextOffset: Math.max(lastOffset + 1, walkedEnd) };
}
