/**
 * A partition followed live as an async iterator, over the node's NDJSON or SSE
 * stream, that survives dropped connections.
 *
 * Resume: after a drop (or the node ending the stream, as it does when it shuts down,
 * or an error event with a 503 code, as when leadership moves) the iterator connects
 * again, with backoff, from the offset after the last record it yielded, and drops
 * anything below that offset: no gap, no duplicate. 'latest' is resolved to a number
 * before the first connection, so a drop before the first record cannot skip records
 * produced meanwhile. Consecutive drops without a record in
 * between are bounded by the client's retries.
 *
 * Liveness: SSE streams carry a keep-alive comment every 15 s, so an SSE stream silent
 * for 45 s is taken as dead and resumed; NDJSON streams are silent while idle and have
 * no such deadline.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { errorCatalogue } from '../api/error-codes.js';
import type { FetchedRecord, PartitionOffsets } from '../api/types.js';
import { backoffDelayMs, isAborted, sleep } from './backoff.js';
import { isKnownErrorCode, RunnelApiError, RunnelClientError, RunnelConnectionError } from './client-errors.js';
import { partitionPath } from './paths.js';
import type { Transport } from './transport.js';

export type StreamFormat = 'ndjson' | 'sse';

export interface StreamOptions {
  /** Where to start: an offset, 'earliest' (default) or 'latest' (only records produced from now on). */
  offset?: number | 'earliest' | 'latest';
  /** Wire format. Default 'ndjson'. */
  format?: StreamFormat;
  /** Ends the iteration: the iterator finishes (a pending next() resolves done). */
  signal?: AbortSignal;
  /** Most records the node writes at once. */
  maxRecords?: number;
}

/** SSE keep-alives come every 15 s (the node's limits.streamKeepAliveMs); three missed mean a dead connection. */
const SSE_SILENCE_MS_MAX = 45_000;

type StreamItem = { record: FetchedRecord } | { error: RunnelApiError };

/** Splits a byte stream into lines; a partial last line (a cut connection) is never yielded. */
async function* lines(body: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.write(chunk as Buffer);
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      const line = pending.charCodeAt(end - 1) === 13 ? pending.slice(start, end - 1) : pending.slice(start, end);
      start = end + 1;
      yield line;
    }
    pending = pending.slice(start);
  }
}

function streamError(body: unknown, what: string): RunnelApiError {
  const error = (body as { error: { code?: unknown; message?: unknown } & Record<string, unknown> }).error;
  const { code, message, ...details } = error;
  const knownCode = isKnownErrorCode(code) ? code : 'UNEXPECTED_RESPONSE';
  const status = isKnownErrorCode(code) ? errorCatalogue[code].status : 500;
  return new RunnelApiError(knownCode, status, typeof message === 'string' ? message : String(code), details, what);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RunnelApiError('UNEXPECTED_RESPONSE', 200, `a line of ${what} is not JSON: ${text.slice(0, 200)}`, {}, what);
  }
}

async function* ndjsonItems(body: Readable, what: string): AsyncGenerator<StreamItem> {
  for await (const line of lines(body)) {
    if (line === '') continue;
    const parsed = parseJson(line, what) as FetchedRecord | { error: unknown };
    yield 'error' in parsed ? { error: streamError(parsed, what) } : { record: parsed };
  }
}

async function* sseItems(body: Readable, what: string): AsyncGenerator<StreamItem> {
  let event = 'message';
  let data = '';
  for await (const line of lines(body)) {
    if (line === '') {
      if (data !== '') {
        const parsed = parseJson(data, what);
        if (event === 'error') yield { error: streamError(parsed, what) };
        else if (event === 'record') yield { record: parsed as FetchedRecord };
      }
      event = 'message';
      data = '';
    } else if (line.startsWith('data:')) {
      data += (data === '' ? '' : '\n') + line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
    } else if (line.startsWith('event:')) {
      event = line.slice(6).trim();
    }
    // id: lines repeat the record's offset; comment lines (":") are keep-alives.
  }
}

/** Where a stream resumes, and how many drops in a row came without a record. */
interface StreamCursor {
  nextOffset: number | 'earliest';
  dropCount: number;
}

export async function* streamPartition(
  transport: Transport,
  topic: string,
  partition: number,
  options: StreamOptions = {},
): AsyncGenerator<FetchedRecord, void, undefined> {
  const format = options.format ?? 'ndjson';
  const { signal } = options;
  const path = partitionPath(topic, partition) + '/records';
  const what = `GET ${path} (${format} stream)`;
  const nextOffset = await startOffset(transport, topic, partition, options);
  if (nextOffset === undefined) return;
  const cursor: StreamCursor = { nextOffset, dropCount: 0 };
  while (signal?.aborted !== true) {
    const response = await openStream(transport, path, format, cursor, options);
    if (response === undefined) return;
    const failure = yield* readStream(response, format, what, cursor, signal);
    // The connection dropped or the node ended the stream: resume after the last record.
    if (isAborted(signal)) return;
    cursor.dropCount += 1;
    if (cursor.dropCount > transport.retries) {
      throw new RunnelConnectionError(`${what}: the stream dropped ${cursor.dropCount} times in a row without a record`, (failure as { code?: string } | undefined)?.code, transport.url, { cause: failure });
    }
    await sleep(backoffDelayMs(cursor.dropCount - 1, transport.backoffOptions), signal).catch(() => undefined);
  }
}

/** The first offset to ask for: 'latest' is resolved to the high watermark now. Undefined: aborted meanwhile. */
async function startOffset(transport: Transport, topic: string, partition: number, options: StreamOptions): Promise<number | 'earliest' | undefined> {
  if (options.offset !== 'latest') return options.offset ?? 'earliest';
  const { signal } = options;
  try {
    const offsets = await transport.call<PartitionOffsets>({ method: 'GET', path: partitionPath(topic, partition) + '/offsets', isIdempotent: true, signal });
    return offsets.highWatermark;
  } catch (error) {
    if (isAborted(signal)) return undefined;
    throw error;
  }
}

/** Opens the stream at the cursor (retried like any call). Undefined: aborted meanwhile. */
async function openStream(transport: Transport, path: string, format: StreamFormat, cursor: StreamCursor, options: StreamOptions): Promise<Dispatcher.ResponseData | undefined> {
  const { signal } = options;
  try {
    return await transport.open({
      method: 'GET',
      path,
      query: { offset: cursor.nextOffset, maxRecords: options.maxRecords },
      headers: { accept: format === 'sse' ? 'text/event-stream' : 'application/x-ndjson' },
      isIdempotent: true,
      signal,
      bodyTimeoutMs: format === 'sse' ? SSE_SILENCE_MS_MAX : 0,
    });
  } catch (error) {
    if (isAborted(signal)) return undefined;
    throw error;
  }
}

/**
 * Yields one connection's records past the cursor, moving it. Returns how the
 * connection ended (the error of a drop or a 503 error event; undefined when the node
 * ended it or the signal aborted); any other error the node sent in the stream is thrown.
 */
async function* readStream(response: Dispatcher.ResponseData, format: StreamFormat, what: string, cursor: StreamCursor, signal: AbortSignal | undefined): AsyncGenerator<FetchedRecord, unknown, undefined> {
  try {
    const items = format === 'sse' ? sseItems(response.body, what) : ndjsonItems(response.body, what);
    for await (const item of items) {
      // A 503 (NOT_LEADER as leadership moves, OVERLOADED, NOT_READY): resumed like a drop, with backoff.
      if ('error' in item) {
        if (item.error.status === 503) return item.error;
        throw item.error;
      }
      const { record } = item;
      if (typeof cursor.nextOffset === 'number' && record.offset < cursor.nextOffset) continue; // sent again after a resume
      cursor.nextOffset = record.offset + 1;
      cursor.dropCount = 0;
      yield record;
    }
  } catch (error) {
    if (error instanceof RunnelClientError) throw error;
    if (isAborted(signal)) return undefined;
    return error;
  } finally {
    response.body.destroy();
  }
  return undefined;
}
