import fs from 'node:fs';

/**
 * Writes a small file so that a crash at any instant leaves either the old or the new
 * content: write a temporary file, fsync it, then rename it over the old one.
 */
export function writeFileDurably(path: string, content: string, options: { isSynced?: boolean } = {}): void {
  const temporary = `${path}.tmp`;
  const fd = fs.openSync(temporary, 'w');
  try {
    try {
      fs.writeSync(fd, content);
      // Without the fsync the swap is still atomic for a killed process (the page cache
      // survives it), not for a power loss.
      if (options.isSynced !== false) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
  } catch (error) {
    // A full disk (ENOSPC) fails the write: the old file stays, and a half-written
    // temporary one must not keep the space.
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/** Reads a JSON file, or undefined when it is missing or not valid JSON (a torn write of an old version). */
export function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}
