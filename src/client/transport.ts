/**
 * Transport: one HTTP exchange with a Runnel node, retried when that is safe.
 *
 * - Deadline: a call, its retries and backoff included, ends within timeoutMs (plus
 *   the wait of a long-poll); past it the last failure is thrown.
 * - Retried: 429 and 503 (the node refused before doing anything) for every request;
 *   network failures only for requests that are safe to send twice (GETs, and writes
 *   carrying an Idempotency-Key), or that never left (connection refused). Other 4xx
 *   and 500 are answers, thrown at once as RunnelApiError.
 * - Backoff: exponential with full jitter, or the node's Retry-After when it sends one.
 * - 503 NOT_LEADER names the leader (`leaderUrl`): the request goes there at once.
 *   For a partition's requests (/v1/topics/{t}/partitions/{p}/...) and a group's
 *   (/v1/groups/{g}/...) that leader is remembered for that partition or group, as
 *   Kafka's client keeps a leader per partition and a coordinator per group; for any
 *   other request the leader becomes the node the client talks to. With several
 *   `urls`, a node that refuses connections is skipped in turn.
 */
import type { Dispatcher } from 'undici';
import { partitionKey } from '../util/partition-key.js';
import { backoffDelayMs, defaultBackoff, isAborted, sleep, type BackoffOptions } from './backoff.js';
import { apiErrorFrom, RunnelApiError, RunnelClientError, RunnelConnectionError } from './client-errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface TransportOptions {
  urls: readonly string[];
  apiKey?: string;
  timeoutMs: number;
  retries: number;
  dispatcher: Dispatcher;
  backoff?: BackoffOptions;
}

export interface RequestSpec {
  method: HttpMethod;
  /** Path from the node's root, e.g. /v1/topics/orders (path segments already encoded). */
  path: string;
  query?: Query;
  /** JSON text, serialised once by the caller and sent unchanged by every attempt. */
  body?: string;
  headers?: Record<string, string>;
  /** Safe to send twice: GETs, and writes carrying an Idempotency-Key. */
  isIdempotent: boolean;
  signal?: AbortSignal;
  /** A long-poll's wait, added to the deadline. */
  waitMs?: number;
  /** Streams: longest silence between two chunks of the body (0: none). */
  bodyTimeoutMs?: number;
}

/** Network failures where the request surely never reached the node. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

class DeadlineReached extends Error {}

type OnSuccess<R> = (response: Dispatcher.ResponseData, what: string) => Promise<R> | R;

/** One call's request, built once and sent unchanged by every attempt. */
interface Exchange {
  spec: RequestSpec;
  /** "METHOD /path", for messages. */
  what: string;
  /** The partition or group whose leader the request goes to (leadershipKey). */
  key: string | undefined;
  pathAndQuery: string;
  headers: Record<string, string>;
  deadlineMs: number;
}

/** What one attempt came to: the value, or a failure to remember while waiting delayMs for the next. */
type Outcome<R> = { isDone: true; value: R } | { isDone: false; error: RunnelClientError; delayMs: number };

interface NodeUrl {
  /** scheme://host:port */
  origin: string;
  /** A path prefix in front of /v1 (a reverse proxy's), without a trailing slash. */
  prefix: string;
  /** As given, normalised: origin + prefix. */
  href: string;
}

function parseNodeUrl(text: string): NodeUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`expected a node URL like http://127.0.0.1:8080, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`expected an http: or https: URL, got ${JSON.stringify(text)}`);
  }
  const prefix = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, prefix, href: url.origin + prefix };
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  let text = '';
  for (const name in query) {
    const value = query[name];
    if (value === undefined) continue;
    text += (text === '' ? '?' : '&') + encodeURIComponent(name) + '=' + encodeURIComponent(String(value));
  }
  return text;
}

function retryAfterMs(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const value = headers['retry-after'];
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** The partition or group a request is about, when it has one (its leader may be another node). */
function leadershipKey(path: string): string | undefined {
  const partition = /^\/v1\/topics\/([^/]+)\/partitions\/(\d+)(\/|$)/.exec(path);
  if (partition !== null) return 'partition ' + partitionKey(partition[1], Number(partition[2]));
  const group = /^\/v1\/groups\/([^/]+)(\/|$)/.exec(path);
  return group === null ? undefined : `group ${group[1]}`;
}

/** Most partitions and groups whose leader is remembered (the oldest is forgotten first). */
const REMEMBERED_LEADERS_MAX = 10_000;

export class Transport {
  private readonly nodes: NodeUrl[];
  private current = 0;
  /** Leader (index into nodes) per partition or group, learnt from NOT_LEADER answers. */
  private readonly leaders = new Map<string, number>();
  private readonly baseHeaders: Record<string, string>;
  private readonly backoff: BackoffOptions;

  constructor(private readonly options: TransportOptions) {
    if (options.urls.length === 0) throw new TypeError('expected at least one node URL');
    if (!Number.isInteger(options.retries) || options.retries < 0) throw new TypeError(`expected retries to be a non-negative integer, got ${options.retries}`);
    if (!(options.timeoutMs > 0)) throw new TypeError(`expected timeoutMs to be positive, got ${options.timeoutMs}`);
    this.nodes = options.urls.map(parseNodeUrl);
    this.baseHeaders = { accept: 'application/json' };
    if (options.apiKey !== undefined) this.baseHeaders.authorization = `Bearer ${options.apiKey}`;
    this.backoff = options.backoff ?? defaultBackoff;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  get retries(): number {
    return this.options.retries;
  }

  get backoffOptions(): BackoffOptions {
    return this.backoff;
  }

  /** The node requests go to now. */
  get url(): string {
    return this.nodes[this.current].href;
  }

  /** Every node the client knows: those it was given and leaders it was sent to. */
  get urls(): string[] {
    return this.nodes.map((node) => node.href);
  }

  /** Sends a request and parses its JSON answer (undefined for an empty one). */
  async call<T>(spec: RequestSpec): Promise<T> {
    return this.perform(spec, false, async (response, what) => {
      const text = await response.body.text();
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new RunnelApiError('UNEXPECTED_RESPONSE', response.statusCode, `the answer to ${what} is not JSON: ${text.slice(0, 200)}`, {}, what);
      }
    });
  }

  /**
   * Opens a streaming response: retried like call() until the status line arrives; the
   * body is then the caller's to read (and to destroy). The deadline stops applying
   * once the answer has begun; `signal` keeps working on the body.
   */
  async open(spec: RequestSpec): Promise<Dispatcher.ResponseData> {
    return this.perform(spec, true, (response) => response);
  }

  private follow(leaderUrl: string, key: string | undefined): void {
    const leader = parseNodeUrl(leaderUrl);
    let index = this.nodes.findIndex((node) => node.href === leader.href);
    if (index === -1) index = this.nodes.push(leader) - 1;
    if (key === undefined) {
      this.current = index;
      return;
    }
    this.leaders.delete(key);
    this.leaders.set(key, index);
    if (this.leaders.size > REMEMBERED_LEADERS_MAX) this.leaders.delete(this.leaders.keys().next().value as string);
  }

  /** Moves on from a node that refused the connection (when there is another). */
  private skip(href: string, key: string | undefined): void {
    // A remembered leader that went away is forgotten: the next answer names the new one.
    if (key !== undefined && this.leaders.has(key)) {
      this.leaders.delete(key);
      return;
    }
    if (this.nodes[this.current].href === href) this.current = (this.current + 1) % this.nodes.length;
  }

  private async perform<R>(spec: RequestSpec, isStream: boolean, onSuccess: OnSuccess<R>): Promise<R> {
    const exchange: Exchange = {
      spec,
      what: `${spec.method} ${spec.path}`,
      key: leadershipKey(spec.path),
      pathAndQuery: spec.path + queryString(spec.query),
      headers: spec.body === undefined
        ? { ...this.baseHeaders, ...spec.headers }
        : { ...this.baseHeaders, 'content-type': 'application/json', ...spec.headers },
      deadlineMs: Date.now() + this.options.timeoutMs + (spec.waitMs ?? 0),
    };
    let lastError: RunnelClientError | undefined;
    let delayMs = 0;
    for (let attempt = 0; ; attempt++) {
      if (delayMs > 0) await sleep(Math.min(delayMs, exchange.deadlineMs - Date.now()), spec.signal);
      const remainingMs = exchange.deadlineMs - Date.now();
      if (remainingMs <= 0) {
        throw lastError ?? new RunnelConnectionError(`${exchange.what}: no answer within ${this.options.timeoutMs} ms`, 'TIMEOUT', this.url);
      }
      if (isAborted(spec.signal)) throw spec.signal?.reason as Error;
      const outcome = await this.attempt(exchange, attempt, remainingMs, isStream, onSuccess);
      if (outcome.isDone) return outcome.value;
      ({ error: lastError, delayMs } = outcome);
    }
  }

  /** One try: the answer, or the failure and how long to wait before the next try; throws when there is no next. */
  private async attempt<R>(exchange: Exchange, attempt: number, remainingMs: number, isStream: boolean, onSuccess: OnSuccess<R>): Promise<Outcome<R>> {
    const { spec, what, key } = exchange;
    const node = this.nodes[(key === undefined ? undefined : this.leaders.get(key)) ?? this.current];
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DeadlineReached()), remainingMs);
    const onAbort = (): void => controller.abort(spec.signal?.reason);
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    let isHandedOver = false;
    try {
      const response = await this.options.dispatcher.request({
        origin: node.origin,
        path: node.prefix + exchange.pathAndQuery,
        method: spec.method,
        headers: exchange.headers,
        body: spec.body,
        signal: controller.signal,
        bodyTimeout: spec.bodyTimeoutMs,
      });
      if (response.statusCode >= 200 && response.statusCode < 300) {
        if (isStream) {
          // The body outlives this call: only the caller's signal may end it now.
          clearTimeout(timer);
          isHandedOver = true;
          response.body.once('close', () => spec.signal?.removeEventListener('abort', onAbort));
        }
        return { isDone: true, value: await onSuccess(response, what) };
      }
      const error = apiErrorFrom(response.statusCode, await response.body.text(), what);
      return { isDone: false, error, delayMs: this.retryDelayAfterAnswer(error, response, exchange, attempt) };
    } catch (error) {
      if (error instanceof RunnelClientError) throw error;
      return this.retryAfterNetworkFailure(error, node, controller, exchange, attempt);
    } finally {
      if (!isHandedOver) {
        clearTimeout(timer);
        spec.signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  /** An error answer: follow NOT_LEADER at once, back off on 429/503 (and 502/504 when safe); otherwise throw it. */
  private retryDelayAfterAnswer(error: RunnelApiError, response: Dispatcher.ResponseData, exchange: Exchange, attempt: number): number {
    const leaderUrl = error.details.leaderUrl;
    let delayMs: number;
    if (error.code === 'NOT_LEADER' && typeof leaderUrl === 'string') {
      this.follow(leaderUrl, exchange.key);
      delayMs = 0;
    } else if (error.status === 429 || error.status === 503 || (exchange.spec.isIdempotent && (error.status === 502 || error.status === 504))) {
      delayMs = retryAfterMs(response.headers) ?? backoffDelayMs(attempt, this.backoff);
    } else {
      throw error;
    }
    if (attempt >= this.options.retries) throw error;
    return delayMs;
  }

  /** No answer: retried (with backoff) only when the request is safe to send again or surely never left. */
  private retryAfterNetworkFailure(error: unknown, node: NodeUrl, controller: AbortController, exchange: Exchange, attempt: number): Outcome<never> {
    const { spec, what, key } = exchange;
    if (isAborted(spec.signal)) throw spec.signal?.reason as Error;
    if (controller.signal.reason instanceof DeadlineReached) {
      throw new RunnelConnectionError(`${what} to ${node.href}: no answer within ${this.options.timeoutMs} ms`, 'TIMEOUT', node.href, { cause: error });
    }
    const code = (error as { code?: unknown }).code;
    const failure = new RunnelConnectionError(
      `${what} to ${node.href} failed: ${(error as Error).message}`,
      typeof code === 'string' ? code : undefined,
      node.href,
      { cause: error },
    );
    const isNotSent = typeof code === 'string' && NOT_SENT_CODES.has(code);
    if (isNotSent) this.skip(node.href, key);
    if (!(spec.isIdempotent || isNotSent) || attempt >= this.options.retries) throw failure;
    return { isDone: false, error: failure, delayMs: backoffDelayMs(attempt, this.backoff) };
  }
}
