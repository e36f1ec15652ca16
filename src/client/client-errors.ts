/**
 * What the client throws. Two kinds, never mixed: the node answered with an error
 * (RunnelApiError, carrying the server's stable code), or no answer came at all
 * (RunnelConnectionError: refused, reset, timed out). Both extend RunnelClientError, so
 * `catch (error) { if (error instanceof RunnelClientError) ... }` catches every failure
 * the client reports, and nothing else.
 */
import { errorCatalogue, type ErrorCode } from '../api/error-codes.js';

/**
 * The server's error codes (src/api/error-codes.ts), plus NOT_LEADER, which a cluster
 * node answers (503, with `leaderUrl`) and the client follows on its own, and
 * UNEXPECTED_RESPONSE for an answer that is not Runnel's error shape (a proxy's page).
 */
export type ClientErrorCode = ErrorCode | 'NOT_LEADER' | 'UNEXPECTED_RESPONSE';

export function isKnownErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCatalogue, code);
}

export class RunnelClientError extends Error {
  override name = 'RunnelClientError';
}

export class RunnelApiError extends RunnelClientError {
  override name = 'RunnelApiError';

  constructor(
    /** The server's stable code, e.g. TOPIC_NOT_FOUND. */
    readonly code: ClientErrorCode,
    /** The HTTP status. */
    readonly status: number,
    message: string,
    /** Any other fields of the error body (OFFSET_OUT_OF_RANGE: logStartOffset, highWatermark; NOT_LEADER: leaderUrl). */
    readonly details: Readonly<Record<string, unknown>> = {},
    /** The request that failed, as `METHOD path`. */
    readonly request?: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export class RunnelConnectionError extends RunnelClientError {
  override name = 'RunnelConnectionError';

  constructor(
    message: string,
    /** The network error's code when it has one (ECONNREFUSED, UND_ERR_SOCKET, ...), or TIMEOUT. */
    readonly code: string | undefined,
    /** The node the last attempt went to. */
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Parses an error answer. Runnel's shape is {"error":{"code","message",...details}};
 * anything else becomes UNEXPECTED_RESPONSE with the start of the body as message.
 */
export function apiErrorFrom(status: number, text: string, request: string): RunnelApiError {
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const { code, message, ...details } = error as { code: string; message?: unknown } & Record<string, unknown>;
    const knownCode: ClientErrorCode = isKnownErrorCode(code) || code === 'NOT_LEADER' ? code : 'UNEXPECTED_RESPONSE';
    const text_ = typeof message === 'string' ? message : '(no message)';
    return new RunnelApiError(knownCode, status, knownCode === code ? text_ : `${code}: ${text_}`, details, request);
  }
  return new RunnelApiError('UNEXPECTED_RESPONSE', status, `HTTP ${status} from ${request}: ${text.slice(0, 200)}`, {}, request);
}
