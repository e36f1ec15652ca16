/**
 * The metadata quorum's Raft, KRaft's pull style (KIP-595), as a pure state machine:
 * no I/O, no clock, no randomness of its own. Every input (tick, message, proposal,
 * snapshot) comes with the time, and every output is a RaftEffects value the runtime
 * makes durable (persisted state, then truncation, then snapshot, then appends) before
 * it sends the messages, so nothing is announced before it is on disk.
 *
 * Roles, as in KIP-595: unattached (an epoch but no known leader), follower (fetches
 * from the leader), candidate (asks for votes), leader (answers fetches, decides the
 * high watermark), resigned (a leader that lost its quorum and waits to start an
 * election). Followers pull; the leader learns what each voter holds from the
 * fetchOffset of its fetches, which is how KRaft replaces Raft's AppendEntries acks.
 *
 * Elections start with a pre-vote round (KIP-996): a node whose election timer fires
 * keeps its role, epoch and vote, and asks every voter whether it would vote for it
 * in the next epoch. A voter says yes only if the node's log is at least as up to date
 * as its own and it has not heard from a leader within electionTimeoutMs; only with a
 * majority of yeses does the node raise its epoch and stand as a candidate. So a node
 * cut off by a partition, or whose event loop stalled while the others kept hearing
 * from their leader, cannot raise the epoch and depose a healthy leader.
 *
 * Timers are deadlines compared with the `nowMs` of each call; the runtime calls tick()
 * often (a tenth of fetchMaxWaitMs is plenty) so that they fire on time.
 */
import { assert } from '../../util/assert.js';
import { FollowerState } from './follower-state.js';
import { LeaderState } from './leader-state.js';
import { PreVoteState } from './pre-vote-state.js';
import { RaftLog } from './raft-log.js';
import {
  NotLeaderError,
  type BeginEpochRequest, type BeginEpochResponse, type FetchRequest, type FetchResponse, type FetchSnapshotRequest, type FetchSnapshotResponse,
  type LogEntry, type RaftEffects, type RaftMessage, type RaftOptions, type RaftRole, type RaftStartState, type RaftStatus,
  type Snapshot, type SnapshotId, type VoteRequest, type VoteResponse,
} from './types.js';

export class RaftCore {
  readonly #options: RaftOptions;
  readonly #nodeId: number;
  readonly #voterIds: readonly number[];
  readonly #majority: number;
  /**
   * A follower re-sends a fetch whose answer is this late: past the leader's longest
   * hold (fetchMaxWaitMs), halfway to the election timeout, so that the retry, which
   * asks for an answer at once, still lands before the follower gives up on the leader.
   */
  readonly #fetchRetryMs: number;
  /** The leader re-sends begin-epoch to a voter silent this long, so a restarted voter finds it before its election timeout. */
  readonly #beginEpochRetryMs: number;

  #epoch: number;
  #votedFor: number | null;
  #role: RaftRole = 'unattached';
  #leaderId: number | null = null;
  readonly #log: RaftLog;
  #highWatermark: number;
  #electionDeadlineMs = 0;

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

  /** Set while this node leads its epoch (role 'leader'). */
  #leader: LeaderState | null = null;

  /** Set while this node follows a leader of its epoch (role 'follower'). */
  #follower: FollowerState | null = null;

  /** The effects of the call in progress; see #begin and #end. */
  #effects: RaftEffects = { append: [], messages: [] };
  #highWatermarkAtBegin = 0;

  constructor(options: RaftOptions, start: RaftStartState, nowMs: number) {
    const voterIds = [...new Set(options.voters)].sort((a, b) => a - b);
    assert(voterIds.length === options.voters.length, () => `raft: duplicate voter ids in ${options.voters.join(',')}`);
    assert(voterIds.includes(options.nodeId), () => `raft: node ${options.nodeId} is not among the voters ${voterIds.join(',')}`);
    assert(options.electionTimeoutMs > 0 && options.fetchMaxWaitMs >= 0 && options.fetchMaxWaitMs < options.electionTimeoutMs,
      () => `raft: expected 0 <= fetchMaxWaitMs < electionTimeoutMs, got ${options.fetchMaxWaitMs} and ${options.electionTimeoutMs}`);
    assert(options.fetchTimeoutMs > options.fetchMaxWaitMs,
      () => `raft: expected fetchTimeoutMs > fetchMaxWaitMs, got ${options.fetchTimeoutMs} and ${options.fetchMaxWaitMs}`);
    assert(Number.isInteger(options.fetchEntriesMax) && options.fetchEntriesMax >= 1,
      () => `raft: expected fetchEntriesMax >= 1, got ${options.fetchEntriesMax}`);
    this.#options = options;
    this.#nodeId = options.nodeId;
    this.#voterIds = voterIds;
    this.#majority = Math.floor(voterIds.length / 2) + 1;
    this.#fetchRetryMs = options.fetchMaxWaitMs + Math.max(1, Math.floor((options.electionTimeoutMs - options.fetchMaxWaitMs) / 2));
    this.#beginEpochRetryMs = Math.max(1, Math.floor(options.electionTimeoutMs / 2));

    this.#epoch = start.persisted.epoch;
    this.#votedFor = start.persisted.votedFor;
    this.#log = new RaftLog(start.entries, start.snapshot);
    // Only what the snapshot covers is known to be committed after a restart; the
    // leader's fetch answers bring the rest (the high watermark is not persisted in KRaft).
    this.#highWatermark = this.#log.logStartOffset;
    assert(this.#log.lastEpoch <= this.#epoch,
      () => `raft: the log's last epoch ${this.#log.lastEpoch} is above the persisted epoch ${this.#epoch}`);
    // A lone voter needs nobody's vote: it elects itself on the first tick.
    this.#electionDeadlineMs = voterIds.length === 1 ? nowMs : nowMs + this.#randomElectionTimeoutMs();
  }

  get isLeaderReady(): boolean {
    return this.#leader !== null && this.#highWatermark > this.#leader.epochStartOffset;
  }

  status(): RaftStatus {
    const status: RaftStatus = {
      nodeId: this.#nodeId,
      role: this.#role,
      epoch: this.#epoch,
      leaderId: this.#leaderId,
      votedFor: this.#votedFor,
      logStartOffset: this.#log.logStartOffset,
      logEndOffset: this.#log.logEndOffset,
      highWatermark: this.#highWatermark,
    };
    if (this.#leader !== null) status.voterEndOffsets = this.#leader.voterEndOffsets(this.#log.logEndOffset);
    return status;
  }

  /** Committed entries in [startOffset, min(endOffset, highWatermark)), for the runtime to apply. */
  entries(startOffset: number, endOffset: number): LogEntry[] {
    assert(startOffset >= this.#log.logStartOffset,
      () => `raft: entries from ${startOffset} requested, the log starts at ${this.#log.logStartOffset} (apply the snapshot)`);
    return this.#log.slice(startOffset, Math.min(endOffset, this.#highWatermark), Number.MAX_SAFE_INTEGER);
  }

  tick(nowMs: number): RaftEffects {
    this.#begin();
    switch (this.#role) {
      case 'leader':
        this.#tickLeader(this.#leader!, nowMs);
        break;
      case 'follower':
        // KIP-595: no answer from the leader for an election timeout, so it may be gone.
        // KIP-996: ask first; meanwhile keep fetching, since an answer proves it is not.
        if (nowMs >= this.#electionDeadlineMs) this.#startPreVote(nowMs);
        if (this.#follower !== null) this.#tickFollowerFetch(this.#follower, nowMs);
        break;
      case 'candidate':
        if (nowMs >= this.#electionDeadlineMs) {
          // KIP-996 (a candidate's timeout leads to a new pre-vote): this epoch's election
          // is over, split or unanswered, and votes for it arriving late no longer count.
          // Unattached keeps the persisted vote for itself, so no other vote goes out in it.
          this.#leaveRole();
          this.#role = 'unattached';
          this.#startPreVote(nowMs);
        }
        break;
      case 'unattached':
      case 'resigned':
        if (nowMs >= this.#electionDeadlineMs) this.#startPreVote(nowMs);
        break;
    }
    return this.#end();
  }

  receive(message: RaftMessage, nowMs: number): RaftEffects {
    this.#begin();
    // Messages for another node or from a node outside the static voter set are not ours to act on.
    if (message.to !== this.#nodeId || message.from === this.#nodeId || !this.#voterIds.includes(message.from)) {
      return this.#end();
    }
    // Raft: any message from a newer epoch makes this node step down to that epoch first.
    // Not a pre-vote (KIP-996): its epoch is one the sender has not entered, and a
    // pre-vote changes nothing here, or a node that cannot win would still depose the leader.
    if (message.epoch > this.#epoch && !(message.type === 'vote-request' && message.isPreVote === true)) {
      this.#becomeUnattached(message.epoch, nowMs);
    }
    switch (message.type) {
      case 'vote-request':
        this.#onVoteRequest(message, nowMs);
        break;
      case 'vote-response':
        this.#onVoteResponse(message, nowMs);
        break;
      case 'begin-epoch':
        this.#onBeginEpoch(message, nowMs);
        break;
      case 'begin-epoch-response':
        this.#onBeginEpochResponse(message, nowMs);
        break;
      case 'fetch-request':
        this.#onFetchRequest(message, nowMs);
        break;
      case 'fetch-response':
        this.#onFetchResponse(message, nowMs);
        break;
      case 'fetch-snapshot-request':
        this.#onFetchSnapshotRequest(message, nowMs);
        break;
      case 'fetch-snapshot-response':
        this.#onFetchSnapshotResponse(message, nowMs);
        break;
    }
    return this.#end();
  }

  /**
   * Appends `data` as entries of the leader's epoch. Only a ready leader accepts: until
   * its epoch-start control entry commits, it cannot know which earlier entries are
   * committed (Raft §5.4.2), so neither may its controller act.
   */
  propose(data: string[], nowMs: number): { effects: RaftEffects; offsets: number[] } {
    const leader = this.#leader;
    if (leader === null || !this.isLeaderReady) throw new NotLeaderError(this.#leaderId, this.#epoch);
    this.#begin();
    const offsets: number[] = [];
    for (const item of data) {
      const offset = this.#log.logEndOffset;
      this.#appendAsLeader({ offset, epoch: this.#epoch, data: item });
      offsets.push(offset);
    }
    this.#afterLeaderAppend(leader, nowMs);
    return { effects: this.#end(), offsets };
  }

  /**
   * The runtime has made a snapshot of its applied state durable: keep it to serve
   * followers behind the log start, and let the runtime drop the entries it covers.
   */
  snapshotTaken(snapshot: Snapshot): RaftEffects {
    this.#begin();
    const endOffset = snapshot.id.endOffset;
    assert(endOffset <= this.#highWatermark,
      () => `raft: snapshot at ${endOffset} is above the high watermark ${this.#highWatermark} (only committed state may be snapshotted)`);
    if (endOffset > this.#log.logStartOffset) {
      this.#log.takeSnapshot(snapshot);
      this.#effects.deleteBefore = endOffset;
    }
    return this.#end();
  }

  // ---- effects ----

  #begin(): void {
    this.#effects = { append: [], messages: [] };
    this.#highWatermarkAtBegin = this.#highWatermark;
  }

  #end(): RaftEffects {
    const effects = this.#effects;
    if (this.#highWatermark > this.#highWatermarkAtBegin) effects.highWatermark = this.#highWatermark;
    assert(this.#log.logStartOffset <= this.#highWatermark && this.#highWatermark <= this.#log.logEndOffset,
      () => `raft: expected logStartOffset ${this.#log.logStartOffset} <= highWatermark ${this.#highWatermark} <= logEndOffset ${this.#log.logEndOffset}`);
    return effects;
  }

  #persist(): void {
    this.#effects.persistState = { epoch: this.#epoch, votedFor: this.#votedFor };
  }

  #send(message: RaftMessage): void {
    this.#effects.messages.push(message);
  }

  #randomElectionTimeoutMs(): number {
    // KIP-595 (after Raft §5.2): a random timeout in [T, 2T) makes split votes rare.
    return Math.floor(this.#options.electionTimeoutMs * (1 + this.#options.random()));
  }

  #resetElectionTimer(nowMs: number): void {
    this.#electionDeadlineMs = nowMs + this.#randomElectionTimeoutMs();
  }

  // ---- role transitions ----

  #leaveRole(): void {
    this.#votesGranted.clear();
    this.#preVote = null;
    // Parked fetches are dropped, not answered: their followers retry and learn the new state.
    this.#leader = null;
    this.#follower = null;
  }

  #becomeUnattached(epoch: number, nowMs: number): void {
    assert(epoch > this.#epoch, () => `raft: unattached at epoch ${epoch}, already at ${this.#epoch}`);
    this.#leaveRole();
    this.#epoch = epoch;
    this.#votedFor = null;
    this.#persist();
    this.#role = 'unattached';
    this.#leaderId = null;
    this.#resetElectionTimer(nowMs);
  }

  /** Follows `leaderId`, named by a message of the current epoch. */
  #learnLeader(leaderId: number | null, nowMs: number): void {
    if (leaderId === null || leaderId === this.#nodeId || !this.#voterIds.includes(leaderId)) return;
    if (this.#role !== 'unattached' && this.#role !== 'candidate') return;
    this.#leaveRole();
    this.#role = 'follower';
    this.#leaderId = leaderId;
    const follower = new FollowerState(leaderId);
    this.#follower = follower;
    this.#resetElectionTimer(nowMs);
    this.#sendFetch(follower, nowMs);
  }

  #becomeCandidate(nowMs: number): void {
    this.#leaveRole();
    this.#epoch += 1;
    this.#votedFor = this.#nodeId;
    this.#persist();
    this.#role = 'candidate';
    this.#leaderId = null;
    this.#votesGranted.add(this.#nodeId);
    this.#resetElectionTimer(nowMs);
    if (this.#votesGranted.size >= this.#majority) {
      this.#becomeLeader(nowMs);
      return;
    }
    const lastEpoch = this.#log.lastEpoch;
    const logEndOffset = this.#log.logEndOffset;
    for (const voterId of this.#voterIds) {
      if (voterId === this.#nodeId) continue;
      this.#send({ type: 'vote-request', from: this.#nodeId, to: voterId, epoch: this.#epoch, lastEpoch, logEndOffset });
    }
  }

  #becomeLeader(nowMs: number): void {
    this.#leaveRole();
    this.#role = 'leader';
    this.#leaderId = this.#nodeId;
    // KRaft's LeaderChangeMessage: an entry of the new epoch, whose commit commits every earlier entry.
    const epochStartOffset = this.#log.logEndOffset;
    const leader = new LeaderState(this.#nodeId, this.#voterIds, this.#majority, epochStartOffset, nowMs);
    this.#leader = leader;
    this.#appendAsLeader({ offset: epochStartOffset, epoch: this.#epoch, data: '', isControl: true });
    for (const voterId of this.#voterIds) {
      if (voterId === this.#nodeId) continue;
      this.#send({ type: 'begin-epoch', from: this.#nodeId, to: voterId, epoch: this.#epoch, leaderId: this.#nodeId });
    }
    this.#afterLeaderAppend(leader, nowMs);
  }

  /** KIP-595 check quorum: a leader the majority no longer fetches from stops accepting writes and lets an election happen. */
  #resign(nowMs: number): void {
    this.#leaveRole();
    this.#role = 'resigned';
    this.#leaderId = null;
    this.#resetElectionTimer(nowMs);
  }

  // ---- votes ----

  /**
   * KIP-996 pre-vote: asks every voter whether it would vote for this node in epoch + 1,
   * changing nothing of its own (epoch, vote, role). A round that does not reach a
   * majority simply ends when the new randomised election timeout fires: another round
   * starts then, so a node cut off from the others asks again and again at one epoch.
   */
  #startPreVote(nowMs: number): void {
    this.#resetElectionTimer(nowMs);
    const round = Math.max(nowMs, this.#preVoteRoundLast + 1);
    this.#preVoteRoundLast = round;
    const preVote = new PreVoteState(round, this.#nodeId);
    // A lone voter needs nobody's pre-vote either.
    if (preVote.grantedCount >= this.#majority) {
      this.#becomeCandidate(nowMs);
      return;
    }
    this.#preVote = preVote;
    const lastEpoch = this.#log.lastEpoch;
    const logEndOffset = this.#log.logEndOffset;
    for (const voterId of this.#voterIds) {
      if (voterId === this.#nodeId) continue;
      this.#send({
        type: 'vote-request', from: this.#nodeId, to: voterId, epoch: this.#epoch + 1, lastEpoch, logEndOffset,
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
    const isGranted = request.epoch > this.#epoch && !this.#hasHeardFromLeader(nowMs)
      && this.#isUpToDate(request.lastEpoch, request.logEndOffset);
    const response: VoteResponse = {
      type: 'vote-response', from: this.#nodeId, to: request.from, epoch: this.#epoch, isGranted, leaderId: this.#leaderId,
      isPreVote: true,
    };
    if (request.preVoteRound !== undefined) response.preVoteRound = request.preVoteRound;
    this.#send(response);
  }

  /** KIP-996's fetch timeout rule: this node leads, or its leader answered within electionTimeoutMs. */
  #hasHeardFromLeader(nowMs: number): boolean {
    if (this.#role === 'leader') return true;
    return this.#leaderContactMs !== null && nowMs - this.#leaderContactMs < this.#options.electionTimeoutMs;
  }

  /** The leader this node follows answered: it is alive, so the election timer restarts and a pre-vote round ends. */
  #heardFromLeader(nowMs: number): void {
    this.#leaderContactMs = nowMs;
    this.#preVote = null;
    this.#resetElectionTimer(nowMs);
  }

  #onPreVoteResponse(response: VoteResponse, nowMs: number): void {
    if (!response.isGranted) {
      // A refusal naming the leader of our epoch (a node back from a partition) lets us follow it.
      if (response.epoch === this.#epoch) this.#learnLeader(response.leaderId, nowMs);
      return;
    }
    const preVote = this.#preVote;
    // Only grants of the round in progress count: an answer to an older round (delayed,
    // duplicated, or from before a change of epoch or role) may no longer hold.
    if (preVote === null || !preVote.granted(response.from, response.preVoteRound)) return;
    if (preVote.grantedCount >= this.#majority) this.#becomeCandidate(nowMs);
  }

  #onVoteRequest(request: VoteRequest, nowMs: number): void {
    if (request.isPreVote === true) {
      this.#onPreVoteRequest(request, nowMs);
      return;
    }
    if (request.epoch === this.#epoch && this.#votedFor === null && this.#leaderId === null && this.#role === 'unattached'
      && this.#isUpToDate(request.lastEpoch, request.logEndOffset)) {
      // The vote is persisted (effects order) before the response leaves: one vote per epoch survives a crash.
      this.#votedFor = request.from;
      this.#persist();
      this.#resetElectionTimer(nowMs);
    }
    const isGranted = request.epoch === this.#epoch && this.#votedFor === request.from;
    this.#send({
      type: 'vote-response', from: this.#nodeId, to: request.from, epoch: this.#epoch, isGranted, leaderId: this.#leaderId,
    });
  }

  /** Raft §5.4.1: the candidate's log ends in a later epoch, or in the same epoch at or past ours. */
  #isUpToDate(lastEpoch: number, logEndOffset: number): boolean {
    const ownLastEpoch = this.#log.lastEpoch;
    return lastEpoch > ownLastEpoch || (lastEpoch === ownLastEpoch && logEndOffset >= this.#log.logEndOffset);
  }

  #onVoteResponse(response: VoteResponse, nowMs: number): void {
    if (response.isPreVote === true) {
      this.#onPreVoteResponse(response, nowMs);
      return;
    }
    if (response.epoch !== this.#epoch) return;
    if (this.#role !== 'candidate') {
      this.#learnLeader(response.leaderId, nowMs);
      return;
    }
    if (response.isGranted) {
      this.#votesGranted.add(response.from);
      if (this.#votesGranted.size >= this.#majority) this.#becomeLeader(nowMs);
    } else {
      this.#learnLeader(response.leaderId, nowMs);
    }
  }

  #onBeginEpoch(request: BeginEpochRequest, nowMs: number): void {
    if (request.epoch < this.#epoch) {
      // A leader of an older epoch: tell it ours, or a voter that entered an epoch the
      // leader never saw would stay out for good now that pre-votes depose nobody.
      this.#send({ type: 'begin-epoch-response', from: this.#nodeId, to: request.from, epoch: this.#epoch, leaderId: this.#leaderId });
      return;
    }
    if (request.leaderId !== request.from) return;
    const follower = this.#follower;
    if (follower !== null && follower.leaderId === request.from) {
      // The leader re-announces itself to a voter it has not heard from: our fetches may be lost.
      this.#heardFromLeader(nowMs);
      if (follower.snapshotIdInFlight === null) this.#sendFetch(follower, nowMs);
      return;
    }
    this.#learnLeader(request.leaderId, nowMs);
  }

  /** receive() already stepped down to a newer epoch; the voter may also know who leads it. */
  #onBeginEpochResponse(response: BeginEpochResponse, nowMs: number): void {
    if (response.epoch === this.#epoch) this.#learnLeader(response.leaderId, nowMs);
  }

  // ---- the leader's side of fetching ----

  #tickLeader(leader: LeaderState, nowMs: number): void {
    for (const request of leader.takeExpiredFetches(nowMs)) this.#answerFetch(leader, request, nowMs, null);
    for (const voterId of leader.votersToReannounce(nowMs, this.#beginEpochRetryMs)) {
      this.#send({ type: 'begin-epoch', from: this.#nodeId, to: voterId, epoch: this.#epoch, leaderId: this.#nodeId });
    }
    if (!leader.hasFetchQuorum(nowMs, this.#options.fetchTimeoutMs)) this.#resign(nowMs);
  }

  #onFetchRequest(request: FetchRequest, nowMs: number): void {
    const leader = this.#leader;
    if (request.epoch < this.#epoch || leader === null) {
      this.#send(this.#fetchError(request, request.epoch < this.#epoch ? 'stale-epoch' : 'not-leader'));
      return;
    }
    leader.voter(request.from).lastFetchMs = nowMs;
    // A newer fetch from the same voter replaces the parked one: the voter waits only for its latest.
    leader.release(request.from);
    this.#answerFetch(leader, request, nowMs, nowMs + Math.min(request.maxWaitMs, this.#options.fetchMaxWaitMs));
  }

  #fetchError(request: FetchRequest, error: 'stale-epoch' | 'not-leader'): FetchResponse {
    return {
      type: 'fetch-response', from: this.#nodeId, to: request.from, epoch: this.#epoch, leaderId: this.#leaderId, error,
      fetchOffset: request.fetchOffset, lastFetchedEpoch: request.lastFetchedEpoch, entries: [], highWatermark: this.#highWatermark,
    };
  }

  /**
   * Answers a fetch (KIP-595 Fetch with KIP-320's divergence check), or parks it until
   * `holdUntilMs` (null: answer now) when there is nothing new: no entries past
   * fetchOffset and no high watermark the voter has not been told.
   */
  #answerFetch(leader: LeaderState, request: FetchRequest, nowMs: number, holdUntilMs: number | null): void {
    const voter = leader.voter(request.from);
    const response: FetchResponse = {
      type: 'fetch-response', from: this.#nodeId, to: request.from, epoch: this.#epoch, leaderId: this.#nodeId,
      fetchOffset: request.fetchOffset, lastFetchedEpoch: request.lastFetchedEpoch, entries: [], highWatermark: this.#highWatermark,
    };
    const snapshot = this.#log.snapshot;
    const epochEnd = this.#log.endOffsetForEpoch(request.lastFetchedEpoch);
    if (request.fetchOffset < this.#log.logStartOffset || epochEnd === null) {
      // The entries the follower needs are gone into the snapshot: it must fetch that.
      assert(snapshot !== null, () => `raft: fetch at ${request.fetchOffset} below a log start with no snapshot`);
      response.snapshotId = snapshot.id;
      this.#send(response);
      return;
    }
    if (epochEnd.epoch !== request.lastFetchedEpoch || request.fetchOffset > epochEnd.endOffset) {
      response.divergingEpoch = epochEnd;
      this.#send(response);
      return;
    }
    // A valid fetch says the voter holds our log up to fetchOffset. Within one epoch a
    // voter's log only grows after its first valid fetch, so a reordered older fetch
    // must not lower what we know.
    if (request.fetchOffset > voter.endOffset) {
      voter.endOffset = request.fetchOffset;
      this.#updateLeaderHighWatermark(leader, nowMs);
    }
    response.highWatermark = this.#highWatermark;
    response.entries = this.#log.slice(request.fetchOffset, this.#log.logEndOffset, this.#options.fetchEntriesMax);
    const highWatermarkSent = Math.min(this.#highWatermark, request.fetchOffset + response.entries.length);
    if (holdUntilMs !== null && holdUntilMs > nowMs && response.entries.length === 0 && highWatermarkSent <= voter.highWatermarkSent) {
      leader.hold(request, holdUntilMs);
      return;
    }
    voter.highWatermarkSent = highWatermarkSent;
    this.#send(response);
  }

  #appendAsLeader(entry: LogEntry): void {
    this.#log.append(entry);
    this.#effects.append.push(entry);
  }

  /** After the leader appends: its own end offset moved (a lone voter commits at once) and parked fetches have news. */
  #afterLeaderAppend(leader: LeaderState, nowMs: number): void {
    if (!this.#updateLeaderHighWatermark(leader, nowMs)) this.#answerHeldFetches(leader, nowMs);
  }

  /**
   * Raft's commit rule: the high watermark is the largest offset a majority holds,
   * provided the entry below it belongs to the leader's epoch (§5.4.2), which the
   * epoch-start control entry guarantees from its offset on; it never moves back.
   * Returns whether it moved (parked fetches are then answered).
   */
  #updateLeaderHighWatermark(leader: LeaderState, nowMs: number): boolean {
    const majorityEndOffset = leader.majorityEndOffset(this.#log.logEndOffset);
    if (majorityEndOffset <= this.#highWatermark || majorityEndOffset <= leader.epochStartOffset) return false;
    this.#highWatermark = majorityEndOffset;
    this.#answerHeldFetches(leader, nowMs);
    return true;
  }

  #answerHeldFetches(leader: LeaderState, nowMs: number): void {
    for (const held of leader.takeHeldFetches()) this.#answerFetch(leader, held.request, nowMs, held.deadlineMs);
  }

  #onFetchSnapshotRequest(request: FetchSnapshotRequest, nowMs: number): void {
    const response: FetchSnapshotResponse = {
      type: 'fetch-snapshot-response', from: this.#nodeId, to: request.from, epoch: this.#epoch, leaderId: this.#leaderId,
    };
    if (request.epoch === this.#epoch && this.#leader !== null) {
      this.#leader.voter(request.from).lastFetchMs = nowMs;
      const snapshot = this.#log.snapshot;
      // Only the snapshot asked for: a newer one would be found by fetching again.
      if (snapshot !== null && snapshot.id.endOffset === request.snapshotId.endOffset && snapshot.id.epoch === request.snapshotId.epoch) {
        response.snapshot = snapshot;
      }
    }
    this.#send(response);
  }

  // ---- the follower's side of fetching ----

  /** `isRetry`: the last fetch went unanswered, so this one must not wait at the leader (maxWaitMs 0). */
  #sendFetch(follower: FollowerState, nowMs: number, isRetry = false): void {
    const fetchOffset = this.#log.logEndOffset;
    const lastFetchedEpoch = this.#log.lastEpoch;
    follower.fetchSent(fetchOffset, lastFetchedEpoch, nowMs);
    this.#send({
      type: 'fetch-request', from: this.#nodeId, to: follower.leaderId, epoch: this.#epoch,
      fetchOffset, lastFetchedEpoch, maxWaitMs: isRetry ? 0 : this.#options.fetchMaxWaitMs,
    });
  }

  #sendFetchSnapshot(follower: FollowerState, snapshotId: SnapshotId, nowMs: number): void {
    follower.snapshotFetchSent(snapshotId, nowMs);
    this.#send({ type: 'fetch-snapshot-request', from: this.#nodeId, to: follower.leaderId, epoch: this.#epoch, snapshotId });
  }

  /** Messages can be lost: a fetch unanswered for #fetchRetryMs is sent again. */
  #tickFollowerFetch(follower: FollowerState, nowMs: number): void {
    if (!follower.isFetchDue(nowMs, this.#fetchRetryMs)) return;
    const snapshotId = follower.snapshotIdInFlight;
    if (snapshotId !== null) {
      this.#sendFetchSnapshot(follower, snapshotId, nowMs);
    } else {
      this.#sendFetch(follower, nowMs, true);
    }
  }

  #onFetchResponse(response: FetchResponse, nowMs: number): void {
    if (response.epoch !== this.#epoch) return;
    const follower = this.#follower;
    if (follower === null) {
      this.#learnLeader(response.leaderId, nowMs);
      return;
    }
    // Answers to older fetches (duplicated, delayed, or sent before a truncation) are dropped.
    if (!follower.isAnswerToFetch(response, this.#log.logEndOffset, this.#log.lastEpoch)) return;
    if (response.error !== undefined) {
      // The node we follow no longer leads this epoch (it resigned): retry later, or time out into an election.
      follower.refused(nowMs);
      return;
    }
    follower.answered();
    this.#heardFromLeader(nowMs);
    if (response.divergingEpoch !== undefined) {
      this.#truncateToDivergence(response.divergingEpoch.epoch, response.divergingEpoch.endOffset);
    } else if (response.snapshotId !== undefined) {
      this.#sendFetchSnapshot(follower, response.snapshotId, nowMs);
      return;
    } else {
      this.#appendFetched(response);
    }
    this.#sendFetch(follower, nowMs);
  }

  /**
   * KIP-595 (KIP-320's rule): truncate to the smaller of the leader's end of the
   * diverging epoch and our own end of that epoch. Never below the high watermark:
   * committed entries are on the leader (Raft's leader completeness).
   */
  #truncateToDivergence(epoch: number, endOffset: number): void {
    const ownEnd = this.#log.endOffsetForEpoch(epoch);
    assert(ownEnd !== null, () => `raft: the leader diverges at epoch ${epoch}, inside our snapshot at ${this.#log.logStartOffset}`);
    const truncateTo = Math.min(endOffset, ownEnd.endOffset);
    assert(truncateTo >= this.#highWatermark && truncateTo < this.#log.logEndOffset,
      () => `raft: divergence at epoch ${epoch} end ${endOffset} truncates to ${truncateTo}, expected in [${this.#highWatermark}, ${this.#log.logEndOffset})`);
    this.#log.truncateTo(truncateTo);
    this.#effects.truncateTo = truncateTo;
  }

  #appendFetched(response: FetchResponse): void {
    for (const entry of response.entries) {
      assert(entry.epoch <= this.#epoch, () => `raft: fetched entry ${entry.offset} of epoch ${entry.epoch} above ours ${this.#epoch}`);
      this.#log.append(entry);
      this.#effects.append.push(entry);
    }
    // Kafka's follower rule: the high watermark is the leader's, capped by what we hold.
    const highWatermark = Math.min(response.highWatermark, this.#log.logEndOffset);
    if (highWatermark > this.#highWatermark) this.#highWatermark = highWatermark;
  }

  #onFetchSnapshotResponse(response: FetchSnapshotResponse, nowMs: number): void {
    if (response.epoch !== this.#epoch) return;
    const follower = this.#follower;
    if (follower === null) {
      this.#learnLeader(response.leaderId, nowMs);
      return;
    }
    if (!follower.isAnswerToSnapshotFetch(response)) return;
    follower.answered();
    this.#heardFromLeader(nowMs);
    const snapshot = response.snapshot;
    // The snapshot replaces the whole log unless the log already holds its last entry
    // (same offset, same epoch: by log matching, everything it covers). A log that ends
    // past the snapshot on another epoch is a divergent suffix and goes with the rest.
    if (snapshot !== undefined && this.#log.epochAt(snapshot.id.endOffset - 1) !== snapshot.id.epoch) {
      assert(snapshot.id.endOffset >= this.#highWatermark,
        () => `raft: snapshot at ${snapshot.id.endOffset} would replace committed entries up to ${this.#highWatermark}`);
      this.#log.installSnapshot(snapshot);
      this.#effects.installSnapshot = snapshot;
      if (snapshot.id.endOffset > this.#highWatermark) this.#highWatermark = snapshot.id.endOffset;
    }
    this.#sendFetch(follower, nowMs);
  }
}
