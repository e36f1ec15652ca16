/**
 * Fetch and commit, the replication half of the metadata quorum's Raft (KIP-595's pull
 * style): the leader answers fetches (with KIP-320's divergence check), parks them while
 * there is nothing new (long poll), learns from each fetchOffset what a voter holds and
 * moves the high watermark by Raft's commit rule; a follower sends one fetch at a time,
 * appends or truncates by the answer, fetches the snapshot when the log it needs is gone,
 * and re-sends a fetch that went unanswered. Pure like the rest of the core: every
 * output is an effect recorded on the RaftState.
 */
import { assert } from '../../util/assert.js';
import type { FollowerState } from './follower-state.js';
import type { LeaderState } from './leader-state.js';
import type { RaftState } from './raft-state.js';
import type { FetchRequest, FetchResponse, FetchSnapshotRequest, FetchSnapshotResponse, LogEntry, SnapshotId } from './types.js';

/** What fetching tells the elections half (raft-elections.ts), which owns the roles. */
export interface LeaderContact {
  /** A message of the current epoch names its leader: an unattached node or a candidate follows it. */
  learnLeader(leaderId: number | null, nowMs: number): void;
  /** The leader this node follows answered: it is alive. */
  heardFromLeader(nowMs: number): void;
  /** KIP-595 check quorum failed: the leader stops leading. */
  resign(nowMs: number): void;
}

export class RaftFetching {
  readonly #state: RaftState;
  readonly #elections: LeaderContact;
  /**
   * A follower re-sends a fetch whose answer is this late: past the leader's longest
   * hold (fetchMaxWaitMs), halfway to the election timeout, so that the retry, which
   * asks for an answer at once, still lands before the follower gives up on the leader.
   */
  readonly #fetchRetryMs: number;
  /** The leader re-sends begin-epoch to a voter silent this long, so a restarted voter finds it before its election timeout. */
  readonly #beginEpochRetryMs: number;

  constructor(state: RaftState, elections: LeaderContact) {
    this.#state = state;
    this.#elections = elections;
    const options = state.options;
    this.#fetchRetryMs = options.fetchMaxWaitMs + Math.max(1, Math.floor((options.electionTimeoutMs - options.fetchMaxWaitMs) / 2));
    this.#beginEpochRetryMs = Math.max(1, Math.floor(options.electionTimeoutMs / 2));
  }

  // ---- the leader's side ----

  tickLeader(leader: LeaderState, nowMs: number): void {
    const state = this.#state;
    for (const request of leader.takeExpiredFetches(nowMs)) this.#answerFetch(leader, request, nowMs, null);
    for (const voterId of leader.votersToReannounce(nowMs, this.#beginEpochRetryMs)) {
      state.send({ type: 'begin-epoch', from: state.nodeId, to: voterId, epoch: state.epoch, leaderId: state.nodeId });
    }
    if (!leader.hasFetchQuorum(nowMs, state.options.fetchTimeoutMs)) this.#elections.resign(nowMs);
  }

  /** Appends entries of the leader's epoch; its own end offset moves (a lone voter commits at once) and parked fetches have news. */
  appendAsLeader(leader: LeaderState, entries: readonly LogEntry[], nowMs: number): void {
    for (const entry of entries) this.#state.appendToLog(entry);
    if (!this.#updateLeaderHighWatermark(leader, nowMs)) this.#answerHeldFetches(leader, nowMs);
  }

  onFetchRequest(request: FetchRequest, nowMs: number): void {
    const state = this.#state;
    const leader = state.leader;
    if (request.epoch < state.epoch || leader === null) {
      state.send(this.#fetchError(request, request.epoch < state.epoch ? 'stale-epoch' : 'not-leader'));
      return;
    }
    leader.voter(request.from).lastFetchMs = nowMs;
    // A newer fetch from the same voter replaces the parked one: the voter waits only for its latest.
    leader.release(request.from);
    this.#answerFetch(leader, request, nowMs, nowMs + Math.min(request.maxWaitMs, state.options.fetchMaxWaitMs));
  }

  onFetchSnapshotRequest(request: FetchSnapshotRequest, nowMs: number): void {
    const state = this.#state;
    const response: FetchSnapshotResponse = {
      type: 'fetch-snapshot-response', from: state.nodeId, to: request.from, epoch: state.epoch, leaderId: state.leaderId,
    };
    if (request.epoch === state.epoch && state.leader !== null) {
      state.leader.voter(request.from).lastFetchMs = nowMs;
      const snapshot = state.log.snapshot;
      // Only the snapshot asked for: a newer one would be found by fetching again.
      if (snapshot !== null && snapshot.id.endOffset === request.snapshotId.endOffset && snapshot.id.epoch === request.snapshotId.epoch) {
        response.snapshot = snapshot;
      }
    }
    state.send(response);
  }

  #fetchError(request: FetchRequest, error: 'stale-epoch' | 'not-leader'): FetchResponse {
    const state = this.#state;
    return {
      type: 'fetch-response', from: state.nodeId, to: request.from, epoch: state.epoch, leaderId: state.leaderId, error,
      fetchOffset: request.fetchOffset, lastFetchedEpoch: request.lastFetchedEpoch, entries: [], highWatermark: state.highWatermark,
    };
  }

  /**
   * Answers a fetch (KIP-595 Fetch with KIP-320's divergence check), or parks it until
   * `holdUntilMs` (null: answer now) when there is nothing new: no entries past
   * fetchOffset and no high watermark the voter has not been told.
   */
  #answerFetch(leader: LeaderState, request: FetchRequest, nowMs: number, holdUntilMs: number | null): void {
    const state = this.#state;
    const log = state.log;
    const voter = leader.voter(request.from);
    const response: FetchResponse = {
      type: 'fetch-response', from: state.nodeId, to: request.from, epoch: state.epoch, leaderId: state.nodeId,
      fetchOffset: request.fetchOffset, lastFetchedEpoch: request.lastFetchedEpoch, entries: [], highWatermark: state.highWatermark,
    };
    const snapshot = log.snapshot;
    const epochEnd = log.endOffsetForEpoch(request.lastFetchedEpoch);
    if (request.fetchOffset < log.logStartOffset || epochEnd === null) {
      // The entries the follower needs are gone into the snapshot: it must fetch that.
      assert(snapshot !== null, () => `raft: fetch at ${request.fetchOffset} below a log start with no snapshot`);
      response.snapshotId = snapshot.id;
      state.send(response);
      return;
    }
    if (epochEnd.epoch !== request.lastFetchedEpoch || request.fetchOffset > epochEnd.endOffset) {
      response.divergingEpoch = epochEnd;
      state.send(response);
      return;
    }
    // A valid fetch says the voter holds our log up to fetchOffset. Within one epoch a
    // voter's log only grows after its first valid fetch, so a reordered older fetch
    // must not lower what we know.
    if (request.fetchOffset > voter.endOffset) {
      voter.endOffset = request.fetchOffset;
      this.#updateLeaderHighWatermark(leader, nowMs);
    }
    response.highWatermark = state.highWatermark;
    response.entries = log.slice(request.fetchOffset, log.logEndOffset, state.options.fetchEntriesMax);
    const highWatermarkSent = Math.min(state.highWatermark, request.fetchOffset + response.entries.length);
    if (holdUntilMs !== null && holdUntilMs > nowMs && response.entries.length === 0 && highWatermarkSent <= voter.highWatermarkSent) {
      leader.hold(request, holdUntilMs);
      return;
    }
    voter.highWatermarkSent = highWatermarkSent;
    state.send(response);
  }

  /**
   * Raft's commit rule: the high watermark is the largest offset a majority holds,
   * provided the entry below it belongs to the leader's epoch (§5.4.2), which the
   * epoch-start control entry guarantees from its offset on; it never moves back.
   * Returns whether it moved (parked fetches are then answered).
   */
  #updateLeaderHighWatermark(leader: LeaderState, nowMs: number): boolean {
    const state = this.#state;
    const majorityEndOffset = leader.majorityEndOffset(state.log.logEndOffset);
    if (majorityEndOffset <= state.highWatermark || majorityEndOffset <= leader.epochStartOffset) return false;
    state.highWatermark = majorityEndOffset;
    this.#answerHeldFetches(leader, nowMs);
    return true;
  }

  #answerHeldFetches(leader: LeaderState, nowMs: number): void {
    for (const held of leader.takeHeldFetches()) this.#answerFetch(leader, held.request, nowMs, held.deadlineMs);
  }

  // ---- the follower's side ----

  /** `isRetry`: the last fetch went unanswered, so this one must not wait at the leader (maxWaitMs 0). */
  sendFetch(follower: FollowerState, nowMs: number, isRetry = false): void {
    const state = this.#state;
    const fetchOffset = state.log.logEndOffset;
    const lastFetchedEpoch = state.log.lastEpoch;
    follower.fetchSent(fetchOffset, lastFetchedEpoch, nowMs);
    state.send({
      type: 'fetch-request', from: state.nodeId, to: follower.leaderId, epoch: state.epoch,
      fetchOffset, lastFetchedEpoch, maxWaitMs: isRetry ? 0 : state.options.fetchMaxWaitMs,
    });
  }

  /** Messages can be lost: a fetch unanswered for #fetchRetryMs is sent again. */
  tickFollower(follower: FollowerState, nowMs: number): void {
    if (!follower.isFetchDue(nowMs, this.#fetchRetryMs)) return;
    const snapshotId = follower.snapshotIdInFlight;
    if (snapshotId !== null) {
      this.#sendFetchSnapshot(follower, snapshotId, nowMs);
    } else {
      this.sendFetch(follower, nowMs, true);
    }
  }

  onFetchResponse(response: FetchResponse, nowMs: number): void {
    const state = this.#state;
    if (response.epoch !== state.epoch) return;
    const follower = state.follower;
    if (follower === null) {
      this.#elections.learnLeader(response.leaderId, nowMs);
      return;
    }
    // Answers to older fetches (duplicated, delayed, or sent before a truncation) are dropped.
    if (!follower.isAnswerToFetch(response, state.log.logEndOffset, state.log.lastEpoch)) return;
    if (response.error !== undefined) {
      // The node we follow no longer leads this epoch (it resigned): retry later, or time out into an election.
      follower.refused(nowMs);
      return;
    }
    follower.answered();
    this.#elections.heardFromLeader(nowMs);
    if (response.divergingEpoch !== undefined) {
      this.#truncateToDivergence(response.divergingEpoch.epoch, response.divergingEpoch.endOffset);
    } else if (response.snapshotId !== undefined) {
      this.#sendFetchSnapshot(follower, response.snapshotId, nowMs);
      return;
    } else {
      this.#appendFetched(response);
    }
    this.sendFetch(follower, nowMs);
  }

  onFetchSnapshotResponse(response: FetchSnapshotResponse, nowMs: number): void {
    const state = this.#state;
    if (response.epoch !== state.epoch) return;
    const follower = state.follower;
    if (follower === null) {
      this.#elections.learnLeader(response.leaderId, nowMs);
      return;
    }
    if (!follower.isAnswerToSnapshotFetch(response)) return;
    follower.answered();
    this.#elections.heardFromLeader(nowMs);
    const snapshot = response.snapshot;
    // The snapshot replaces the whole log unless the log already holds its last entry
    // (same offset, same epoch: by log matching, everything it covers). A log that ends
    // past the snapshot on another epoch is a divergent suffix and goes with the rest.
    if (snapshot !== undefined && state.log.epochAt(snapshot.id.endOffset - 1) !== snapshot.id.epoch) {
      assert(snapshot.id.endOffset >= state.highWatermark,
        () => `raft: snapshot at ${snapshot.id.endOffset} would replace committed entries up to ${state.highWatermark}`);
      state.log.installSnapshot(snapshot);
      state.effects.installSnapshot = snapshot;
      if (snapshot.id.endOffset > state.highWatermark) state.highWatermark = snapshot.id.endOffset;
    }
    this.sendFetch(follower, nowMs);
  }

  #sendFetchSnapshot(follower: FollowerState, snapshotId: SnapshotId, nowMs: number): void {
    const state = this.#state;
    follower.snapshotFetchSent(snapshotId, nowMs);
    state.send({ type: 'fetch-snapshot-request', from: state.nodeId, to: follower.leaderId, epoch: state.epoch, snapshotId });
  }

  /**
   * KIP-595 (KIP-320's rule): truncate to the smaller of the leader's end of the
   * diverging epoch and our own end of that epoch. Never below the high watermark:
   * committed entries are on the leader (Raft's leader completeness).
   */
  #truncateToDivergence(epoch: number, endOffset: number): void {
    const state = this.#state;
    const log = state.log;
    const ownEnd = log.endOffsetForEpoch(epoch);
    assert(ownEnd !== null, () => `raft: the leader diverges at epoch ${epoch}, inside our snapshot at ${log.logStartOffset}`);
    const truncateTo = Math.min(endOffset, ownEnd.endOffset);
    assert(truncateTo >= state.highWatermark && truncateTo < log.logEndOffset,
      () => `raft: divergence at epoch ${epoch} end ${endOffset} truncates to ${truncateTo}, expected in [${state.highWatermark}, ${log.logEndOffset})`);
    log.truncateTo(truncateTo);
    state.effects.truncateTo = truncateTo;
  }

  #appendFetched(response: FetchResponse): void {
    const state = this.#state;
    for (const entry of response.entries) {
      assert(entry.epoch <= state.epoch, () => `raft: fetched entry ${entry.offset} of epoch ${entry.epoch} above ours ${state.epoch}`);
      state.appendToLog(entry);
    }
    // Kafka's follower rule: the high watermark is the leader's, capped by what we hold.
    const highWatermark = Math.min(response.highWatermark, state.log.logEndOffset);
    if (highWatermark > state.highWatermark) state.highWatermark = highWatermark;
  }
}
