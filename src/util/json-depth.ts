/**
 * How deep a parsed JSON value nests, measured without recursion: a value nested
 * 100,000 levels deep must not overflow the call stack of the very check meant to
 * refuse it (JSON.stringify, hashing and schema walks do recurse).
 */

/**
 * True when `value` nests arrays and objects more than `max` levels deep. A scalar is
 * depth 0, `[]` and `{}` depth 1, `[[1]]` depth 2. Iterative (an explicit stack), it
 * stops at the first container past `max`, so its work is bounded by the value's size.
 */
export function isJsonDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const pending: Array<{ container: object; depth: number }> = [{ container: value, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > max) return true;
    const children = Array.isArray(next.container) ? (next.container as unknown[]) : Object.values(next.container);
    for (const child of children) {
      if (child !== null && typeof child === 'object') pending.push({ container: child, depth: next.depth + 1 });
    }
  }
  return false;
}
