/**
 * A produce body read without parsing it: the JSON body `{"records":[...], ...}` or an
 * NDJSON body (one record object per line) is scanned byte by byte (json-scan.ts), and
 * each record's key, value and headers are kept as byte spans of the body, so a value
 * sent as canonical JSON is stored as the very bytes the request carried.
 *
 * The scan takes only bodies it fully understands: valid UTF-8 without a byte order
 * mark, the body's own fields and the records' fields each at most once, with the types
 * the body schema asks for (integers as plain digits), nesting within the depth limit,
 * the record count within its bounds. Anything else, valid or not, is declined
 * (`undefined`) and the body takes the parsing path (JSON.parse and the schema), so an
 * invalid body is answered exactly as it always was, with the same code and message.
 */
import { isUtf8 } from 'node:buffer';
import type { ValueFormat } from './layout.js';
import { DECLINED, JsonScanner } from './json-scan.js';

/** What a key or value field holds. */
export const FIELD_NULL = 0;
/** A string without escapes: its UTF-8 bytes are between the quotes. */
export const FIELD_STRING = 1;
/** A string with escapes. */
export const FIELD_ESCAPED_STRING = 2;
/** Another JSON value whose text is what JSON.stringify would write. */
export const FIELD_CANONICAL_JSON = 3;
/** Another JSON value, written differently from JSON.stringify (spaces, escapes, 1.0...). */
export const FIELD_OTHER_JSON = 4;

/** Per record, these Int32 slots of ScannedRecords.fields. */
export const RECORD_START = 0;
export const RECORD_END = 1;
export const KEY_START = 2;
export const KEY_END = 3;
export const KEY_KIND = 4;
export const VALUE_START = 5;
export const VALUE_END = 6;
export const VALUE_KIND = 7;
/** -1 when the record has no headers (or null). */
export const HEADERS_START = 8;
export const HEADERS_END = 9;
/** -1 when the record names no partition. */
export const PARTITION = 10;
export const RECORD_SLOTS = 11;

const FORMATS: readonly string[] = ['json', 'string', 'binary'];
const RECORD_FIELDS = ['key', 'value', 'headers', 'partition', 'timestamp'];
const BODY_FIELDS = ['records', 'keyFormat', 'valueFormat', 'producerId', 'producerEpoch', 'baseSequence'];
/** Plain-digit integers up to this many digits are read (and declined past Number.MAX_SAFE_INTEGER). */
const INTEGER_DIGITS_MAX = 16;

export interface ScanLimits {
  /** Deepest nesting of a key or value (limits.jsonDepthMax). */
  depthMax: number;
  /** Most records a body may hold (the schema's maxItems). */
  recordCountMax: number;
  /** Largest producerId (the schema's maximum). */
  producerIdMax: number;
}

/** The records of a scanned body: spans into `bytes`, RECORD_SLOTS Int32 slots per record. */
export class ScannedRecords {
  count = 0;
  fields: Int32Array;
  /** Each record's timestamp, -1 when it has none; made when the first record has one. */
  private timestamps: Float64Array | undefined;
  private parsed: unknown[] | undefined;

  constructor(readonly bytes: Buffer, capacity: number) {
    this.fields = uninitialisedInt32s(capacity * RECORD_SLOTS);
  }

  /** The next record's slots, growing the arrays when full; returns its index. */
  add(): number {
    const index = this.count++;
    if ((index + 1) * RECORD_SLOTS > this.fields.length) {
      const fields = uninitialisedInt32s(this.fields.length * 2);
      fields.set(this.fields);
      this.fields = fields;
    }
    if (this.timestamps !== undefined && index === this.timestamps.length) this.timestamps = grown(this.timestamps);
    if (this.timestamps !== undefined) this.timestamps[index] = -1;
    return index;
  }

  /** Record `index`'s timestamp, or -1 when it has none. */
  timestampAt(index: number): number {
    return this.timestamps === undefined ? -1 : this.timestamps[index];
  }

  setTimestamp(index: number, timestampMs: number): void {
    if (this.timestamps === undefined) {
      this.timestamps = new Float64Array(this.fields.length / RECORD_SLOTS);
      this.timestamps.fill(-1);
    }
    this.timestamps[index] = timestampMs;
  }

  /**
   * The records as JSON.parse makes them, for the paths that need objects (forwarding
   * to another leader, hashing an Idempotency-Key request); parsed once, on first use.
   */
  objects(): unknown[] {
    if (this.parsed !== undefined) return this.parsed;
    const parsed: unknown[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) {
      const base = i * RECORD_SLOTS;
      parsed[i] = JSON.parse(this.bytes.toString('utf8', this.fields[base + RECORD_START], this.fields[base + RECORD_END]));
    }
    this.parsed = parsed;
    return parsed;
  }

  /** The text of bytes [start, end): a key's or value's JSON, or a headers object. */
  text(start: number, end: number): string {
    return this.bytes.toString('utf8', start, end);
  }
}

/** A produce body the scan took: the schema's fields, defaults applied as the schema's own. */
export class ScannedProduceBody {
  keyFormat: ValueFormat = 'string';
  valueFormat: ValueFormat = 'json';
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;

  constructor(readonly scanned: ScannedRecords) {}
}

/** Scans a JSON produce body; undefined when the parsing path must read it. */
export function scanJsonBody(bytes: Buffer, scanLimits: ScanLimits): ScannedProduceBody | undefined {
  if (!isUtf8(bytes)) return undefined;
  const scanner = new JsonScanner(bytes, scanLimits.depthMax);
  const records = new ScannedRecords(bytes, initialCapacity(bytes.length));
  const body = new ScannedProduceBody(records);
  let position = scanner.skipSpace(0);
  if (bytes[position] !== 0x7b) return undefined;
  let seen = 0;
  position = scanner.skipSpace(position + 1);
  for (;;) {
    const nameStart = position;
    position = scanner.string(position);
    if (position === DECLINED || scanner.hasEscape) return undefined;
    const field = BODY_FIELDS.indexOf(bytes.toString('latin1', nameStart + 1, position - 1));
    if (field < 0 || (seen & (1 << field)) !== 0) return undefined;
    seen |= 1 << field;
    position = scanner.skipSpace(position);
    if (bytes[position] !== 0x3a) return undefined;
    position = scanner.skipSpace(position + 1);
    position = bodyField(scanner, body, field, position, scanLimits);
    if (position === DECLINED) return undefined;
    position = scanner.skipSpace(position);
    if (bytes[position] === 0x7d) break;
    if (bytes[position] !== 0x2c) return undefined;
    position = scanner.skipSpace(position + 1);
  }
  if (scanner.skipSpace(position + 1) !== bytes.length || (seen & 1) === 0) return undefined;
  return records.count >= 1 && records.count <= scanLimits.recordCountMax ? body : undefined;
}

/** One field of the body at `position`; returns the position after it or DECLINED. */
function bodyField(scanner: JsonScanner, body: ScannedProduceBody, field: number, position: number, scanLimits: ScanLimits): number {
  switch (BODY_FIELDS[field]) {
    case 'records': return recordsArray(scanner, body.scanned, position, scanLimits.recordCountMax);
    case 'keyFormat': case 'valueFormat': {
      const end = scanner.string(position);
      if (end === DECLINED || scanner.hasEscape) return DECLINED;
      const format = scanner.bytes.toString('latin1', position + 1, end - 1);
      if (!FORMATS.includes(format)) return DECLINED;
      if (BODY_FIELDS[field] === 'keyFormat') body.keyFormat = format as ValueFormat;
      else body.valueFormat = format as ValueFormat;
      return end;
    }
    default: {
      const max = field === 3 ? scanLimits.producerIdMax : field === 4 ? 32767 : 2147483647;
      const end = integerEnd(scanner.bytes, position);
      if (end === DECLINED) return DECLINED;
      const value = digitsValue(scanner.bytes, position, end);
      if (value > max) return DECLINED;
      if (field === 3) body.producerId = value;
      else if (field === 4) body.producerEpoch = value;
      else body.baseSequence = value;
      return end;
    }
  }
}

function recordsArray(scanner: JsonScanner, records: ScannedRecords, start: number, recordCountMax: number): number {
  const { bytes } = scanner;
  if (bytes[start] !== 0x5b) return DECLINED;
  let position = scanner.skipSpace(start + 1);
  if (bytes[position] === 0x5d) return position + 1;
  for (;;) {
    if (records.count >= recordCountMax) return DECLINED;
    position = recordObject(scanner, records, position);
    if (position === DECLINED) return DECLINED;
    position = scanner.skipSpace(position);
    if (bytes[position] === 0x5d) return position + 1;
    if (bytes[position] !== 0x2c) return DECLINED;
    position = scanner.skipSpace(position + 1);
  }
}

/** Scans an NDJSON produce body (blank lines skipped); undefined when the parsing path must read it. */
export function scanNdjsonBody(bytes: Buffer, scanLimits: ScanLimits): ScannedProduceBody | undefined {
  if (!isUtf8(bytes)) return undefined;
  const scanner = new JsonScanner(bytes, scanLimits.depthMax);
  const records = new ScannedRecords(bytes, initialCapacity(bytes.length));
  let lineStart = 0;
  while (lineStart <= bytes.length) {
    let lineEnd = bytes.indexOf(0x0a, lineStart);
    if (lineEnd < 0) lineEnd = bytes.length;
    const position = scanner.skipSpace(lineStart);
    if (position < lineEnd) {
      if (records.count >= scanLimits.recordCountMax) return undefined;
      const end = recordObject(scanner, records, position);
      // Whitespace may follow the record on its line; a record may not go past its line.
      if (end === DECLINED || end > lineEnd || scanner.skipSpace(end) < lineEnd) return undefined;
    }
    lineStart = lineEnd + 1;
  }
  return records.count >= 1 ? new ScannedProduceBody(records) : undefined;
}

/** One record object at `start`; its spans go to a new record of `records`. Returns the position after it or DECLINED. */
function recordObject(scanner: JsonScanner, records: ScannedRecords, start: number): number {
  const { bytes } = scanner;
  if (bytes[start] !== 0x7b) return DECLINED;
  const index = records.add();
  const { fields } = records;
  const base = index * RECORD_SLOTS;
  fields[base + RECORD_START] = start;
  fields[base + KEY_KIND] = FIELD_NULL;
  fields[base + VALUE_KIND] = FIELD_NULL;
  fields[base + HEADERS_START] = -1;
  fields[base + PARTITION] = -1;
  let position = scanner.skipSpace(start + 1);
  if (bytes[position] === 0x7d) {
    fields[base + RECORD_END] = position + 1;
    return position + 1;
  }
  let seen = 0;
  for (;;) {
    const nameStart = position;
    position = scanner.string(position);
    if (position === DECLINED || scanner.hasEscape) return DECLINED;
    const field = recordField(bytes, nameStart + 1, position - 1);
    if (field < 0 || (seen & (1 << field)) !== 0) return DECLINED;
    seen |= 1 << field;
    position = scanner.skipSpace(position);
    if (bytes[position] !== 0x3a) return DECLINED;
    position = scanner.skipSpace(position + 1);
    position = recordFieldValue(scanner, records, index, field, position);
    if (position === DECLINED) return DECLINED;
    position = scanner.skipSpace(position);
    if (bytes[position] === 0x7d) break;
    if (bytes[position] !== 0x2c) return DECLINED;
    position = scanner.skipSpace(position + 1);
  }
  fields[base + RECORD_END] = position + 1;
  return position + 1;
}

/** The index in RECORD_FIELDS of the name in bytes [start, end), or -1; compared without making a string. */
function recordField(bytes: Buffer, start: number, end: number): number {
  for (let field = 0; field < RECORD_FIELDS.length; field++) {
    const name = RECORD_FIELDS[field];
    if (name.length !== end - start) continue;
    let i = 0;
    while (i < name.length && bytes[start + i] === name.charCodeAt(i)) i++;
    if (i === name.length) return field;
  }
  return -1;
}

function recordFieldValue(scanner: JsonScanner, records: ScannedRecords, index: number, field: number, start: number): number {
  const { bytes } = scanner;
  const base = index * RECORD_SLOTS;
  const { fields } = records;
  switch (field) {
    case 0: case 1: {
      const end = scanner.value(start);
      if (end === DECLINED) return DECLINED;
      const slot = field === 0 ? KEY_START : VALUE_START;
      fields[base + slot] = start;
      fields[base + slot + 1] = end;
      fields[base + slot + 2] = fieldKind(scanner, bytes[start], end - start);
      return end;
    }
    case 2: {
      const end = headersEnd(scanner, start);
      if (end === DECLINED) return DECLINED;
      if (bytes[start] === 0x7b) {
        fields[base + HEADERS_START] = start;
        fields[base + HEADERS_END] = end;
      }
      return end;
    }
    default: {
      const end = integerEnd(bytes, start);
      if (end === DECLINED) return DECLINED;
      const value = digitsValue(bytes, start, end);
      if (field === 3) {
        if (value > 0x7fffffff) return DECLINED;
        fields[base + PARTITION] = value;
      } else {
        records.setTimestamp(index, value);
      }
      return end;
    }
  }
}

function fieldKind(scanner: JsonScanner, firstByte: number, length: number): number {
  if (firstByte === 0x22) return scanner.hasEscape ? FIELD_ESCAPED_STRING : FIELD_STRING;
  if (firstByte === 0x6e && length === 4) return FIELD_NULL;
  return scanner.isCanonical ? FIELD_CANONICAL_JSON : FIELD_OTHER_JSON;
}

/** headers: null, or an object of string or null values; returns the position after it or DECLINED. */
function headersEnd(scanner: JsonScanner, start: number): number {
  const { bytes } = scanner;
  if (bytes[start] === 0x6e) return bytes.toString('latin1', start, start + 4) === 'null' ? start + 4 : DECLINED;
  if (bytes[start] !== 0x7b) return DECLINED;
  let position = scanner.skipSpace(start + 1);
  if (bytes[position] === 0x7d) return position + 1;
  for (;;) {
    position = scanner.string(position);
    if (position === DECLINED) return DECLINED;
    position = scanner.skipSpace(position);
    if (bytes[position] !== 0x3a) return DECLINED;
    position = scanner.skipSpace(position + 1);
    if (bytes[position] === 0x6e) {
      if (bytes.toString('latin1', position, position + 4) !== 'null') return DECLINED;
      position += 4;
    } else {
      position = scanner.string(position);
      if (position === DECLINED) return DECLINED;
    }
    position = scanner.skipSpace(position);
    if (bytes[position] === 0x7d) return position + 1;
    if (bytes[position] !== 0x2c) return DECLINED;
    position = scanner.skipSpace(position + 1);
  }
}

/** A non-negative integer of plain digits (no sign, fraction or exponent) at `start`; DECLINED otherwise. */
function integerEnd(bytes: Buffer, start: number): number {
  let position = start;
  while (position < bytes.length && bytes[position] >= 0x30 && bytes[position] <= 0x39) position++;
  const digitCount = position - start;
  if (digitCount === 0 || digitCount > INTEGER_DIGITS_MAX || (digitCount > 1 && bytes[start] === 0x30)) return DECLINED;
  // 12.0 and 1e3 are integers to the schema: the parsing path reads them.
  const next = bytes[position];
  if (next === 0x2e || next === 0x65 || next === 0x45) return DECLINED;
  // Past 2^53 the schema still takes the number, then the broker refuses it: the parsing path answers.
  if (digitCount === INTEGER_DIGITS_MAX && digitsValue(bytes, start, position) > Number.MAX_SAFE_INTEGER) return DECLINED;
  return position;
}

/**
 * An Int32Array whose every slot the scan writes before reading: not zero-filled (a
 * zeroed typed array of a 1,000-record body cost more than scanning it).
 */
function uninitialisedInt32s(count: number): Int32Array {
  return new Int32Array(Buffer.allocUnsafeSlow(count * 4).buffer, 0, count);
}

function grown(values: Float64Array): Float64Array {
  const larger = new Float64Array(values.length * 2);
  larger.fill(-1);
  larger.set(values);
  return larger;
}

/** The value of the plain digits in bytes [start, end): exact up to Number.MAX_SAFE_INTEGER (every product and sum on the way is below it). */
function digitsValue(bytes: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + (bytes[i] - 0x30);
  return value;
}

/** Room for the records a body of `byteCount` bytes likely holds (grown when it holds more). */
function initialCapacity(byteCount: number): number {
  return Math.min(1 << 16, Math.max(16, byteCount >>> 6));
}
