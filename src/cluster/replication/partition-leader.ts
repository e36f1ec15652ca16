/**
 * PartitionLeader: this node leads one partition in one leader epoch. It applies
 * PartitionLeaderState's decisions to the world: moves the log's high watermark (then
 * wakes consumers, acks=all waiters and parked follower fetches), sends ISR changes to
 * the controller (KIP-497 AlterPartition, one at a time), and parks follower fetches
 * until new bytes arrive.
 *
 * A new leader epoch on the same node is a new PartitionLeader (Kafka resets the
 * followers' state on every makeLeader); the acks=all waiters move over, because the
 * records they wait for are still in this log.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import { HighWatermarkWaiters } from './high-watermark-waiters.js';
import { PartitionLeaderState } from './leader-state.js';
import type { ReplicaPartition } from './replica-partition.js';

/** What a partition leader needs of the replica manager's options. */
export interface PartitionLeaderOptions {
  nodeId: number;
  /** Kafka's replica.lag.time.max.ms. */
  replicaLagTimeMaxMs: number;
  /** An ISR follower that sent no fetch for this long leaves the ISR (default limits.followerFetchSilenceMsMax). */
  followerFetchSilenceMaxMs?: number;
  /**
   * Asks the controller to set a partition's ISR (KIP-497 AlterPartition). Resolves once
   * committed; the new ISR then arrives through onLeadershipChange. Rejects on
   * refusal/timeouts.
   */
  alterIsr: (request: { topic: string; partition: number; leaderEpoch: number; partitionEpoch: number; isr: number[] }) => Promise<void>;
}

export interface PartitionLeaderContext {
  readonly options: PartitionLeaderOptions;
  now(): number;
  reportError(error: unknown, context: string): void;
  /** The controller refused an ISR change (a fenced follower, a stale epoch): expected, reported once per refusal. */
  reportRefusal(error: unknown, context: string): void;
}

export class PartitionLeader {
  readonly state: PartitionLeaderState;
  readonly waiters: HighWatermarkWaiters;
  private readonly fetchWakers = new Set<() => void>();
  private isResigned = false;
  /** Deadlines of AlterPartition requests not answered yet (one in flight, but answers may come late). */
  private readonly alterIsrTimers = new Set<NodeJS.Timeout>();
  /**
   * The last refused ISR change reported: the same refusal again (the leader retries an
   * expansion to a stopped, fenced node every few hundred ms) is not reported again
   * until an ISR change succeeds or the refusal differs.
   */
  private lastRefusal: string | undefined;

  constructor(readonly partition: ReplicaPartition, private readonly context: PartitionLeaderContext) {
    this.state = new PartitionLeaderState({
      leaderId: context.options.nodeId,
      leaderEpoch: partition.leaderEpoch,
      partitionEpoch: partition.partitionEpoch,
      replicas: partition.replicas,
      isr: partition.isr,
      // Kafka's leaderEpochStartOffset: a follower joins the ISR only once it holds
      // everything earlier epochs wrote here.
      leaderEpochStartOffset: partition.log.logEndOffset,
      replicaLagTimeMaxMs: context.options.replicaLagTimeMaxMs,
      followerFetchSilenceMaxMs: context.options.followerFetchSilenceMaxMs,
      nowMs: context.now(),
    });
    this.waiters = new HighWatermarkWaiters(`${partition.topic}-${partition.partition}`, limits.waitersPerPartitionMax);
  }

  get leaderEpoch(): number {
    return this.state.leaderEpoch;
  }

  get label(): string {
    return `${this.partition.topic}-${this.partition.partition}`;
  }

  /** Metadata of this leader epoch changed (ISR, replicas, partitionEpoch). */
  applyMetadata(): void {
    const { partition } = this;
    this.state.applyMetadata({ partitionEpoch: partition.partitionEpoch, replicas: partition.replicas, isr: partition.isr }, this.context.now());
    this.maybeAdvanceHighWatermark();
  }

  /** A follower fetched from `fetchOffset`: its logEndOffset, maybe the high watermark and the ISR. */
  onFollowerFetch(replicaId: number, fetchOffset: number): void {
    this.state.updateFollowerFetch(replicaId, fetchOffset, this.partition.log.logEndOffset, this.context.now());
    this.maybeAdvanceHighWatermark();
    this.maybeProposeIsrChange();
  }

  /** A local append: parked follower fetches have bytes to take; a lone leader commits at once. */
  onAppend(): void {
    this.wakeFetches();
    this.maybeAdvanceHighWatermark();
  }

  maybeAdvanceHighWatermark(): void {
    const { log } = this.partition;
    const next = this.state.highWatermarkFor(log.logEndOffset, log.highWatermark);
    if (next > log.highWatermark) {
      log.updateHighWatermark(next);
      this.partition.notifyReaders();
      // Followers learn the new high watermark at once rather than at their next
      // maxWaitMs, so one that becomes leader exposes what was committed.
      this.wakeFetches();
    }
    this.waiters.check({ highWatermark: log.highWatermark, insyncReplicaCount: this.state.maximalIsr.length });
  }

  /** See PartitionLeaderState.forgivePause. */
  forgivePause(pauseMs: number): void {
    this.state.forgivePause(pauseMs, this.context.now());
  }

  /** Kafka's maybeShrinkIsr / maybeExpandIsr, through the controller (KIP-497). */
  maybeProposeIsrChange(): void {
    if (this.isResigned) return;
    const { log } = this.partition;
    const change = this.state.isrChangeToPropose(log.logEndOffset, log.highWatermark, this.context.now());
    if (change === undefined) return;
    const request = {
      topic: this.partition.topic,
      partition: this.partition.partition,
      leaderEpoch: this.state.leaderEpoch,
      partitionEpoch: this.state.partitionEpoch,
      isr: change.isr,
    };
    const id = this.state.beginIsrChange(change);
    const settle = (): void => {
      clearTimeout(timer);
      this.alterIsrTimers.delete(timer);
    };
    const fail = (error: unknown): void => {
      settle();
      if (this.isResigned || this.state.pendingIsrChange !== change) return;
      this.state.failIsrChange(id, this.context.now());
      const refusal = `${change.kind} [${change.isr.join(',')}] ${(error as Error).message}`;
      if (refusal !== this.lastRefusal) {
        this.lastRefusal = refusal;
        this.context.reportRefusal(error, `AlterPartition ${this.label} ${change.kind} to ISR [${change.isr.join(',')}] ` +
          `(leaderEpoch ${request.leaderEpoch}, partitionEpoch ${request.partitionEpoch}); the same refusal again is not reported`);
      }
      // A refused expansion leaves the maximal ISR smaller: the high watermark may move.
      this.maybeAdvanceHighWatermark();
    };
    const timer = setTimeout(() => fail(new Error(`no answer from the controller within ${limits.alterIsrTimeoutMs} ms`)), limits.alterIsrTimeoutMs);
    timer.unref();
    this.alterIsrTimers.add(timer);
    let answer: Promise<void>;
    try {
      answer = this.context.options.alterIsr(request);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(() => {
      settle();
      this.state.commitIsrChange(id, this.context.now());
      this.lastRefusal = undefined;
    }, fail);
  }

  waitForHighWatermark(lastOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<void> {
    return this.waiters.wait(lastOffset, minInsyncReplicas, timeoutMs, {
      highWatermark: this.partition.log.highWatermark,
      insyncReplicaCount: this.state.maximalIsr.length,
    });
  }

  /** Registers a parked follower fetch; returns its unregistration. */
  park(wake: () => void): () => void {
    if (this.isResigned) {
      wake();
      return () => undefined;
    }
    this.fetchWakers.add(wake);
    return () => this.fetchWakers.delete(wake);
  }

  wakeFetches(): void {
    if (this.fetchWakers.size === 0) return;
    const wakers = [...this.fetchWakers];
    this.fetchWakers.clear();
    for (const wake of wakers) wake();
  }

  get isCurrent(): boolean {
    return !this.isResigned;
  }

  /**
   * Leadership of this epoch ended. Waiters not handed on (`successor`: the next epoch's
   * leader here, or this node's follower side, see HandoverWaiters) are rejected with
   * `error`; parked fetches wake and read the news.
   */
  resign(error: RunnelError, successor?: HighWatermarkWaiters): void {
    if (this.isResigned) return;
    this.isResigned = true;
    for (const timer of this.alterIsrTimers) clearTimeout(timer);
    this.alterIsrTimers.clear();
    if (successor !== undefined) this.waiters.moveTo(successor);
    this.waiters.rejectAll(error);
    this.wakeFetches();
  }
}
