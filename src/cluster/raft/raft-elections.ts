/**
 * Elections, the half of the metadata quorum's Raft that decides who leads: the role
 * transitions of KIP-595 (unattached, follower, candidate, leader, resigned), votes
 * (one per epoch, persisted before it is announced), the leader's begin-epoch, and the
 * pre-vote round of KIP-996 that comes before every candidacy.
 *
 * Pre-vote: a node whose election timer fires keeps its role, epoch and vote, and asks
 * every voter whether it would vote for it in the next epoch. A voter says yes only if
 * the node's log is at least as up to date as its own and it has not heard from a
 * leader within electionTimeoutMs; only with a majority of yeses does the node raise
 * its epoch and stand as a candidate. So a node cut off by a partition, or whose event
 * loop stalled while the others kept hearing from their leader, cannot raise the epoch
 * and depose a healthy leader.
 */
import { assert } from '../../util/assert.js';
import { FollowerState } from './follower-state.js';
import { LeaderState } from './leader-state.js';
import { PreVoteState } from './pre-vote-state.js';
import type { LeaderContact, RaftFetching } from './raft-fetching.js';
import type { RaftState } from './raft-state.js';
import type { BeginEpochRequest, BeginEpochResponse, VoteRequest, VoteResponse } from './types.js';

export class RaftElections implements LeaderContact {
  readonly #state: RaftState;
  readonly #fetching: RaftFetching;
  readonly #votesGranted = new Set<number>();
  /** The pre-vote round in progress (KIP-996), or null; any change of role or epoch ends it. */
  #preVote: PreVoteState | null = null;
  /** The last round's id: ids only grow, so an answer to an older round never matches. */
  #preVoteRoundLast = 0;
  /**
   * When this node last heard from the leader it follows (an answered fetch or snapshot
   * fetch, or the leader's begin-epoch); null: not since it started. A voter that heard
   * from a leader within electionTimeoutMs refuses pre-votes (KIP-996's fetch timeout rule).
   */
  #leaderContactMs: number | null = null;

  constructor(state: RaftState, fetching: RaftFetching) {
    this.#state = state;
    this.#fetching = fetching;
  }

  /**
   * The election timer of every role but leader. A follower's fires when the leader has
   * not answered for an election timeout, so it may be gone (KIP-595); KIP-996: ask
   * first, and meanwhile keep fetching, since an answer proves it is not.
   */
  tick(nowMs: number): void {
    const state = this.#state;
    if (state.role === 'leader' || nowMs < state.electionDeadlineMs) return;
    if (state.role === 'candidate') {
      // KIP-996 (a candidate's timeout leads to a new pre-vote): this epoch's election
      // is over, split or unanswered, and votes for it arriving late no longer count.
      // Unattached keeps the persisted vote for itself, so no other vote goes out in it.
      this.#leaveRole();
      state.role = 'unattached';
    }
    this.#startPreVote(nowMs);
  }

  // ---- role transitions ----

  #leaveRole(): void {
    const state = this.#state;
    this.#votesGranted.clear();
    this.#preVote = null;
    // Parked fetches are dropped, not answered: their followers retry and learn the new state.
    state.leader = null;
    state.follower = null;
  }

  /** Raft: a message from a newer epoch makes this node step down to that epoch. */
  becomeUnattached(epoch: number, nowMs: number): void {
    const state = this.#state;
    assert(epoch > state.epoch, () => `raft: unattached at epoch ${epoch}, already at ${state.epoch}`);
    this.#leaveRole();
    state.epoch = epoch;
    state.votedFor = null;
    state.persist();
    state.role = 'unattached';
    state.leaderId = null;
    state.resetElectionTimer(nowMs);
  }

  /** Follows `leaderId`, named by a message of the current epoch. */
  learnLeader(leaderId: number | null, nowMs: number): void {
    const state = this.#state;
    if (leaderId === null || leaderId === state.nodeId || !state.voterIds.includes(leaderId)) return;
    if (state.role !== 'unattached' && state.role !== 'candidate') return;
    this.#leaveRole();
    state.role = 'follower';
    state.leaderId = leaderId;
    const follower = new FollowerState(leaderId);
    state.follower = follower;
    state.resetElectionTimer(nowMs);
    this.#fetching.sendFetch(follower, nowMs);
  }

  #becomeCandidate(nowMs: number): void {
    const state = this.#state;
    this.#leaveRole();
    state.epoch += 1;
    state.votedFor = state.nodeId;
    state.persist();
    state.role = 'candidate';
    state.leaderId = null;
    this.#votesGranted.add(state.nodeId);
    state.resetElectionTimer(nowMs);
    if (this.#votesGranted.size >= state.majority) {
      this.#becomeLeader(nowMs);
      return;
    }
    const lastEpoch = state.log.lastEpoch;
    const logEndOffset = state.log.logEndOffset;
    for (const voterId of state.voterIds) {
      if (voterId === state.nodeId) continue;
      state.send({ type: 'vote-request', from: state.nodeId, to: voterId, epoch: state.epoch, lastEpoch, logEndOffset });
    }
  }

  #becomeLeader(nowMs: number): void {
    const state = this.#state;
    this.#leaveRole();
    state.role = 'leader';
    state.leaderId = state.nodeId;
    // KRaft's LeaderChangeMessage: an entry of the new epoch, whose commit commits every earlier entry.
    const epochStartOffset = state.log.logEndOffset;
    const leader = new LeaderState(state.nodeId, state.voterIds, state.majority, epochStartOffset, nowMs);
    state.leader = leader;
    const epochStart = { offset: epochStartOffset, epoch: state.epoch, data: '', isControl: true };
    for (const voterId of state.voterIds) {
      if (voterId === state.nodeId) continue;
      state.send({ type: 'begin-epoch', from: state.nodeId, to: voterId, epoch: state.epoch, leaderId: state.nodeId });
    }
    this.#fetching.appendAsLeader(leader, [epochStart], nowMs);
  }

  /** KIP-595 check quorum: a leader the majority no longer fetches from stops accepting writes and lets an election happen. */
  resign(nowMs: number): void {
    const state = this.#state;
    this.#leaveRole();
    state.role = 'resigned';
    state.leaderId = null;
    state.resetElectionTimer(nowMs);
  }

  // ---- pre-votes ----

  /**
   * KIP-996 pre-vote: asks every voter whether it would vote for this node in epoch + 1,
   * changing nothing of its own (epoch, vote, role). A round that does not reach a
   * majority simply ends when the new randomised election timeout fires: another round
   * starts then, so a node cut off from the others asks again and again at one epoch.
   */
  #startPreVote(nowMs: number): void {
    const state = this.#state;
    state.resetElectionTimer(nowMs);
    const round = Math.max(nowMs, this.#preVoteRoundLast + 1);
    this.#preVoteRoundLast = round;
    const preVote = new PreVoteState(round, state.nodeId);
    // A lone voter needs nobody's pre-vote either.
    if (preVote.grantedCount >= state.majority) {
      this.#becomeCandidate(nowMs);
      return;
    }
    this.#preVote = preVote;
    const lastEpoch = state.log.lastEpoch;
    const logEndOffset = state.log.logEndOffset;
    for (const voterId of state.voterIds) {
      if (voterId === state.nodeId) continue;
      state.send({
        type: 'vote-request', from: state.nodeId, to: voterId, epoch: state.epoch + 1, lastEpoch, logEndOffset,
        isPreVote: true, preVoteRound: round,
      });
    }
  }

  /**
   * A pre-vote is answered from the current state and changes none of it: no step-down
   * to its epoch, no vote recorded, no timer reset. Granted only for an epoch this node
   * has not reached, to a log at least as up to date, when no leader is known to be alive.
   */
  #onPreVoteRequest(request: VoteRequest, nowMs: number): void {
    const state = this.#state;
    const isGranted = request.epoch > state.epoch && !this.#hasHeardFromLeader(nowMs)
      && this.#isUpToDate(request.lastEpoch, request.logEndOffset);
    const response: VoteResponse = {
      type: 'vote-response', from: state.nodeId, to: request.from, epoch: state.epoch, isGranted, leaderId: state.leaderId,
      isPreVote: true,
    };
    if (request.preVoteRound !== undefined) response.preVoteRound = request.preVoteRound;
    state.send(response);
  }

  /** KIP-996's fetch timeout rule: this node leads, or its leader answered within electionTimeoutMs. */
  #hasHeardFromLeader(nowMs: number): boolean {
    if (this.#state.role === 'leader') return true;
    return this.#leaderContactMs !== null && nowMs - this.#leaderContactMs < this.#state.options.electionTimeoutMs;
  }

  /** The leader this node follows answered: it is alive, so the election timer restarts and a pre-vote round ends. */
  heardFromLeader(nowMs: number): void {
    this.#leaderContactMs = nowMs;
    this.#preVote = null;
    this.#state.resetElectionTimer(nowMs);
  }

  #onPreVoteResponse(response: VoteResponse, nowMs: number): void {
    if (!response.isGranted) {
      // A refusal naming the leader of our epoch (a node back from a partition) lets us follow it.
      if (response.epoch === this.#state.epoch) this.learnLeader(response.leaderId, nowMs);
      return;
    }
    const preVote = this.#preVote;
    // Only grants of the round in progress count: an answer to an older round (delayed,
    // duplicated, or from before a change of epoch or role) may no longer hold.
    if (preVote === null || !preVote.granted(response.from, response.preVoteRound)) return;
    if (preVote.grantedCount >= this.#state.majority) this.#becomeCandidate(nowMs);
  }

  // ---- votes and begin-epoch ----

  onVoteRequest(request: VoteRequest, nowMs: number): void {
    const state = this.#state;
    if (request.isPreVote === true) {
      this.#onPreVoteRequest(request, nowMs);
      return;
    }
    if (request.epoch === state.epoch && state.votedFor === null && state.leaderId === null && state.role === 'unattached'
      && this.#isUpToDate(request.lastEpoch, request.logEndOffset)) {
      // The vote is persisted (effects order) before the response leaves: one vote per epoch survives a crash.
      state.votedFor = request.from;
      state.persist();
      state.resetElectionTimer(nowMs);
    }
    const isGranted = request.epoch === state.epoch && state.votedFor === request.from;
    state.send({
      type: 'vote-response', from: state.nodeId, to: request.from, epoch: state.epoch, isGranted, leaderId: state.leaderId,
    });
  }

  /** Raft §5.4.1: the candidate's log ends in a later epoch, or in the same epoch at or past ours. */
  #isUpToDate(lastEpoch: number, logEndOffset: number): boolean {
    const log = this.#state.log;
    const ownLastEpoch = log.lastEpoch;
    return lastEpoch > ownLastEpoch || (lastEpoch === ownLastEpoch && logEndOffset >= log.logEndOffset);
  }

  onVoteResponse(response: VoteResponse, nowMs: number): void {
    const state = this.#state;
    if (response.isPreVote === true) {
      this.#onPreVoteResponse(response, nowMs);
      return;
    }
    if (response.epoch !== state.epoch) return;
    if (state.role !== 'candidate') {
      this.learnLeader(response.leaderId, nowMs);
      return;
    }
    if (response.isGranted) {
      this.#votesGranted.add(response.from);
      if (this.#votesGranted.size >= state.majority) this.#becomeLeader(nowMs);
    } else {
      this.learnLeader(response.leaderId, nowMs);
    }
  }

  onBeginEpoch(request: BeginEpochRequest, nowMs: number): void {
    const state = this.#state;
    if (request.epoch < state.epoch) {
      // A leader of an older epoch: tell it ours, or a voter that entered an epoch the
      // leader never saw would stay out for good now that pre-votes depose nobody.
      state.send({ type: 'begin-epoch-response', from: state.nodeId, to: request.from, epoch: state.epoch, leaderId: state.leaderId });
      return;
    }
    if (request.leaderId !== request.from) return;
    const follower = state.follower;
    if (follower !== null && follower.leaderId === request.from) {
      // The leader re-announces itself to a voter it has not heard from: our fetches may be lost.
      this.heardFromLeader(nowMs);
      if (follower.snapshotIdInFlight === null) this.#fetching.sendFetch(follower, nowMs);
      return;
    }
    this.learnLeader(request.leaderId, nowMs);
  }

  /** receive() already stepped down to a newer epoch; the voter may also know who leads it. */
  onBeginEpochResponse(response: BeginEpochResponse, nowMs: number): void {
    if (response.epoch === this.#state.epoch) this.learnLeader(response.leaderId, nowMs);
  }
}
