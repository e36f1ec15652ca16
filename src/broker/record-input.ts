/**
 * Turns records as a client sends them in JSON (key, value, headers in a chosen
 * format) into the bytes a batch stores. The format travels in the batch attributes,
 * so a fetch returns each value the way it was produced.
 *  - json:   any JSON value; stored as its JSON text (fetched back verbatim).
 *  - string: a JSON string; stored as UTF-8.
 *  - binary: a base64 string; stored as the decoded bytes.
 * A null or absent key/value is stored as null, whatever the format: `"value": null` in a
 * record object (JSON body or an NDJSON line) is Kafka's tombstone, which deletes the
 * key from a compacted topic, and a fetch returns it as `"value": null`.
 */
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import { valueLength, type RecordInput } from '../record/encode.js';
import { fieldBytes } from '../record/field-bytes.js';
import type { ValueFormat } from '../record/layout.js';
import { isJsonDeeperThan } from '../util/json-depth.js';

export type { ValueFormat };

export interface ProduceRecord {
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown> | null;
  partition?: number;
  timestamp?: number;
}

const invalidRecord = (message: string): RunnelError => new RunnelError('INVALID_RECORD', message);

/** Encodes one key or value; `what` names it in error messages ("records[3].value"). */
export function encodeField(input: unknown, format: ValueFormat, what: string): Buffer | null {
  return fieldBytes(input, format, what, invalidRecord);
}

export function encodeHeaders(headers: Record<string, unknown> | null | undefined, index: number): Array<[string, Buffer | null]> | null {
  if (headers === null || headers === undefined) return null;
  // Own entries only: a header may be called 'constructor' or '__proto__'.
  const entries = Object.entries(headers);
  if (entries.length > limits.headerCountMax) {
    throw new RunnelError('INVALID_RECORD', `records[${index}].headers has ${entries.length} headers; at most ${limits.headerCountMax}`);
  }
  const encoded: Array<[string, Buffer | null]> = [];
  for (const [name, value] of entries) {
    if (name.length > limits.headerNameLengthMax) throw new RunnelError('INVALID_RECORD', `records[${index}] has a header name longer than ${limits.headerNameLengthMax}`);
    if (value !== null && typeof value !== 'string') {
      throw new RunnelError('INVALID_RECORD', `records[${index}].headers.${name} must be a string or null`);
    }
    encoded.push([name, value === null ? null : Buffer.from(value, 'utf8')]);
  }
  return encoded;
}

/**
 * Refuses (400 INVALID_REQUEST) a record whose key, value or headers nest deeper than
 * limits.jsonDepthMax: JSON.stringify of such a value overflows the stack (a 500).
 * Runs before anything recursive touches the records; its own recursion is bounded by the limit.
 */
const JSON_FIELDS = ['key', 'value', 'headers'] as const;

export function checkJsonDepth(records: readonly ProduceRecord[]): void {
  for (let index = 0; index < records.length; index++) {
    const record = records[index];
    for (const field of JSON_FIELDS) {
      if (isJsonDeeperThan(record[field], limits.jsonDepthMax)) {
        throw new RunnelError('INVALID_REQUEST', `records[${index}].${field} nests deeper than ${limits.jsonDepthMax} levels of arrays and objects`);
      }
    }
  }
}

/**
 * Refuses (400 RECORD_KEY_REQUIRED) a keyless record for a topic whose cleanup.policy
 * holds compact, before anything is appended (Kafka's rule: the cleaner keeps the
 * latest record per key, and a record without one has no place in that).
 */
export function checkKeysForPolicy(records: readonly ProduceRecord[], cleanupPolicy: string): void {
  if (!cleanupPolicy.includes('compact')) return;
  const index = records.findIndex((record) => record.key === null || record.key === undefined);
  if (index >= 0) throw keyRequired(`records[${index}]`);
}

export function keyRequired(what: string): RunnelError {
  return new RunnelError('RECORD_KEY_REQUIRED', `${what} has no key; the topic is compacted (cleanup.policy holds compact), so every record needs one. Nothing was appended`);
}

/** Validates and encodes one record; `nowMs` stamps records without a timestamp. */
export function encodeRecord(record: ProduceRecord, index: number, keyFormat: ValueFormat, valueFormat: ValueFormat, nowMs: number): RecordInput {
  const timestampMs = record.timestamp ?? nowMs;
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new RunnelError('INVALID_RECORD', `records[${index}].timestamp must be a non-negative integer of milliseconds`);
  }
  return {
    key: encodeField(record.key, keyFormat, `records[${index}].key`),
    value: encodeField(record.value, valueFormat, `records[${index}].value`),
    headers: encodeHeaders(record.headers, index),
    timestampMs,
  };
}

/** Bytes a record adds to a batch at most (varint prefixes counted at their widest). */
export function estimatedRecordBytes(record: RecordInput): number {
  let size = 5 + 1 + 10 + 5 + 5 + 5 + 5 + (record.key?.length ?? 0) + Math.max(0, valueLength(record));
  if (record.headers !== null) {
    for (const [name, value] of record.headers) size += 10 + Buffer.byteLength(name) + (value?.length ?? 0);
  }
  return size;
}
