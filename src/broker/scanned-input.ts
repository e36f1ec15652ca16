/**
 * Records of a scanned produce body (record/produce-body-scan.ts) turned into the bytes a
 * batch stores, with the meaning record-input.ts gives a parsed record, byte for byte:
 *  - json:   a string or a value whose text is canonical is stored as the span the
 *            request carried (it is what JSON.stringify would write); any other value
 *            (spaces, escapes, 1.0, a repeated key) is parsed and re-stringified, so
 *            the stored form is JSON.stringify's, as it always was.
 *  - string: a string without escapes is stored as the bytes between its quotes.
 *  - binary: base64 without escapes is decoded from the span.
 * Everything else (escaped strings, a value the format refuses) goes through
 * encodeField on the parsed field, so its bytes and its error are the parsing path's.
 */
import type { RecordInput } from '../record/encode.js';
import { BASE64_PATTERN } from '../record/field-bytes.js';
import type { ValueFormat } from '../record/layout.js';
import {
  FIELD_CANONICAL_JSON, FIELD_NULL, FIELD_STRING, HEADERS_END, HEADERS_START, KEY_START, PARTITION, RECORD_SLOTS, VALUE_START,
  type ScannedRecords,
} from '../record/produce-body-scan.js';
import type { ProduceRequest } from './produce-request.js';
import { encodeField, encodeHeaders, encodeRecord, keyRequired } from './record-input.js';

/** The slots after a field's start: its end, then its kind. */
const END = 1;
const KIND = 2;

/** Record `index` of a request encoded: from its scanned spans, or from its parsed object. */
export function encodeRequestRecord(request: ProduceRequest, index: number, keyFormat: ValueFormat, valueFormat: ValueFormat, nowMs: number): RecordInput {
  const { scanned } = request;
  return scanned === undefined
    ? encodeRecord(request.records[index], index, keyFormat, valueFormat, nowMs)
    : encodeScannedRecord(scanned, index, keyFormat, valueFormat, nowMs);
}

/** The partition record `index` goes to by name: the request's path, else the record's own field. */
export function requestedPartition(request: ProduceRequest, index: number): number | undefined {
  if (request.partition !== undefined) return request.partition;
  const { scanned } = request;
  if (scanned === undefined) return request.records[index].partition;
  const partition = scanned.fields[index * RECORD_SLOTS + PARTITION];
  return partition < 0 ? undefined : partition;
}

/** encodeRecord for record `index` of a scanned body. */
export function encodeScannedRecord(scanned: ScannedRecords, index: number, keyFormat: ValueFormat, valueFormat: ValueFormat, nowMs: number): RecordInput {
  const base = index * RECORD_SLOTS;
  const timestamp = scanned.timestampAt(index);
  // The scan takes plain-digit timestamps up to Number.MAX_SAFE_INTEGER only: always safe integers.
  const timestampMs = timestamp < 0 ? nowMs : timestamp;
  const headersStart = scanned.fields[base + HEADERS_START];
  const key = scannedField(scanned, base + KEY_START, keyFormat, index, 'key');
  const { fields } = scanned;
  const valueKind = fields[base + VALUE_START + KIND];
  // The common value, JSON as sent or a plain string, is a span of the body: no Buffer of its own.
  const isSpan = (valueFormat === 'json' && (valueKind === FIELD_STRING || valueKind === FIELD_CANONICAL_JSON)) || (valueFormat === 'string' && valueKind === FIELD_STRING);
  const value = isSpan ? null : scannedField(scanned, base + VALUE_START, valueFormat, index, 'value');
  const headers = headersStart < 0 ? null
    : encodeHeaders(JSON.parse(scanned.text(headersStart, fields[base + HEADERS_END])) as Record<string, unknown>, index);
  if (!isSpan) return { key, value, headers, timestampMs, valueSource: undefined, valueStart: 0, valueEnd: 0 };
  const quote = valueFormat === 'string' ? 1 : 0;
  return { key, value, headers, timestampMs, valueSource: scanned.bytes, valueStart: fields[base + VALUE_START] + quote, valueEnd: fields[base + VALUE_START + END] - quote };
}

function scannedField(scanned: ScannedRecords, slot: number, format: ValueFormat, index: number, name: 'key' | 'value'): Buffer | null {
  const { fields, bytes } = scanned;
  const kind = fields[slot + KIND];
  if (kind === FIELD_NULL) return null;
  const start = fields[slot];
  const end = fields[slot + END];
  if (format === 'json' && (kind === FIELD_STRING || kind === FIELD_CANONICAL_JSON)) return bytes.subarray(start, end);
  if (format === 'string' && kind === FIELD_STRING) return bytes.subarray(start + 1, end - 1);
  if (format === 'binary' && kind === FIELD_STRING) {
    const text = bytes.toString('latin1', start + 1, end - 1);
    if (BASE64_PATTERN.test(text)) return Buffer.from(text, 'base64');
  }
  return encodeField(JSON.parse(scanned.text(start, end)), format, `records[${index}].${name}`);
}

/** checkKeysForPolicy for a scanned body. */
export function checkScannedKeysForPolicy(scanned: ScannedRecords, cleanupPolicy: string): void {
  if (!cleanupPolicy.includes('compact')) return;
  for (let index = 0; index < scanned.count; index++) {
    if (scanned.fields[index * RECORD_SLOTS + KEY_START + KIND] === FIELD_NULL) throw keyRequired(`records[${index}]`);
  }
}
