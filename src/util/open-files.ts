/**
 * The process's open-file limit and use, read from /proc on Linux (undefined
 * elsewhere, or when /proc cannot be read: then nothing is derived from them).
 */
import fs from 'node:fs';

/** The soft limit on open files (`ulimit -n`), or undefined when unknown or unlimited. */
export function openFilesSoftLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = /^Max open files\s+(\S+)/m.exec(text);
  if (match === null || match[1] === 'unlimited') return undefined;
  const limit = Number(match[1]);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

/**
 * Files the process has open now; 'exhausted' when counting them failed for want of a
 * descriptor (it needs one itself); undefined when unknown.
 */
export function openFileCount(): number | 'exhausted' | undefined {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch (error) {
    return isOutOfFiles(error) ? 'exhausted' : undefined;
  }
}

/** EMFILE (this process) or ENFILE (the whole system): out of file descriptors. */
export function isOutOfFiles(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
