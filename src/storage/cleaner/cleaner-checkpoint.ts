/**
 * `cleaner-offset-checkpoint` in a partition's directory: the first offset the cleaner
 * has not yet cleaned (Kafka's per-log-dir file of the same name holds the same offset
 * per partition). Everything below it has been cleaned at least once, which is what
 * lets tombstones there expire after delete.retention.ms; a restart resumes from it
 * instead of starting over. Written durably after a round's segments were swapped in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeFileDurably } from '../../util/durable-file.js';

const FILE = 'cleaner-offset-checkpoint';

/** True once the log was compacted (the file is written before the first cleaned segment is swapped in). */
export function hasCleanerCheckpoint(directory: string): boolean {
  return fs.existsSync(path.join(directory, FILE));
}

export function readCleanerCheckpoint(directory: string): number {
  const value = readJsonFile(path.join(directory, FILE)) as { firstDirtyOffset?: unknown } | undefined;
  const offset = value?.firstDirtyOffset;
  return typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0 ? offset : 0;
}

export function writeCleanerCheckpoint(directory: string, firstDirtyOffset: number): void {
  writeFileDurably(path.join(directory, FILE), JSON.stringify({ firstDirtyOffset }) + '\n');
}
