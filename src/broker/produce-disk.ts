/**
 * A produce refused for disk space, shared by the JSON and the record-batch paths:
 * before anything is written while free space is at or below the floor, or after a
 * write failed for space (then the request's batches were taken back).
 */
import { RunnelError } from '../errors.js';
import type { DiskSpace } from '../storage/disk-space.js';
import { isInternalTopic } from './internal-topics.js';

export function diskFull(reason: string): RunnelError {
  return new RunnelError('DISK_FULL', `the disk is full: ${reason}. New records are refused until space is freed (retention, a deleted topic); reads keep working`);
}

/** 507 DISK_FULL before anything is written, while free space is at or below the floor (internal topics excepted). */
export function refuseWhenDiskFull(disk: DiskSpace | undefined, topic: string): void {
  // Group commits in a cluster (__consumer_offsets) are small and keep consumers
  // moving: they may use the room the floor keeps, and fail only when a write does.
  if (disk === undefined || !disk.isFull || isInternalTopic(topic)) return;
  countRefusal(disk);
  throw diskFull(`the data directory's filesystem has ${Math.max(0, disk.freeBytes)} bytes free, at or below the floor of ${disk.freeMinBytes} (--disk-free-min-bytes)`);
}

/** Counts a produce refused for space (runnel_disk_full_refusals_total). */
export function countRefusal(disk: DiskSpace | undefined): void {
  if (disk !== undefined) disk.refusedCount += 1;
}
