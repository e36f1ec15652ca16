/**
 * One node's Raft state, shared by the two halves of the core (elections in
 * raft-elections.ts, fetch and commit in raft-fetching.ts): the persisted epoch and
 * vote, the role and the leader it knows, the log and its high watermark, the election
 * deadline, the state of the role held, and the effects of the call in progress.
 *
 * Effects are collected, never performed: begin() opens a call, the halves record
 * what must become durable (persist, appendToLog, truncation, snapshots) and what must
 * be sent, and end() hands it all to the runtime, which writes before it sends.
 */
import { assert } from '../../util/assert.js';
import type { FollowerState } from './follower-state.js';
import type { LeaderState } from './leader-state.js';
import { RaftLog } from './raft-log.js';
import type { LogEntry, RaftEffects, RaftMessage, RaftOptions, RaftRole, RaftStartState } from './types.js';

export class RaftState {
  readonly options: RaftOptions;
  readonly nodeId: number;
  /** The static voter set, sorted and without duplicates. */
  readonly voterIds: readonly number[];
  readonly majority: number;

  epoch: number;
  votedFor: number | null;
  role: RaftRole = 'unattached';
  leaderId: number | null = null;
  readonly log: RaftLog;
  highWatermark: number;
  electionDeadlineMs = 0;

  /** Set while this node leads its epoch (role 'leader'). */
  leader: LeaderState | null = null;
  /** Set while this node follows a leader of its epoch (role 'follower'). */
  follower: FollowerState | null = null;

  /** The effects of the call in progress; see begin() and end(). */
  #effects: RaftEffects = { append: [], messages: [] };
  #highWatermarkAtBegin = 0;

  constructor(options: RaftOptions, voterIds: readonly number[], start: RaftStartState) {
    this.options = options;
    this.nodeId = options.nodeId;
    this.voterIds = voterIds;
    this.majority = Math.floor(voterIds.length / 2) + 1;
    this.epoch = start.persisted.epoch;
    this.votedFor = start.persisted.votedFor;
    this.log = new RaftLog(start.entries, start.snapshot);
    // Only what the snapshot covers is known to be committed after a restart; the
    // leader's fetch answers bring the rest (the high watermark is not persisted in KRaft).
    this.highWatermark = this.log.logStartOffset;
  }

  get effects(): RaftEffects {
    return this.#effects;
  }

  begin(): void {
    this.#effects = { append: [], messages: [] };
    this.#highWatermarkAtBegin = this.highWatermark;
  }

  end(): RaftEffects {
    const effects = this.#effects;
    if (this.highWatermark > this.#highWatermarkAtBegin) effects.highWatermark = this.highWatermark;
    assert(this.log.logStartOffset <= this.highWatermark && this.highWatermark <= this.log.logEndOffset,
      () => `raft: expected logStartOffset ${this.log.logStartOffset} <= highWatermark ${this.highWatermark} <= logEndOffset ${this.log.logEndOffset}`);
    return effects;
  }

  persist(): void {
    this.#effects.persistState = { epoch: this.epoch, votedFor: this.votedFor };
  }

  send(message: RaftMessage): void {
    this.#effects.messages.push(message);
  }

  /** Appends to the log and to the entries the runtime must make durable. */
  appendToLog(entry: LogEntry): void {
    this.log.append(entry);
    this.#effects.append.push(entry);
  }

  randomElectionTimeoutMs(): number {
    // KIP-595 (after Raft §5.2): a random timeout in [T, 2T) makes split votes rare.
    return Math.floor(this.options.electionTimeoutMs * (1 + this.options.random()));
  }

  resetElectionTimer(nowMs: number): void {
    this.electionDeadlineMs = nowMs + this.randomElectionTimeoutMs();
  }
}
