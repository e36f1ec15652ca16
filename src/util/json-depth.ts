/**
 * How deep a parsed JSON value nests, measured without recursion: a value nested
 * 100,000 levels deep must not overflow the call stack of the very check meant to
 * refuse it (JSON.stringify, hashing and schema walks do recurse).
 */

/**
 * True when `value` nests arrays and objects more than `max` levels deep. A scalar is
 * depth 0, `[]` and `{}` depth 1, `[[1]]` depth 2. For the limits records use it
 * recurses, but never more than `max` + 1 calls deep whatever the value (it stops at
 * the first container past `max`), so a value nested a million levels cannot overflow
 * the stack here; and it allocates nothing, as it runs on every produced record.
 */
export function isJsonDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  return max <= RECURSION_DEPTH_MAX ? isDeeper(value, max) : isDeeperIteratively(value, max);
}

/** Deeper limits than this are checked with an explicit stack instead of recursion. */
const RECURSION_DEPTH_MAX = 1_000;

/** The same answer with an explicit stack: for limits too deep to recurse to. */
function isDeeperIteratively(value: object, max: number): boolean {
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

/** `container` is one level; true when it, or what it holds, goes past `levelsLeft` levels. */
function isDeeper(container: object, levelsLeft: number): boolean {
  if (levelsLeft === 0) return true;
  if (Array.isArray(container)) {
    for (let index = 0; index < container.length; index++) {
      const child: unknown = container[index];
      if (child !== null && typeof child === 'object' && isDeeper(child, levelsLeft - 1)) return true;
    }
    return false;
  }
  // Parsed JSON: plain objects with own, enumerable keys only (an own "__proto__" key is data).
  for (const key in container) {
    const child: unknown = (container as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object' && isDeeper(child, levelsLeft - 1)) return true;
  }
  return false;
}
