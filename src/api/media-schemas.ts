/**
 * Schemas of the media types whose wire form is not the JSON a route validates: an
 * NDJSON produce body as its lines, and the SSE and NDJSON streams of a fetch. They
 * document (openapi/openapi.json); the routes parse and write these forms themselves.
 */
import { limits } from '../limits.js';
import { fetchedRecordSchema, produceRecordSchema } from './schemas.js';

/** An application/x-ndjson produce body as the document shows it: one record object per line. */
export const produceLineSchema = {
  ...produceRecordSchema,
  description: `application/x-ndjson: one record object per line (this schema; blank lines are ignored), at most ${limits.produceRecordCountMax} lines. keyFormat and valueFormat go in the query. A line that is not JSON is 400 INVALID_JSON naming the line.`,
  example: { key: 'customer-42', value: { item: 'book', quantity: 1 } },
} as const;

/** A live stream of records with Accept: text/event-stream. */
export const recordEventStreamSchema = {
  type: 'string',
  description: `Server-sent events, one per record: \`id: <offset>\`, \`event: record\`, \`data: <the record as one line of JSON, as in a JSON fetch>\`. An idle stream gets a \`: keep-alive\` comment every ${limits.streamKeepAliveMs / 1000} s. A read that fails sends \`event: error\` with \`data: {"error":{"code","message"}}\` and ends the stream. An EventSource that reconnects sends Last-Event-ID and resumes after that offset.`,
  example: 'id: 41\nevent: record\ndata: {"partition":0,"offset":41,"timestamp":1764000000000,"key":"customer-42","value":{"item":"book","quantity":1},"headers":{}}\n\n',
} as const;

/** A live stream of records with Accept: application/x-ndjson: one JSON object per line. */
export const recordLineStreamSchema = {
  description: 'One JSON object per line: a record (as in a JSON fetch), or, when a read fails, an error body as the last line before the stream ends.',
  oneOf: [fetchedRecordSchema, { $ref: 'Error#' }],
  example: { partition: 0, offset: 41, timestamp: 1764000000000, key: 'customer-42', value: { item: 'book', quantity: 1 }, headers: {} },
} as const;
