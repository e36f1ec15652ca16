/**
 * HighWatermarkWaiters: produce requests with acks=all waiting on one partition's
 * leader until the high watermark passes their last offset (Kafka's DelayedProduce).
 *
 * Each waiter ends exactly once: resolved when highWatermark > lastOffset with at least
 * minInsyncReplicas in the (maximal) ISR; rejected NOT_ENOUGH_REPLICAS when the ISR is
 * smaller than that (before, or at the moment the high watermark passes, Kafka's
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND), REQUEST_TIMED_OUT at its deadline, or with the
 * error given to rejectAll (leadership lost, node stopping). The count is bounded.
 */
import { RunnelError } from '../../errors.js';

interface Waiter {
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
        lastOffset,
        minInsyncReplicas,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
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

  /** Hands every waiter over (the same node leads again in a newer epoch: its log still holds them). */
  moveTo(other: HighWatermarkWaiters): void {
    for (const waiter of this.waiters) other.waiters.add(waiter);
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
