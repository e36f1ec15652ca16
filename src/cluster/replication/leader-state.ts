/**
 * PartitionLeaderState: what the leader of one partition knows about its followers,
 * and the decisions Kafka's Partition makes from it. Pure: no I/O, no timers; every
 * input comes with `nowMs`, so tests drive it with a hand-made clock.
 *
 * - Follower fetch state follows Kafka's Replica.updateFetchState: the fetchOffset is
 *   the follower's logEndOffset; it is caught up when that reaches the leader's
 *   logEndOffset at this fetch (lastCaughtUpMs = now), or at its previous fetch
 *   (lastCaughtUpMs = that fetch's time).
 * - ISR shrink (Kafka's maybeShrinkIsr): an ISR follower not caught up for
 *   replica.lag.time.max.ms leaves, and so does one that sent no fetch for
 *   followerFetchSilenceMaxMs (dead, frozen or cut off: it must not hold acks=all on
 *   this partition back until the controller fences its node). ISR expand (maybeExpandIsr): a follower whose end
 *   reaches the high watermark and the start of the leader's epoch joins.
 * - KIP-497: at most one AlterPartition in flight. Meanwhile the high watermark and
 *   acks=all count the maximal ISR (committed ISR plus pending additions), so a
 *   replica that is being added never ends up below the high watermark.
 * - The high watermark is the least logEndOffset over the maximal ISR, the leader's own
 *   included; it never moves back.
 */
import { limits } from '../../limits.js';
import { assert } from '../../util/assert.js';

export interface FollowerState {
  readonly replicaId: number;
  /** -1 until the follower fetched from this leader in this epoch. */
  logEndOffset: number;
  /** -1: never caught up in this leader epoch. */
  lastCaughtUpMs: number;
  /** The leader's logEndOffset and the time of the follower's previous fetch. */
  lastFetchLeaderLogEndOffset: number;
  lastFetchMs: number;
  /** The last fetch, or when this leader started counting (its start, a pause of its own): silence counts from here. */
  lastHeardMs: number;
}

export interface LeaderStateInit {
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  /** The leader's logEndOffset when it took this epoch (Kafka's leaderEpochStartOffset). */
  leaderEpochStartOffset: number;
  replicaLagTimeMaxMs: number;
  /** An ISR follower that sent no fetch for this long leaves the ISR (default limits.followerFetchSilenceMsMax). */
  followerFetchSilenceMaxMs?: number;
  nowMs: number;
}

export interface IsrChange {
  kind: 'shrink' | 'expand';
  /** The ISR to ask the controller for. */
  isr: number[];
  /** The followers leaving (shrink) or joining (expand). */
  replicaIds: number[];
}

interface PendingIsrChange {
  readonly id: number;
  readonly change: IsrChange;
  /** The committed ISR's partitionEpoch the change was based on. */
  readonly partitionEpoch: number;
  /** Set once the controller confirmed; the new ISR is then on its way through metadata. */
  committedAtMs: number;
}

export class PartitionLeaderState {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly leaderEpochStartOffset: number;
  private readonly replicaLagTimeMaxMs: number;
  private readonly followerFetchSilenceMaxMs: number;
  private currentPartitionEpoch: number;
  private currentReplicas: number[];
  private currentIsr: number[];
  private readonly followers = new Map<number, FollowerState>();
  private pending: PendingIsrChange | undefined;
  private nextChangeId = 1;
  private isrChangeRetryAtMs = 0;

  constructor(init: LeaderStateInit) {
    assert(init.isr.includes(init.leaderId), () => `leader ${init.leaderId} is not in its ISR [${init.isr.join(',')}]`);
    this.leaderId = init.leaderId;
    this.leaderEpoch = init.leaderEpoch;
    this.leaderEpochStartOffset = init.leaderEpochStartOffset;
    this.replicaLagTimeMaxMs = init.replicaLagTimeMaxMs;
    this.followerFetchSilenceMaxMs = init.followerFetchSilenceMaxMs ?? limits.followerFetchSilenceMsMax;
    this.currentPartitionEpoch = init.partitionEpoch;
    this.currentReplicas = [...init.replicas];
    this.currentIsr = [...init.isr];
    this.syncFollowers(init.nowMs);
  }

  get partitionEpoch(): number {
    return this.currentPartitionEpoch;
  }

  get replicas(): readonly number[] {
    return this.currentReplicas;
  }

  /** The committed ISR, as metadata last said. */
  get isr(): readonly number[] {
    return this.currentIsr;
  }

  /** KIP-497's maximal ISR: the committed ISR plus any addition in flight. */
  get maximalIsr(): readonly number[] {
    if (this.pending === undefined || this.pending.change.kind === 'shrink') return this.currentIsr;
    return [...new Set([...this.currentIsr, ...this.pending.change.isr])];
  }

  get isIsrChangeInFlight(): boolean {
    return this.pending !== undefined;
  }

  get pendingIsrChange(): IsrChange | undefined {
    return this.pending?.change;
  }

  follower(replicaId: number): Readonly<FollowerState> | undefined {
    return this.followers.get(replicaId);
  }

  followerStates(): Array<Readonly<FollowerState>> {
    return [...this.followers.values()];
  }

  /**
   * A follower fetched from `fetchOffset` while the leader's log ended at
   * `leaderLogEndOffset` (Kafka's Replica.updateFetchState).
   */
  updateFollowerFetch(replicaId: number, fetchOffset: number, leaderLogEndOffset: number, nowMs: number): void {
    const follower = this.followers.get(replicaId);
    if (follower === undefined) return;
    if (fetchOffset >= leaderLogEndOffset) {
      follower.lastCaughtUpMs = Math.max(follower.lastCaughtUpMs, nowMs);
    } else if (fetchOffset >= follower.lastFetchLeaderLogEndOffset && follower.lastFetchMs >= 0) {
      follower.lastCaughtUpMs = Math.max(follower.lastCaughtUpMs, follower.lastFetchMs);
    }
    follower.logEndOffset = fetchOffset;
    follower.lastFetchLeaderLogEndOffset = leaderLogEndOffset;
    follower.lastFetchMs = nowMs;
    follower.lastHeardMs = Math.max(follower.lastHeardMs, nowMs);
  }

  /**
   * This leader's process did not run for `pauseMs` (a stalled event loop, SIGSTOP):
   * the fetches of that time are still unread, so the time counts neither as the
   * followers' silence nor as their lag.
   */
  forgivePause(pauseMs: number, nowMs: number): void {
    for (const follower of this.followers.values()) {
      follower.lastHeardMs = Math.min(nowMs, follower.lastHeardMs + pauseMs);
      if (follower.lastCaughtUpMs >= 0) follower.lastCaughtUpMs = Math.min(nowMs, follower.lastCaughtUpMs + pauseMs);
    }
  }

  /**
   * Kafka's ReplicaState.isCaughtUp: at the leader's end, or caught up recently enough;
   * and, here, fetching: a follower silent for followerFetchSilenceMaxMs is not.
   */
  isCaughtUp(replicaId: number, leaderLogEndOffset: number, nowMs: number): boolean {
    if (replicaId === this.leaderId) return true;
    const follower = this.followers.get(replicaId);
    if (follower === undefined) return false;
    if (nowMs - follower.lastHeardMs > this.followerFetchSilenceMaxMs) return false;
    if (follower.logEndOffset === leaderLogEndOffset) return true;
    return follower.lastCaughtUpMs >= 0 && nowMs - follower.lastCaughtUpMs <= this.replicaLagTimeMaxMs;
  }

  /**
   * The high watermark the maximal ISR allows: the least logEndOffset among its members
   * (the leader's is `leaderLogEndOffset`), never below `currentHighWatermark`.
   */
  highWatermarkFor(leaderLogEndOffset: number, currentHighWatermark: number): number {
    let candidate = leaderLogEndOffset;
    for (const replicaId of this.maximalIsr) {
      if (replicaId === this.leaderId) continue;
      // A member that has not fetched in this epoch yet (-1) holds the high watermark where it is.
      const logEndOffset = this.followers.get(replicaId)?.logEndOffset ?? -1;
      candidate = Math.min(candidate, logEndOffset);
    }
    return Math.max(candidate, currentHighWatermark);
  }

  /**
   * The ISR change to propose now, if any: none while one is in flight (KIP-497); a
   * shrink before an expansion (a lagging member holds the high watermark back).
   */
  isrChangeToPropose(leaderLogEndOffset: number, highWatermark: number, nowMs: number): IsrChange | undefined {
    this.expireCommittedChange(nowMs);
    if (this.pending !== undefined || nowMs < this.isrChangeRetryAtMs) return undefined;
    const lagging = this.currentIsr.filter((replicaId) => replicaId !== this.leaderId && !this.isCaughtUp(replicaId, leaderLogEndOffset, nowMs));
    if (lagging.length > 0) {
      return { kind: 'shrink', isr: this.currentIsr.filter((replicaId) => !lagging.includes(replicaId)), replicaIds: lagging };
    }
    // Kafka's isFollowerInSync: the follower holds everything committed and everything
    // this leader's epoch wrote before it, so it cannot lack a record that was acked.
    // Kafka checks this on the follower's fetch; here it runs on a timer, so the
    // follower must also be fetching now: a dead one whose old end offset still
    // reaches the high watermark (nothing was written since) must not be proposed.
    const joining = this.currentReplicas.filter((replicaId) => {
      if (this.currentIsr.includes(replicaId)) return false;
      const follower = this.followers.get(replicaId);
      return follower !== undefined && follower.logEndOffset >= highWatermark && follower.logEndOffset >= this.leaderEpochStartOffset &&
        follower.lastFetchMs >= 0 && nowMs - follower.lastFetchMs <= limits.followerFetchingRecentlyMs;
    });
    if (joining.length > 0) {
      // One at a time, as Kafka's maybeExpandIsr does.
      return { kind: 'expand', isr: [...this.currentIsr, joining[0]], replicaIds: [joining[0]] };
    }
    return undefined;
  }

  /** The change was sent to the controller; returns its id for the answer. */
  beginIsrChange(change: IsrChange): number {
    assert(this.pending === undefined, () => `an ISR change is already in flight: [${this.pending?.change.isr.join(',')}]`);
    const id = this.nextChangeId++;
    this.pending = { id, change, partitionEpoch: this.currentPartitionEpoch, committedAtMs: -1 };
    return id;
  }

  /**
   * The controller committed change `id`. It stays pending until the new ISR arrives
   * through metadata (applyMetadata), so the maximal ISR does not drop the addition in
   * between; a commit whose metadata never comes expires after replica.lag.time.max.ms.
   */
  commitIsrChange(id: number, nowMs: number): void {
    if (this.pending?.id === id) this.pending.committedAtMs = nowMs;
  }

  /** The controller refused change `id` (or it timed out): propose again after a pause. */
  failIsrChange(id: number, nowMs: number): void {
    if (this.pending?.id !== id) return;
    this.pending = undefined;
    this.isrChangeRetryAtMs = nowMs + limits.isrChangeRetryBackoffMs;
  }

  /**
   * Metadata for this leader epoch changed (replicas, ISR, partitionEpoch). A newer
   * partitionEpoch ends any pending change: the controller has decided.
   */
  applyMetadata(update: { partitionEpoch: number; replicas: readonly number[]; isr: readonly number[] }, nowMs: number): void {
    if (update.partitionEpoch < this.currentPartitionEpoch) return;
    if (update.partitionEpoch > this.currentPartitionEpoch) this.pending = undefined;
    this.currentPartitionEpoch = update.partitionEpoch;
    this.currentReplicas = [...update.replicas];
    this.currentIsr = [...update.isr];
    this.syncFollowers(nowMs);
  }

  private expireCommittedChange(nowMs: number): void {
    if (this.pending !== undefined && this.pending.committedAtMs >= 0 && nowMs - this.pending.committedAtMs > this.replicaLagTimeMaxMs) {
      this.pending = undefined;
    }
  }

  /**
   * One state per follower in replicas. A new one in the ISR counts as caught up now,
   * as Kafka's resetReplicaState does on becoming leader, so it has
   * replica.lag.time.max.ms to fetch before it is shrunk out.
   */
  private syncFollowers(nowMs: number): void {
    for (const replicaId of [...this.followers.keys()]) {
      if (!this.currentReplicas.includes(replicaId)) this.followers.delete(replicaId);
    }
    for (const replicaId of this.currentReplicas) {
      if (replicaId === this.leaderId || this.followers.has(replicaId)) continue;
      this.followers.set(replicaId, {
        replicaId,
        logEndOffset: -1,
        lastCaughtUpMs: this.currentIsr.includes(replicaId) ? nowMs : -1,
        lastFetchLeaderLogEndOffset: -1,
        lastFetchMs: -1,
        lastHeardMs: nowMs,
      });
    }
  }
}
