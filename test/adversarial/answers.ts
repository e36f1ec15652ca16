/**
 * What the fuzzer accepts as an answer to a hostile request, for HTTP clients and raw
 * sockets alike:
 * - never a 5xx, with two documented exceptions that are not faults: 503 OVERLOADED
 *   (the node's deliberate overload protection: in-flight limit or event-loop delay,
 *   sent with Retry-After) and 503 NOT_ENOUGH_REPLICAS on a produce (the documented
 *   answer when the topic's min.insync.replicas, which a request may set as high as it
 *   likes, exceeds its in-sync replicas; Kafka answers the same). A 503 with any other
 *   code (NOT_READY, NOT_LEADER, NOT_CONTROLLER, REQUEST_TIMED_OUT: none can happen on
 *   a running single node), a 500 or a 507 is a failure;
 * - every answer that is not 2xx has exactly the documented error shape
 *   {"error":{"code","message"}} (plus the documented extras of its code), a code
 *   from the catalogue, and the status the catalogue gives that code.
 */
import { errorCatalogue, type ErrorCode } from '../../src/api/error-codes.js';
import { detailProblem } from '../helpers/error-details.js';

export interface Answer {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface JudgeContext {
  /** The request was a produce (POST .../records). */
  isProduce: boolean;
}

/** Why `answer` breaks the rules above, or undefined when it keeps them. */
export function judge(answer: Answer, context: JudgeContext): string | undefined {
  const { status } = answer;
  if (!Number.isInteger(status) || status < 100 || status > 599) return `no valid status (${status})`;
  // 100 Continue is an interim answer (the final one follows); 2xx needs no error shape.
  if (status === 100 || (status >= 200 && status < 300)) return undefined;
  const contentType = String(answer.headers['content-type'] ?? '');
  if (!contentType.startsWith('application/json')) return `status ${status} with content-type '${contentType}', not JSON`;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return `status ${status} with a body that is not JSON`;
  }
  const shapeProblem = errorShapeProblem(body, status);
  if (shapeProblem !== undefined) return `status ${status}: ${shapeProblem}`;
  const code = (body as { error: { code: ErrorCode } }).error.code;
  if (status >= 500) {
    const isAllowed = status === 503 && (code === 'OVERLOADED' || (code === 'NOT_ENOUGH_REPLICAS' && context.isProduce));
    if (!isAllowed) return `a server error: ${status} ${code}`;
  }
  return undefined;
}

function errorShapeProblem(body: unknown, status: number): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not an object';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `the body has keys ${JSON.stringify(keys)}, not just "error"`;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return '"error" is not an object';
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !Object.hasOwn(errorCatalogue, code)) return `code ${JSON.stringify(code)} is not in the catalogue`;
  if (typeof message !== 'string' || message === '') return 'no message';
  const expectedStatus = errorCatalogue[code as ErrorCode].status;
  if (expectedStatus !== status) return `code ${code} is documented with status ${expectedStatus}`;
  return detailProblem(code as ErrorCode, Object.keys(error));
}

/** status -> count, printed as one grep-able line. */
export class StatusHistogram {
  readonly counts = new Map<string, number>();

  add(status: number | string): void {
    const key = String(status);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  total(): number {
    let sum = 0;
    for (const count of this.counts.values()) sum += count;
    return sum;
  }
}
