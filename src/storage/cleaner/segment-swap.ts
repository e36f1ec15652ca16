/**
 * Replacing a segment's log file by its cleaned copy so that a process killed at any
 * instant leaves the old segment or the new one, never a mix (Kafka's .cleaned and
 * .swap suffixes):
 *  1. the cleaned batches are written to `<base>.log.cleaned` and fsynced; a crash
 *     now leaves a .cleaned file, which recovery deletes (the old segment is intact);
 *  2. `.cleaned` is renamed `.swap` (and the directory fsynced): from here the swap is
 *     decided, and recovery completes it;
 *  3. the old segment's index files are deleted (they describe the old log file);
 *  4. `.swap` is renamed over `<base>.log` and the directory fsynced.
 * Recovery (completeInterruptedSwaps, called by the log loader before it lists
 * segments) deletes .cleaned files and redoes 3-4 for every .swap file. A segment
 * whose index files are missing rebuilds them from its log when opened.
 *
 * Crash points for tests: RUNNEL_CLEANER_CRASH_AT=N makes the process kill itself with
 * SIGKILL at the N-th crash point it passes (counted from 1 across the process's life),
 * so a test can stop cleaning at every step deterministically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { segmentFileName } from '../segment-files.js';

const CLEANED_SUFFIX = '.log.cleaned';
const SWAP_SUFFIX = '.log.swap';

let crashPointsPassed = 0;
const crashAt = Number(process.env.RUNNEL_CLEANER_CRASH_AT ?? '0');

/** A named step of cleaning where a test may kill the process (see the module comment). */
export function crashPoint(): void {
  crashPointsPassed += 1;
  if (crashAt > 0 && crashPointsPassed === crashAt) process.kill(process.pid, 'SIGKILL');
}

export function cleanedPath(directory: string, baseOffset: number): string {
  return path.join(directory, String(baseOffset).padStart(20, '0') + CLEANED_SUFFIX);
}

function swapPath(directory: string, baseOffset: number): string {
  return path.join(directory, String(baseOffset).padStart(20, '0') + SWAP_SUFFIX);
}

export function fsyncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Steps 2-4 for a cleaned file already written and fsynced. The caller has closed the
 * old segment; afterwards `<base>.log` holds the cleaned batches and has no index files.
 */
export function swapInCleaned(directory: string, baseOffset: number): void {
  fs.renameSync(cleanedPath(directory, baseOffset), swapPath(directory, baseOffset));
  fsyncDirectory(directory);
  crashPoint();
  finishSwap(directory, baseOffset);
}

function finishSwap(directory: string, baseOffset: number): void {
  fs.rmSync(path.join(directory, segmentFileName(baseOffset, '.index')), { force: true });
  fs.rmSync(path.join(directory, segmentFileName(baseOffset, '.timeindex')), { force: true });
  crashPoint();
  fs.renameSync(swapPath(directory, baseOffset), path.join(directory, segmentFileName(baseOffset, '.log')));
  fsyncDirectory(directory);
  crashPoint();
}

/** Recovery: .cleaned files go (their swap never began), .swap files replace their segment's log. Returns how many swaps were completed. */
export function completeInterruptedSwaps(directory: string): number {
  let completed = 0;
  for (const name of fs.readdirSync(directory)) {
    if (name.endsWith(CLEANED_SUFFIX)) {
      fs.rmSync(path.join(directory, name), { force: true });
      continue;
    }
    const match = /^(\d{20})\.log\.swap$/.exec(name);
    if (match !== null) {
      finishSwap(directory, Number(match[1]));
      completed += 1;
    }
  }
  return completed;
}
