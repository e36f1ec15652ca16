/**
 * What the leader of one epoch tracks (KIP-595's LeaderState): each voter's log end
 * offset as its fetches report it, when each voter last fetched (check quorum), the
 * fetches parked until there is something to send (long poll), and the offset of the
 * epoch-start control entry. Made when a candidate wins, dropped when it stops leading,
 * so nothing of one epoch leaks into the next.
 */
import { assert } from '../../util/assert.js';
import type { FetchRequest } from './types.js';

export interface VoterState {
  /** The voter's log end offset as its last valid fetch reported it (KIP-595: fetchOffset). */
  endOffset: number;
  lastFetchMs: number;
  /** The high watermark the voter was last told, so a fetch is not parked while it lags. */
  highWatermarkSent: number;
  beginEpochSentMs: number;
}

/** A fetch the leader parks until it has something to send (KIP-595 long poll). */
export interface HeldFetch {
  request: FetchRequest;
  deadlineMs: number;
}

export class LeaderState {
  /** Offset of the control entry that opened the epoch; once committed, the leader is ready. */
  readonly epochStartOffset: number;
  readonly #nodeId: number;
  readonly #voterIds: readonly number[];
  readonly #majority: number;
  readonly #voters = new Map<number, VoterState>();
  readonly #heldFetches = new Map<number, HeldFetch>();

  constructor(nodeId: number, voterIds: readonly number[], majority: number, epochStartOffset: number, nowMs: number) {
    this.#nodeId = nodeId;
    this.#voterIds = voterIds;
    this.#majority = majority;
    this.epochStartOffset = epochStartOffset;
    for (const voterId of voterIds) {
      // Every voter starts as freshly heard from, so check quorum gives a new leader a full fetchTimeoutMs.
      this.#voters.set(voterId, { endOffset: 0, lastFetchMs: nowMs, highWatermarkSent: -1, beginEpochSentMs: nowMs });
    }
  }

  voter(voterId: number): VoterState {
    const voter = this.#voters.get(voterId);
    assert(voter !== undefined, () => `raft leader: ${voterId} is not a voter`);
    return voter;
  }

  #endOffset(voterId: number, ownLogEndOffset: number): number {
    return voterId === this.#nodeId ? ownLogEndOffset : this.voter(voterId).endOffset;
  }

  /** The largest offset a majority of voters hold (the leader holds its whole log). */
  majorityEndOffset(ownLogEndOffset: number): number {
    const endOffsets: number[] = [];
    for (const voterId of this.#voterIds) endOffsets.push(this.#endOffset(voterId, ownLogEndOffset));
    endOffsets.sort(descending);
    return endOffsets[this.#majority - 1];
  }

  voterEndOffsets(ownLogEndOffset: number): Record<number, number> {
    const endOffsets: Record<number, number> = {};
    for (const voterId of this.#voterIds) endOffsets[voterId] = this.#endOffset(voterId, ownLogEndOffset);
    return endOffsets;
  }

  /** KIP-595 check quorum: has a majority (the leader counted) fetched within fetchTimeoutMs? */
  hasFetchQuorum(nowMs: number, fetchTimeoutMs: number): boolean {
    let fetchedCount = 0;
    for (const voterId of this.#voterIds) {
      if (voterId === this.#nodeId || nowMs - this.voter(voterId).lastFetchMs < fetchTimeoutMs) fetchedCount += 1;
    }
    return fetchedCount >= this.#majority;
  }

  /**
   * Voters silent for retryMs that were not re-announced to within retryMs: a restarted
   * voter knows no leader until it hears begin-epoch, and would otherwise stand for
   * election and depose a healthy leader.
   */
  votersToReannounce(nowMs: number, retryMs: number): number[] {
    const voterIds: number[] = [];
    for (const voterId of this.#voterIds) {
      if (voterId === this.#nodeId) continue;
      const voter = this.voter(voterId);
      if (nowMs - voter.lastFetchMs >= retryMs && nowMs - voter.beginEpochSentMs >= retryMs) {
        voter.beginEpochSentMs = nowMs;
        voterIds.push(voterId);
      }
    }
    return voterIds;
  }

  /** Parks a fetch; a voter has at most one, its latest (it only waits for that one). */
  hold(request: FetchRequest, deadlineMs: number): void {
    this.#heldFetches.set(request.from, { request, deadlineMs });
  }

  release(voterId: number): void {
    this.#heldFetches.delete(voterId);
  }

  /** Removes and returns every parked fetch (there is news for them). */
  takeHeldFetches(): HeldFetch[] {
    if (this.#heldFetches.size === 0) return [];
    const held = [...this.#heldFetches.values()];
    this.#heldFetches.clear();
    return held;
  }

  /** Removes and returns the parked fetches whose wait is over. */
  takeExpiredFetches(nowMs: number): FetchRequest[] {
    const expired: FetchRequest[] = [];
    if (this.#heldFetches.size === 0) return expired;
    for (const held of this.#heldFetches.values()) {
      if (nowMs >= held.deadlineMs) expired.push(held.request);
    }
    for (const request of expired) this.#heldFetches.delete(request.from);
    return expired;
  }
}

function descending(a: number, b: number): number {
  return b - a;
}
