/**
 * HandoverWaiters: the acks=all waiters of partitions this node stopped leading while it
 * still holds them as a follower (a preferred-leader move, a controlled shutdown of
 * another kind of leadership change). Their records were appended here and may well be
 * committed by the new leader, so answering NOT_LEADER would make the client retry and
 * append them twice. Instead each waits on, as Kafka's controlled hand-over would let it:
 * - resolved once this follower's high watermark (learned from the new leader's fetch
 *   answers, capped at this log's end) passes its last offset: the new leader committed
 *   exactly these records at these offsets (the follower's log agrees with the leader's
 *   up to its end, KIP-320);
 * - rejected (NOT_LEADER) when this log is truncated at or below its last offset: the
 *   new leader did not have them and its own records replace them;
 * - REQUEST_TIMED_OUT at its own deadline, as before;
 * - moved back to a PartitionLeader if this node leads the partition again.
 * The min.insync.replicas check stays the leader's: a follower knows no ISR.
 */
import { partitionKey, type PartitionKey } from '../../util/partition-key.js';
import { HighWatermarkWaiters } from './high-watermark-waiters.js';
import type { ReplicaPartition } from './replica-partition.js';

/** The follower side settles on the high watermark alone: the ISR count never falls short. */
const NO_ISR_CHECK = Number.MAX_SAFE_INTEGER;

export class HandoverWaiters {
  private readonly byPartition = new Map<PartitionKey, { partition: ReplicaPartition; waiters: HighWatermarkWaiters }>();

  constructor(private readonly waitersMax: number) {}

  /** The set `partition`'s resigning leader hands its waiters to (made on first use). */
  target(partition: ReplicaPartition): HighWatermarkWaiters {
    const key = partitionKey(partition.topic, partition.partition);
    const current = this.byPartition.get(key);
    if (current !== undefined && current.partition === partition) return current.waiters;
    const waiters = new HighWatermarkWaiters(`${partition.topic}-${partition.partition}`, this.waitersMax);
    this.byPartition.set(key, { partition, waiters });
    return waiters;
  }

  count(partition: ReplicaPartition): number {
    return this.entry(partition)?.waiters.size ?? 0;
  }

  /** This follower's high watermark may have moved. */
  onHighWatermark(partition: ReplicaPartition): void {
    const entry = this.entry(partition);
    if (entry === undefined) return;
    entry.waiters.check({ highWatermark: partition.log.highWatermark, insyncReplicaCount: NO_ISR_CHECK });
    this.dropIfEmpty(partition);
  }

  /** This log was truncated to `offset`: waiters with records at or above it are rejected with `error`. */
  onTruncated(partition: ReplicaPartition, offset: number, error: Error): void {
    this.entry(partition)?.waiters.rejectFrom(offset, error);
    this.dropIfEmpty(partition);
  }

  /** This node leads `partition` again: its waiters go to the leader's set. */
  moveTo(partition: ReplicaPartition, leaderWaiters: HighWatermarkWaiters): void {
    this.entry(partition)?.waiters.moveTo(leaderWaiters);
    this.dropIfEmpty(partition);
  }

  /** The partition left this node (or no longer has a leader to follow). */
  reject(partition: ReplicaPartition, error: Error): void {
    this.entry(partition)?.waiters.rejectAll(error);
    this.dropIfEmpty(partition);
  }

  rejectAll(error: Error): void {
    for (const { waiters } of this.byPartition.values()) waiters.rejectAll(error);
    this.byPartition.clear();
  }

  private entry(partition: ReplicaPartition): { partition: ReplicaPartition; waiters: HighWatermarkWaiters } | undefined {
    const entry = this.byPartition.get(partitionKey(partition.topic, partition.partition));
    return entry !== undefined && entry.partition === partition ? entry : undefined;
  }

  private dropIfEmpty(partition: ReplicaPartition): void {
    const entry = this.entry(partition);
    if (entry !== undefined && entry.waiters.size === 0) this.byPartition.delete(partitionKey(partition.topic, partition.partition));
  }
}
