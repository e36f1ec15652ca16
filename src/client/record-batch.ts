/**
 * The client's side of the record-batch media type (application/vnd.runnel.record-batch):
 * records become one Kafka RecordBatch v2 per partition on the way out, and fetched
 * batches become the very records a JSON fetch answers on the way in.
 *
 * - Out: keys and values are encoded the way the node encodes a JSON body's (json: the
 *   value's JSON text; string: UTF-8; binary: the base64 decoded), the formats in the
 *   batch attributes, so a JSON fetch shows them exactly as if they had been sent as
 *   JSON. A record without a timestamp gets the client's clock (CreateTime), as Kafka's
 *   producer stamps it; a topic with LogAppendTime replaces it on append.
 * - In: the batches from the one holding the asked offset; records before it are
 *   skipped (as a Kafka consumer does), at most maxRecords are kept, and the answer's
 *   nextOffset follows the last record kept. Each record is what a JSON fetch answers,
 *   keyFormat and valueFormat included when not the produce defaults.
 */
import type { FetchedRecord, ProduceRecord, ValueFormat } from '../api/types.js';
import { decodeRecords } from '../record/decode.js';
import { encodeBatch, type RecordInput } from '../record/encode.js';
import { fieldBytes as encodeField } from '../record/field-bytes.js';
import { batchSizeAt, readBatchHeader } from '../record/header.js';
import { RunnelApiError } from './client-errors.js';

export const RECORD_BATCH_MEDIA_TYPE = 'application/vnd.runnel.record-batch';

/** How records travel between the client and a node: Kafka's RecordBatch v2 bytes, or JSON. */
export type WireFormat = 'record-batch' | 'json';

/** A record the node would refuse: the node's own code (400 INVALID_RECORD), raised before anything is sent. */
function invalidRecord(message: string): RunnelApiError {
  return new RunnelApiError('INVALID_RECORD', 400, message);
}

/** A key or value as the node stores it for `format` (null stays null: a null value is a tombstone). */
export function fieldBytes(input: unknown, format: ValueFormat, what: string): Buffer | null {
  return encodeField(input, format, what, invalidRecord);
}

export interface BatchFormats {
  keyFormat: ValueFormat;
  valueFormat: ValueFormat;
}

function headerEntries(headers: ProduceRecord['headers'], what: string): Array<[string, Buffer | null]> | null {
  if (headers === null || headers === undefined) return null;
  return Object.entries(headers).map(([name, value]) => {
    if (value !== null && typeof value !== 'string') throw invalidRecord(`${what}.headers.${name} must be a string or null`);
    return [name, value === null ? null : Buffer.from(value, 'utf8')];
  });
}

/** One record as the encoder takes it; `keyBytes` already encoded (the partitioner needed them). */
export function recordInput(record: ProduceRecord, keyBytes: Buffer | null, formats: BatchFormats, nowMs: number, what: string): RecordInput {
  const { timestamp } = record;
  return {
    key: keyBytes,
    value: fieldBytes(record.value, formats.valueFormat, `${what}.value`),
    headers: headerEntries(record.headers, what),
    timestampMs: timestamp ?? nowMs,
  };
}

/** One batch of `inputs` (a producer's: CreateTime, no offsets yet). */
export function encodeRecordBatch(inputs: readonly RecordInput[], formats: BatchFormats): Buffer {
  return encodeBatch(inputs, { leaderEpoch: -1, timestampType: 'CreateTime', keyFormat: formats.keyFormat, valueFormat: formats.valueFormat });
}

function renderField(bytes: Buffer | null, format: ValueFormat): unknown {
  if (bytes === null) return null;
  switch (format) {
    case 'json':
      return bytes.length === 0 ? null : JSON.parse(bytes.toString('utf8')) as unknown;
    case 'string':
      return bytes.toString('utf8');
    case 'binary':
      return bytes.toString('base64');
  }
}

export interface DecodedFetch {
  records: FetchedRecord[];
  /** After the last record kept; `fromOffset` when none was. */
  nextOffset: number;
}

/**
 * The records of fetched `batches` (stored batches back to back, as the node sends
 * them) at or after `fromOffset`, at most `maxRecords`, shaped as a JSON fetch's.
 * `endOffset` is where the batches end (the node's Runnel-Next-Offset): the next
 * offset when every record was kept, gaps after the last record included.
 */
export function decodeFetched(batches: Buffer, partition: number, fromOffset: number, maxRecords: number, endOffset: number): DecodedFetch {
  const records: FetchedRecord[] = [];
  for (let position = 0; position < batches.length; position += batchSizeAt(batches, position)) {
    const header = readBatchHeader(batches, position);
    if (header.lastOffset < fromOffset) continue;
    for (const record of decodeRecords(batches, position)) {
      if (record.offset < fromOffset) continue;
      if (records.length === maxRecords) return { records, nextOffset: record.offset };
      const headers: Record<string, string | null> = {};
      for (const [name, value] of record.headers) headers[name] = value === null ? null : value.toString('utf8');
      const fetched: FetchedRecord = {
        partition,
        offset: record.offset,
        timestamp: record.timestampMs,
        key: renderField(record.key, header.keyFormat),
        value: renderField(record.value, header.valueFormat),
        headers,
      };
      // As a JSON fetch: a format other than the produce default (string keys, json values) is named.
      if (record.key !== null && header.keyFormat !== 'string') fetched.keyFormat = header.keyFormat;
      if (record.value !== null && header.valueFormat !== 'json') fetched.valueFormat = header.valueFormat;
      records.push(fetched);
    }
  }
  return { records, nextOffset: Math.max(endOffset, fromOffset) };
}
