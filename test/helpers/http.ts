/**
 * Tiny HTTP helpers for tests that talk to a Runnel node as a user would: a JSON
 * request, create a topic, produce, fetch a whole partition, wait for readiness.
 * Built on undici and nothing of src/, so they work against an in-process server
 * (helpers/server.ts) and a child process (helpers/child-node.ts) alike.
 *
 * Every call has a deadline (timeoutMs, default 10 s): a test never hangs on a node
 * that stopped answering. Pass `dispatcher` to use your own undici Agent (e.g. one
 * per node incarnation, closed when that node is killed).
 */
import { request, type Dispatcher } from 'undici';

export interface RequestOptions {
  method?: Dispatcher.HttpMethod;
  /** Serialised as JSON unless it is already a string (then sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  /** Deadline for the whole exchange, body included. Default 10 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; undefined when the body is empty. */
  body: T;
}

/** A non-2xx answer, with the server's error code when the body is Runnel's error shape. */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status}${code === undefined ? '' : ` ${code}`}: ${JSON.stringify(body)?.slice(0, 500)}`);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

function deadlineSignal(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
}

/** Sends one request and parses the JSON answer, whatever its status. */
export async function requestJson<T = unknown>(url: string, options: RequestOptions = {}): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await request(url, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    dispatcher: options.dispatcher,
    signal: deadlineSignal(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.signal),
  });
  const text = await response.body.text();
  let parsed: unknown;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpError(response.statusCode, undefined, text.slice(0, 500), `${options.method ?? 'GET'} ${url}: body is not JSON`);
    }
  }
  return { status: response.statusCode, headers: response.headers, body: parsed as T };
}

/** Like requestJson, but throws HttpError unless the status is 2xx. */
export async function requestOk<T = unknown>(url: string, options: RequestOptions = {}): Promise<JsonResponse<T>> {
  const response = await requestJson<T>(url, options);
  if (response.status < 200 || response.status > 299) {
    const code = (response.body as { error?: { code?: string } } | undefined)?.error?.code;
    throw new HttpError(response.status, code, response.body, `${options.method ?? (options.body === undefined ? 'GET' : 'POST')} ${url}`);
  }
  return response;
}

function topicPath(baseUrl: string, topic: string): string {
  return `${baseUrl}/v1/topics/${encodeURIComponent(topic)}`;
}

export interface CreateTopicOptions {
  partitions?: number;
  replicationFactor?: number;
  /** Kafka names, e.g. {"segment.bytes": 65536, "flush.messages": 1}. */
  configs?: Record<string, string | number>;
}

/** POST /v1/topics; throws HttpError unless 201. */
export async function createTopic(baseUrl: string, name: string, options: CreateTopicOptions & Pick<RequestOptions, 'dispatcher' | 'timeoutMs'> = {}): Promise<unknown> {
  const response = await requestOk(`${baseUrl}/v1/topics`, {
    method: 'POST',
    body: { name, partitions: options.partitions ?? 1, replicationFactor: options.replicationFactor ?? 1, configs: options.configs ?? {} },
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
  });
  return response.body;
}

export type ValueFormat = 'json' | 'string' | 'binary';

export interface ProduceRecord {
  key?: unknown;
  value?: unknown;
  headers?: Record<string, string | null>;
  partition?: number;
  timestamp?: number;
}

export interface ProduceOptions extends Pick<RequestOptions, 'dispatcher' | 'timeoutMs' | 'signal'> {
  /** Produce through /partitions/{p}/records: every record goes there. */
  partition?: number;
  acks?: 'none' | 'leader' | 'all';
  keyFormat?: ValueFormat;
  valueFormat?: ValueFormat;
  idempotencyKey?: string;
}

export interface RecordOffset {
  partition: number;
  offset: number;
  timestamp: number;
}

/** Produces one request; returns each record's partition, offset and timestamp (request order). */
export async function produce(baseUrl: string, topic: string, records: ProduceRecord[], options: ProduceOptions = {}): Promise<RecordOffset[]> {
  const path = options.partition === undefined ? `${topicPath(baseUrl, topic)}/records` : `${topicPath(baseUrl, topic)}/partitions/${options.partition}/records`;
  const query = options.acks === undefined ? '' : `?acks=${options.acks}`;
  const body: Record<string, unknown> = { records };
  if (options.keyFormat !== undefined) body.keyFormat = options.keyFormat;
  if (options.valueFormat !== undefined) body.valueFormat = options.valueFormat;
  const response = await requestOk<{ offsets: RecordOffset[] }>(path + query, {
    method: 'POST',
    body,
    headers: options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey },
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  });
  const offsets = response.body?.offsets;
  if (!Array.isArray(offsets) || offsets.length !== records.length) {
    throw new Error(`produce to ${topic}: expected ${records.length} offsets, got ${JSON.stringify(response.body).slice(0, 300)}`);
  }
  return offsets;
}

export interface FetchedRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
  headers: Record<string, string | null>;
}

export interface FetchResponse {
  records: FetchedRecord[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/** One GET .../partitions/{p}/records; throws HttpError unless 200. */
export async function fetchRecords(
  baseUrl: string, topic: string, partition: number,
  options: { offset?: number | 'earliest' | 'latest'; maxRecords?: number; maxBytes?: number; waitMs?: number } & Pick<RequestOptions, 'dispatcher' | 'timeoutMs' | 'signal'> = {},
): Promise<FetchResponse> {
  const query = new URLSearchParams({ offset: String(options.offset ?? 'earliest') });
  if (options.maxRecords !== undefined) query.set('maxRecords', String(options.maxRecords));
  if (options.maxBytes !== undefined) query.set('maxBytes', String(options.maxBytes));
  if (options.waitMs !== undefined) query.set('waitMs', String(options.waitMs));
  const response = await requestOk<FetchResponse>(`${topicPath(baseUrl, topic)}/partitions/${partition}/records?${query}`, options);
  return response.body;
}

export interface FetchAllResult {
  records: FetchedRecord[];
  /** logStartOffset and highWatermark as the first fetch saw them. */
  logStartOffset: number;
  highWatermark: number;
}

/**
 * Reads a partition from logStartOffset (or `fromOffset`) up to the high watermark
 * seen by the first fetch. Bounded: at most `fetchCountMax` fetches (default 10 000)
 * and `timeoutMs` in all (default 30 s); a fetch that makes no progress is an error,
 * not a loop.
 */
export async function fetchAll(
  baseUrl: string, topic: string, partition: number,
  options: { fromOffset?: number; maxRecords?: number; fetchCountMax?: number } & Pick<RequestOptions, 'dispatcher' | 'timeoutMs'> = {},
): Promise<FetchAllResult> {
  const deadlineMs = Date.now() + (options.timeoutMs ?? 30_000);
  const fetchCountMax = options.fetchCountMax ?? 10_000;
  const maxRecords = options.maxRecords ?? 5_000;
  const first = await fetchRecords(baseUrl, topic, partition, { offset: options.fromOffset ?? 'earliest', maxRecords, dispatcher: options.dispatcher, timeoutMs: options.timeoutMs });
  const records = [...first.records];
  const { logStartOffset, highWatermark } = first;
  let nextOffset = first.nextOffset;
  for (let fetchCount = 1; nextOffset < highWatermark; fetchCount++) {
    if (fetchCount >= fetchCountMax) throw new Error(`fetchAll ${topic}-${partition}: still at offset ${nextOffset} of ${highWatermark} after ${fetchCount} fetches`);
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0) throw new Error(`fetchAll ${topic}-${partition}: deadline passed at offset ${nextOffset} of ${highWatermark}`);
    const page = await fetchRecords(baseUrl, topic, partition, { offset: nextOffset, maxRecords, dispatcher: options.dispatcher, timeoutMs: remainingMs });
    if (page.records.length === 0 || page.nextOffset <= nextOffset) {
      throw new Error(`fetchAll ${topic}-${partition}: no progress at offset ${nextOffset} (highWatermark ${highWatermark}): ${JSON.stringify(page).slice(0, 300)}`);
    }
    records.push(...page.records);
    nextOffset = page.nextOffset;
  }
  // Whole batches may reach past the first fetch's high watermark if more was appended meanwhile.
  return { records: records.filter((record) => record.offset < highWatermark), logStartOffset, highWatermark };
}

/** Polls GET /health/ready until 200; throws after timeoutMs (default 20 s) with the last answer. */
export async function waitForReady(baseUrl: string, options: Pick<RequestOptions, 'dispatcher' | 'timeoutMs'> & { intervalMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadlineMs = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadlineMs) {
    try {
      const response = await requestJson(`${baseUrl}/health/ready`, { dispatcher: options.dispatcher, timeoutMs: Math.max(1, Math.min(5_000, deadlineMs - Date.now())) });
      if (response.status === 200) return;
      last = `HTTP ${response.status} ${JSON.stringify(response.body)}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
  throw new Error(`${baseUrl} not ready after ${timeoutMs} ms: ${last}`);
}
