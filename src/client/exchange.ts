/**
 * What the transport sends (a RequestSpec) and what it keeps about one call while it
 * retries (an Exchange): built once, sent unchanged by every attempt.
 */
import type { Dispatcher } from 'undici';
import type { RunnelClientError } from './client-errors.js';
import type { NodeUrl, Target } from './routing.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestSpec {
  method: HttpMethod;
  /** Path from the node's root, e.g. /v1/topics/orders (path segments already encoded). */
  path: string;
  query?: Query;
  /**
   * Serialised once by the caller and sent unchanged by every attempt: JSON text, or
   * bytes with their content type in `headers`.
   */
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Safe to send twice: GETs, and writes carrying an Idempotency-Key. */
  isIdempotent: boolean;
  signal?: AbortSignal;
  /** A long-poll's wait, added to the deadline. */
  waitMs?: number;
  /** Streams: longest silence between two chunks of the body (0: none). */
  bodyTimeoutMs?: number;
}

/** A byte answer: the body and the response's headers. */
export interface BytesAnswer {
  bytes: Buffer;
  headers: Dispatcher.ResponseData['headers'];
}

export class DeadlineReached extends Error {}
export class AttemptTimedOut extends Error {}

export type OnSuccess<R> = (response: Dispatcher.ResponseData, what: string) => Promise<R> | R;

/** One call's request, built once and sent unchanged by every attempt. */
export interface Exchange {
  spec: RequestSpec;
  /** "METHOD /path", for messages. */
  what: string;
  /** The partition or group whose leader the request goes to, and its topic. */
  target: Target;
  pathAndQuery: string;
  headers: Record<string, string>;
  deadlineMs: number;
  /** A node this topic-level produce timed out at, to ask before the next attempt (diagnose). */
  timedOutAt: number | undefined;
  /** Nodes that answer but still hold this request's first attempt: its retries go elsewhere. */
  avoid: Set<number>;
  /** A read of a partition that may go to a replica in the client's rack (rack-reads.ts); false once one failed it. */
  isRackRead: boolean;
  /** The rack replica the last attempt went to, if it went to one. */
  rackNode: number | undefined;
  /** NOT_LEADER answers followed to the leader they named: not retries (transport.ts), bounded on their own. */
  follows: number;
}

/** NOT_LEADER redirects one call follows at once before they count as retries (the deadline bounds them too). */
export const FOLLOWS_MAX = 8;

/** What one attempt came to: the value, or a failure to remember while waiting delayMs for the next. */
export type Outcome<R> = { isDone: true; value: R } | { isDone: false; error: RunnelClientError; delayMs: number };

export function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  let text = '';
  for (const name in query) {
    const value = query[name];
    if (value === undefined) continue;
    text += (text === '' ? '?' : '&') + encodeURIComponent(name) + '=' + encodeURIComponent(String(value));
  }
  return text;
}

/** GET `path` on a node: its status and JSON body (undefined when not JSON); throws when no answer came before `timeout` or `signal`. */
export async function getJson(dispatcher: Dispatcher, node: NodeUrl, path: string, headers: Record<string, string>, timeout: AbortSignal, signal: AbortSignal | undefined): Promise<{ status: number; body: unknown }> {
  const response = await dispatcher.request({
    origin: node.origin,
    path: node.prefix + path,
    method: 'GET',
    headers,
    signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
  });
  const text = await response.body.text();
  try {
    return { status: response.statusCode, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.statusCode, body: undefined };
  }
}
