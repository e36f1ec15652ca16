/**
 * A partition fetch, as record batches (the default) or JSON, answered the same way: the
 * FetchResponse a JSON fetch gives. As record batches, the node sends its stored batches
 * from the one holding the offset, the offsets in headers (Runnel-Next-Offset,
 * Runnel-High-Watermark, Runnel-Log-Start-Offset); record-batch.ts turns them into
 * records, skipping those before the offset and keeping at most maxRecords (the
 * node's default when none is given, as a JSON fetch).
 */
import { fetchQuerySchema } from '../api/schemas.js';
import type { FetchResponse } from '../api/types.js';
import { RunnelApiError } from './client-errors.js';
import { partitionPath } from './paths.js';
import { decodeFetched, RECORD_BATCH_MEDIA_TYPE, type WireFormat } from './record-batch.js';
import type { BytesAnswer, Transport } from './transport.js';

export interface PartitionFetch {
  topic: string;
  partition: number;
  offset?: number | 'earliest' | 'latest';
  maxRecords?: number;
  maxBytes?: number;
  waitMs?: number;
  signal?: AbortSignal;
}

const MAX_RECORDS_DEFAULT: number = fetchQuerySchema.properties.maxRecords.default;

function integerHeader(answer: BytesAnswer, name: string, what: string): number {
  const text = answer.headers[name];
  const value = typeof text === 'string' && /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new RunnelApiError('UNEXPECTED_RESPONSE', 200, `the answer to ${what} has no integer ${name} header (${String(text)})`);
  return value;
}

export async function fetchPartition(transport: Transport, wireFormat: WireFormat, fetch: PartitionFetch): Promise<FetchResponse> {
  const { topic, partition, offset, waitMs, signal } = fetch;
  const spec = {
    method: 'GET' as const,
    path: partitionPath(topic, partition) + '/records',
    query: { offset, maxRecords: fetch.maxRecords, maxBytes: fetch.maxBytes, waitMs },
    isIdempotent: true,
    waitMs,
    signal,
  };
  if (wireFormat === 'json') return transport.call<FetchResponse>(spec);
  const answer = await transport.callBytes({ ...spec, headers: { accept: `${RECORD_BATCH_MEDIA_TYPE}, application/json;q=0.5` } });
  const what = `GET ${spec.path}`;
  // Content negotiation: a node (or a proxy) may answer JSON all the same.
  const contentType = answer.headers['content-type'];
  if (typeof contentType === 'string' && contentType.startsWith('application/json')) return JSON.parse(answer.bytes.toString('utf8')) as FetchResponse;
  const nextOffset = integerHeader(answer, 'runnel-next-offset', what);
  const highWatermark = integerHeader(answer, 'runnel-high-watermark', what);
  const logStartOffset = integerHeader(answer, 'runnel-log-start-offset', what);
  // 'earliest' starts at the log start; 'latest' at the first batch sent (a batch boundary).
  const fromOffset = typeof offset === 'number' ? offset : offset === 'latest' ? 0 : logStartOffset;
  const decoded = decodeFetched(answer.bytes, partition, fromOffset, fetch.maxRecords ?? MAX_RECORDS_DEFAULT, nextOffset);
  return { records: decoded.records, nextOffset: decoded.nextOffset, highWatermark, logStartOffset };
}
