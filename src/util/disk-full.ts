/**
 * Whether an error means "no space left": ENOSPC (the filesystem is full), EDQUOT (a
 * quota is) or SQLite's SQLITE_FULL ("database or disk is full"). These are the
 * ordinary trouble of a long-lived server, not bugs: the write that met one is undone
 * or retried, and the client is answered 507 DISK_FULL (DESIGN.md: resource limits
 * answer with stable codes, never a 500).
 */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

export function isDiskFullError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && DISK_FULL_CODES.has(code);
}
