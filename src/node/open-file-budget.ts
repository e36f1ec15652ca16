/**
 * How many segment files this node keeps open: --max-open-log-files, or by default
 * half the process's open-file limit (ulimit -n), at most 10,000 (4,096 when the limit
 * is unknown). The rest of the limit is left to connections, SQLite and the files a
 * node opens for a moment (checkpoints). Idle partitions' files are closed first
 * (storage/file-cache.ts), so the number of partitions is bounded by --max-partitions,
 * not by the limit.
 */
import { limits } from '../limits.js';

export interface OpenFileBudget {
  /** Segment files kept open at most. */
  openLogFilesMax: number;
  /** The soft open-file limit (ulimit -n), when known. */
  openFilesLimit: number | undefined;
  /** True when --max-open-log-files was set (not derived from the limit). */
  isConfigured: boolean;
}

export function openFileBudget(configured: number, openFilesLimit: number | undefined): OpenFileBudget {
  if (configured > 0) return { openLogFilesMax: configured, openFilesLimit, isConfigured: true };
  const derived = openFilesLimit === undefined
    ? limits.openLogFilesUnknownLimitDefault
    : Math.max(limits.openLogFilesMin, Math.min(limits.openLogFilesDefaultMax, Math.floor(openFilesLimit / 2)));
  return { openLogFilesMax: derived, openFilesLimit, isConfigured: false };
}
