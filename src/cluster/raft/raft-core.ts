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
 * The core is split by idea: raft-elections.ts decides who leads (votes, pre-votes,
 * role transitions), raft-fetching.ts moves the log (fetch, divergence, snapshots,
 * the commit rule), and both work on one RaftState (raft-state.ts). This file is the
 * entry: it checks the options, routes each input to its half and returns the effects.
 *
 * Timers are deadlines compared with the `nowMs` of each call; the runtime calls tick()
 * often (a tenth of fetchMaxWaitMs is plenty) so that they fire on time.
 */
import { assert } from '../../util/assert.js';
import { RaftElections } from './raft-elections.js';
import { RaftFetching } from './raft-fetching.js';
import { RaftState } from './raft-state.js';
import {
  NotLeaderError,
  type LogEntry, type RaftEffects, type RaftMessage, type RaftOptions, type RaftStartState, type RaftStatus, type Snapshot,
} from './types.js';

export class RaftCore {
  readonly #state: RaftState;
  readonly #elections: RaftElections;
  readonly #fetching: RaftFetching;

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
    const state = new RaftState(options, voterIds, start);
    this.#state = state;
    // The halves call each other (a fetch answer names a leader, a new leader appends),
    // so fetching reaches elections through this late-bound LeaderContact.
    this.#fetching = new RaftFetching(state, {
      learnLeader: (leaderId, at) => this.#elections.learnLeader(leaderId, at),
      heardFromLeader: (at) => this.#elections.heardFromLeader(at),
      resign: (at) => this.#elections.resign(at),
    });
    this.#elections = new RaftElections(state, this.#fetching);
    assert(state.log.lastEpoch <= state.epoch,
      () => `raft: the log's last epoch ${state.log.lastEpoch} is above the persisted epoch ${state.epoch}`);
    // A lone voter needs nobody's vote: it elects itself on the first tick.
    state.electionDeadlineMs = voterIds.length === 1 ? nowMs : nowMs + state.randomElectionTimeoutMs();
  }

  get isLeaderReady(): boolean {
    const state = this.#state;
    return state.leader !== null && state.highWatermark > state.leader.epochStartOffset;
  }

  status(): RaftStatus {
    const state = this.#state;
    const status: RaftStatus = {
      nodeId: state.nodeId,
      role: state.role,
      epoch: state.epoch,
      leaderId: state.leaderId,
      votedFor: state.votedFor,
      logStartOffset: state.log.logStartOffset,
      logEndOffset: state.log.logEndOffset,
      highWatermark: state.highWatermark,
    };
    if (state.leader !== null) status.voterEndOffsets = state.leader.voterEndOffsets(state.log.logEndOffset);
    return status;
  }

  /** Committed entries in [startOffset, min(endOffset, highWatermark)), for the runtime to apply. */
  entries(startOffset: number, endOffset: number): LogEntry[] {
    const log = this.#state.log;
    assert(startOffset >= log.logStartOffset,
      () => `raft: entries from ${startOffset} requested, the log starts at ${log.logStartOffset} (apply the snapshot)`);
    return log.slice(startOffset, Math.min(endOffset, this.#state.highWatermark), Number.MAX_SAFE_INTEGER);
  }

  tick(nowMs: number): RaftEffects {
    const state = this.#state;
    state.begin();
    if (state.leader !== null) {
      this.#fetching.tickLeader(state.leader, nowMs);
    } else {
      this.#elections.tick(nowMs);
      if (state.follower !== null) this.#fetching.tickFollower(state.follower, nowMs);
    }
    return state.end();
  }

  receive(message: RaftMessage, nowMs: number): RaftEffects {
    const state = this.#state;
    state.begin();
    // Messages for another node or from a node outside the static voter set are not ours to act on.
    if (message.to !== state.nodeId || message.from === state.nodeId || !state.voterIds.includes(message.from)) {
      return state.end();
    }
    // Raft: any message from a newer epoch makes this node step down to that epoch first.
    // Not a pre-vote (KIP-996): its epoch is one the sender has not entered, and a
    // pre-vote changes nothing here, or a node that cannot win would still depose the leader.
    if (message.epoch > state.epoch && !(message.type === 'vote-request' && message.isPreVote === true)) {
      this.#elections.becomeUnattached(message.epoch, nowMs);
    }
    switch (message.type) {
      case 'vote-request':
        this.#elections.onVoteRequest(message, nowMs);
        break;
      case 'vote-response':
        this.#elections.onVoteResponse(message, nowMs);
        break;
      case 'begin-epoch':
        this.#elections.onBeginEpoch(message, nowMs);
        break;
      case 'begin-epoch-response':
        this.#elections.onBeginEpochResponse(message, nowMs);
        break;
      case 'fetch-request':
        this.#fetching.onFetchRequest(message, nowMs);
        break;
      case 'fetch-response':
        this.#fetching.onFetchResponse(message, nowMs);
        break;
      case 'fetch-snapshot-request':
        this.#fetching.onFetchSnapshotRequest(message, nowMs);
        break;
      case 'fetch-snapshot-response':
        this.#fetching.onFetchSnapshotResponse(message, nowMs);
        break;
    }
    return state.end();
  }

  /**
   * Appends `data` as entries of the leader's epoch. Only a ready leader accepts: until
   * its epoch-start control entry commits, it cannot know which earlier entries are
   * committed (Raft §5.4.2), so neither may its controller act.
   */
  propose(data: string[], nowMs: number): { effects: RaftEffects; offsets: number[] } {
    const state = this.#state;
    const leader = state.leader;
    if (leader === null || !this.isLeaderReady) throw new NotLeaderError(state.leaderId, state.epoch);
    state.begin();
    const firstOffset = state.log.logEndOffset;
    const entries = data.map((item, index) => ({ offset: firstOffset + index, epoch: state.epoch, data: item }));
    this.#fetching.appendAsLeader(leader, entries, nowMs);
    return { effects: state.end(), offsets: entries.map((entry) => entry.offset) };
  }

  /**
   * The runtime has made a snapshot of its applied state durable: keep it to serve
   * followers behind the log start, and let the runtime drop the entries it covers.
   */
  snapshotTaken(snapshot: Snapshot): RaftEffects {
    const state = this.#state;
    state.begin();
    const endOffset = snapshot.id.endOffset;
    assert(endOffset <= state.highWatermark,
      () => `raft: snapshot at ${endOffset} is above the high watermark ${state.highWatermark} (only committed state may be snapshotted)`);
    if (endOffset > state.log.logStartOffset) {
      state.log.takeSnapshot(snapshot);
      state.effects.deleteBefore = endOffset;
    }
    return state.end();
  }
}
