/**
 * HighWatermarkWaiters: produce requests with acks=all waiting on one partition's
 * leader until the high watermark passes their last offset (Kafka's DelayedProduce).
 *
 * Each waiter ends exactly once: resolved when highWatermark > lastOffset with at least
 * minInsyncReplicas in the (maximal) ISR; rejected NOT_ENOUGH_REPLICAS when the ISR is
 * smaller than that (before, or at the moment the high watermark passes, Kafka's
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND), REQUEST_TIMED_OUT at its deadline, or with the
 * error given to rejectAll (leadership lost, node stopping). The count is bounded.
 *
 * A waiter may move to another set (moveTo): a new leader epoch on the same node, or
 * the hand-over to this node's follower side when it stops leading (HandoverWaiters),
 * whose records are still in its log. Its deadline goes with it.
 */
import { RunnelError } from '../../errors.js';

interface Waiter {
  /** The set it is in now (it changes on moveTo). */
  owner: HighWatermarkWaiters;
  readonly lastOffset: number;
  readonly minInsyncReplicas: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export interface ReplicationProgress {
  highWatermark: number;
  /** Size of the maximal ISR (KIP-497), the leader included. */
  insyncReplicaCount: number;
}

export class HighWatermarkWaiters {
  private waiters = new Set<Waiter>();

  constructor(private readonly label: string, private readonly waitersMax: number) {}

  get size(): number {
    return this.waiters.size;
  }

  wait(lastOffset: number, minInsyncReplicas: number, timeoutMs: number, progress: ReplicationProgress): Promise<void> {
    const early = this.verdict(lastOffset, minInsyncReplicas, progress);
    if (early === 'resolve') return Promise.resolve();
    if (early !== undefined) return Promise.reject(early);
    if (this.waiters.size >= this.waitersMax) {
      return Promise.reject(new RunnelError('TOO_MANY_WAITERS', `more than ${this.waitersMax} acks=all produce requests are waiting on ${this.label}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        owner: this,
        lastOffset,
        minInsyncReplicas,
        resolve,
        reject,
        timer: setTimeout(() => {
          waiter.owner.waiters.delete(waiter);
          reject(new RunnelError('REQUEST_TIMED_OUT',
            `the in-sync replicas of ${this.label} did not reach offset ${lastOffset} within ${timeoutMs} ms; the write may or may not be committed`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** The high watermark or the ISR changed: settle every waiter that can be. */
  check(progress: ReplicationProgress): void {
    for (const waiter of this.waiters) {
      const verdict = this.verdict(waiter.lastOffset, waiter.minInsyncReplicas, progress);
      if (verdict === undefined) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      if (verdict === 'resolve') waiter.resolve();
      else waiter.reject(verdict);
    }
  }

  rejectAll(error: Error): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /**
   * The log was truncated to `offset` (offsets from there on are gone): every waiter
   * whose last offset is at or above it lost records, and is rejected with `error`.
   */
  rejectFrom(offset: number, error: Error): void {
    for (const waiter of this.waiters) {
      if (waiter.lastOffset < offset) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /** Hands every waiter over (to a newer epoch's leader, or to the follower side): the log still holds their records. */
  moveTo(other: HighWatermarkWaiters): void {
    for (const waiter of this.waiters) {
      waiter.owner = other;
      other.waiters.add(waiter);
    }
    this.waiters = new Set();
  }

  private verdict(lastOffset: number, minInsyncReplicas: number, progress: ReplicationProgress): 'resolve' | RunnelError | undefined {
    const isShort = progress.insyncReplicaCount < minInsyncReplicas;
    if (progress.highWatermark > lastOffset) {
      return isShort ? this.notEnoughReplicas(minInsyncReplicas, progress, ' when the records were committed') : 'resolve';
    }
    return isShort ? this.notEnoughReplicas(minInsyncReplicas, progress, '') : undefined;
  }

  private notEnoughReplicas(minInsyncReplicas: number, progress: ReplicationProgress, when: string): RunnelError {
    return new RunnelError('NOT_ENOUGH_REPLICAS',
      `${this.label} has ${progress.insyncReplicaCount} in-sync replicas${when}, fewer than min.insync.replicas=${minInsyncReplicas}`,
      { insyncReplicas: progress.insyncReplicaCount, minInsyncReplicas });
  }
}
