/**
 * Which failures the client retries, and after how long (see transport.ts): an answer
 * is retried when the node did nothing (408, 429, 503) or, for a request safe to send
 * twice (a read, or a write carrying an Idempotency-Key), whenever it may succeed on
 * another try (every 503, REQUEST_TIMED_OUT after an append included; 502, 504).
 */
import type { Dispatcher } from 'undici';
import type { RunnelApiError } from './client-errors.js';

/** Network failures where the request surely never reached the node. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Retry-After is waited, plus up to this fraction of it at random (so clients told the same do not return together). */
const RETRY_AFTER_JITTER = 0.2;

/** 503 REQUEST_TIMED_OUT says the write may be committed: only a request safe to send twice tries again. */
export function isRetriableAnswer(error: RunnelApiError, isIdempotent: boolean): boolean {
  const { status } = error;
  if (status === 408 || status === 429) return true;
  if (status === 503) return isIdempotent || error.code !== 'REQUEST_TIMED_OUT';
  return isIdempotent && (status === 502 || status === 504);
}

/** The node's Retry-After (seconds) in ms, jittered; undefined without one. */
export function retryAfterMs(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const value = headers['retry-after'];
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  return seconds * 1000 * (1 + Math.random() * RETRY_AFTER_JITTER);
}
