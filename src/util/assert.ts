/**
 * Invariant checks. A broken invariant is a bug, not bad input: stop before the
 * process writes anything that could corrupt a log (TIGER_STYLE's two kinds of failure).
 */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantError(typeof message === 'function' ? message() : message);
  }
}
