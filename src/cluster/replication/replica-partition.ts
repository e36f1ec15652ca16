/**
 * ReplicaPartition: what replication needs of a local partition, its log and the
 * metadata that says who leads it. The broker's PartitionState extends it (adding the
 * readers' notifier); replication reads the metadata fields and never writes them.
 * Its own file so the replica manager, the partition leader, the fetch handler and the
 * follower fetcher can all name it without importing each other.
 */
import type { PartitionLog } from '../../storage/partition-log.js';

export interface ReplicaPartition {
  readonly topic: string;
  readonly partition: number;
  readonly log: PartitionLog;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** KIP-497's partition epoch: bumped by every change of leader or ISR. */
  partitionEpoch: number;
  /** Wakes consumers' long-polls and streams (called after the high watermark moved). */
  notifyReaders(): void;
}

/** The three offsets of a partition's log, as replication reports them (logStartOffset <= highWatermark <= logEndOffset). */
export interface LogOffsets {
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
}

export function logOffsetsOf(partition: ReplicaPartition): LogOffsets {
  const { log } = partition;
  return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark, logEndOffset: log.logEndOffset };
}
