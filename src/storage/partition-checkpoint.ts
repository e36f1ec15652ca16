/**
 * `partition.checkpoint`: the small JSON file that tells the next open of a partition
 * log where it stood (Kafka keeps the same facts in recovery-point-offset-checkpoint,
 * replication-offset-checkpoint and the clean-shutdown marker). It is replaced
 * durably (write to a temporary file, fsync, rename), so a crash leaves the old or the
 * new content, never a mix; unreadable content counts as no checkpoint.
 */
import path from 'node:path';
import { readJsonFile, writeFileDurably } from '../util/durable-file.js';

const CHECKPOINT_FILE = 'partition.checkpoint';

export interface PartitionCheckpoint {
  /** Every offset below this was fsynced. */
  recoveryPoint: number;
  highWatermark: number;
  /** True only when the log was closed cleanly: the next open trusts its files. */
  isCleanShutdown: boolean;
}

export function readCheckpoint(directory: string): PartitionCheckpoint | undefined {
  const value = readJsonFile(path.join(directory, CHECKPOINT_FILE)) as Partial<PartitionCheckpoint> | undefined;
  if (value === undefined || typeof value !== 'object' || value === null) return undefined;
  if (!Number.isSafeInteger(value.recoveryPoint) || !Number.isSafeInteger(value.highWatermark)) return undefined;
  return { recoveryPoint: value.recoveryPoint!, highWatermark: value.highWatermark!, isCleanShutdown: value.isCleanShutdown === true };
}

/** The file's content for a checkpoint (compared to skip rewriting an unchanged one). */
export function checkpointText(checkpoint: PartitionCheckpoint): string {
  return JSON.stringify(checkpoint) + '\n';
}

export function writeCheckpoint(directory: string, checkpoint: PartitionCheckpoint, options: { isSynced?: boolean } = {}): void {
  writeFileDurably(path.join(directory, CHECKPOINT_FILE), checkpointText(checkpoint), options);
}
