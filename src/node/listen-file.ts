/**
 * The URL a running node listens on, kept in its data directory (`listen-url`) from
 * listen until it stops, so `runnel health` (the container's HEALTHCHECK) probes the
 * port and scheme the node really uses, whatever flags `serve` was given: only the data
 * directory has to be the same. Written whole (a temporary file renamed over it).
 */
import fs from 'node:fs';
import path from 'node:path';

const FILE_NAME = 'listen-url';

/** Records `url` as where the node of `dataDir` listens. */
export function writeListenFile(dataDir: string, url: string): void {
  const file = path.join(dataDir, FILE_NAME);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, url + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/** Forgets it (at stop), unless another node has written its own since. */
export function removeListenFile(dataDir: string, url: string): void {
  const file = path.join(dataDir, FILE_NAME);
  try {
    if (fs.readFileSync(file, 'utf8').trim() === url) fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** The URL the node of `dataDir` listens on, or undefined when none is recorded (not started, stopped). */
export function readListenFile(dataDir: string): string | undefined {
  try {
    const url = fs.readFileSync(path.join(dataDir, FILE_NAME), 'utf8').trim();
    return url === '' ? undefined : url;
  } catch {
    return undefined;
  }
}
