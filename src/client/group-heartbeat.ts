/**
 * A group member's heartbeats (Kafka's consumer keeps them on a thread of their own;
 * here a timer). A poll is a heartbeat, so one is sent only when the loop body has
 * kept the consumer from polling for a heartbeat interval: it lists the partitions
 * the consumer still holds, so a partition being revoked is handed over only after
 * its records are processed and committed.
 *
 * HeartbeatTimer only decides when; the consumer (HeartbeatHost) knows the member and
 * sends the heartbeat. Every answer from the node (join, poll, commit, heartbeat)
 * counts as contact and pushes the next heartbeat back.
 */
import type { MemberReply, TopicPartitions } from '../api/types.js';
import { partitionsByTopic, type PartitionKey } from '../util/partition-key.js';
import { memberPath } from './paths.js';
import type { Transport } from './transport.js';

export interface HeartbeatHost {
  /** The member's heartbeat interval; undefined while it is not joined or the consumer closes. */
  heartbeatIntervalMs(): number | undefined;
  /** True while a poll is in flight (it is the heartbeat). */
  isPolling(): boolean;
  /** Sends one heartbeat; a failure is retried at the next interval. */
  heartbeat(): Promise<void>;
}

export class HeartbeatTimer {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private lastContactMs = 0;

  constructor(private readonly host: HeartbeatHost) {}

  /** The heartbeat in flight, if any: a poll or a close waits for it. */
  get inFlight(): Promise<void> | undefined {
    return this.beating;
  }

  /** The node answered this member just now. */
  contact(): void {
    this.lastContactMs = Date.now();
  }

  /** Arms the timer for one interval after the last contact (once armed, it stays). */
  schedule(): void {
    const intervalMs = this.host.heartbeatIntervalMs();
    if (intervalMs === undefined || this.timer !== undefined) return;
    const dueInMs = this.lastContactMs + intervalMs - Date.now();
    this.timer = setTimeout(this.onDue, Math.max(0, dueInMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly onDue = (): void => {
    this.timer = undefined;
    const intervalMs = this.host.heartbeatIntervalMs();
    if (intervalMs === undefined || this.host.isPolling()) return;
    if (Date.now() - this.lastContactMs < intervalMs) {
      this.schedule();
      return;
    }
    // The loop body has kept us from polling for a heartbeat interval: tell the node we are alive.
    this.beating = this.host.heartbeat()
      .catch(() => undefined) // A failed heartbeat is retried at the next interval; the next poll reports lasting trouble.
      .finally(() => {
        this.beating = undefined;
        if (!this.host.isPolling()) this.schedule();
      });
  };
}

/** POST .../heartbeat listing the partitions the member still holds; the answer is its assignment. */
export function sendHeartbeat(transport: Transport, group: string, memberId: string, held: Iterable<PartitionKey>): Promise<MemberReply> {
  return transport.call<MemberReply>({
    method: 'POST',
    path: memberPath(group, memberId) + '/heartbeat',
    body: JSON.stringify({ ownedPartitions: toTopicPartitions(held) }),
    isIdempotent: true,
  });
}

/** Topics in the order first met (not sorted), partitions sorted. */
export function toTopicPartitions(keys: Iterable<PartitionKey>): TopicPartitions[] {
  return [...partitionsByTopic(keys)].map(([topic, partitions]) => ({ topic, partitions }));
}
