/**
 * The one catalogue of errors Runnel reports. Every error a client can see has a
 * stable upper-case code, an HTTP status and a description; the OpenAPI document and
 * the README list exactly these (a test keeps the three in step).
 *
 * These are expected problems (bad input, unknown resources, limits). A broken
 * invariant is not here: it is an assert that stops the process (util/assert.ts).
 */
import { errorCatalogue, type ErrorCode } from './api/error-codes.js';

export { errorCatalogue, errorCodes, type ErrorCode } from './api/error-codes.js';


/** An expected failure with a stable code; `details` are extra fields for the error body. */
export class RunnelError extends Error {
  override name = 'RunnelError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.status = errorCatalogue[code].status;
  }
}

export function offsetOutOfRange(offset: number, logStartOffset: number, highWatermark: number): RunnelError {
  return new RunnelError(
    'OFFSET_OUT_OF_RANGE',
    `offset ${offset} is outside [${logStartOffset}, ${highWatermark}]`,
    { logStartOffset, highWatermark },
  );
}
