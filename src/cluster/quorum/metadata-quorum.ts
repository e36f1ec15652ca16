/**
 * MetadataQuorum: runs the pure Raft core (raft/raft-core.ts) for real — timers, the
 * durable RaftStore, node-to-node messages over HTTP — and feeds committed entries to
 * the state machine (the node's metadata image) in log order.
 *
 * Every step of the core is handled the same way: its effects are made durable in one
 * SQLite transaction, a snapshot to install replaces the state machine, then its
 * messages are sent, and then newly committed entries are applied. Messages are
 * one-way POSTs to /internal/v1/raft (an answer is just another message), so loss,
 * delay and reordering on the network are the cases the core already handles.
 *
 * propose() resolves once the entry is committed AND applied here, so a controller
 * that answers after propose() has its own decision in its image.
 */
import { limits } from '../../limits.js';
import { RaftCore } from '../raft/raft-core.js';
import { NotLeaderError, type LogEntry, type RaftEffects, type RaftMessage, type RaftStatus, type Snapshot } from '../raft/types.js';
import type { PeerClient } from '../peer-client.js';
import type { RaftStore } from './raft-store.js';

export interface QuorumStateMachine {
  /** Every entry below this offset is in the state. */
  readonly appliedOffset: number;
  /** Committed entries, in order, starting at appliedOffset (control entries included: skip them). */
  apply(entries: LogEntry[]): void;
  /** The state now, as snapshot data. */
  snapshotData(): string;
  /** Replaces the state with a snapshot's (a follower far behind, or a restart). */
  restore(snapshot: Snapshot): void;
}

export interface MetadataQuorumOptions {
  nodeId: number;
  voters: readonly number[];
  store: RaftStore;
  peers: PeerClient;
  stateMachine: QuorumStateMachine;
  electionTimeoutMs: number;
  /** Take a snapshot after this many applied entries (default limits.quorumSnapshotIntervalEntriesDefault). */
  snapshotIntervalEntries?: number;
  /** Role or leader changed (the node starts or stops being the active controller). */
  onLeadershipChange?: () => void;
  onError?: (error: unknown, context: string) => void;
}

interface PendingProposal {
  offset: number;
  epoch: number;
  resolve: (offset: number) => void;
  reject: (error: Error) => void;
}

export class MetadataQuorum {
  private core: RaftCore | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending: PendingProposal[] = [];
  private readonly inFlight = new Map<number, number>();
  private lastSnapshotOffset = 0;
  private lastRole = '';
  private lastLeaderId: number | null = null;
  private isStopped = false;

  constructor(private readonly options: MetadataQuorumOptions) {}

  start(): void {
    const { store, stateMachine } = this.options;
    const start = store.load();
    // A snapshot newer than the state machine (installed from the leader before a
    // crash) replaces it; older entries are already in the state.
    if (start.snapshot !== null) {
      this.lastSnapshotOffset = start.snapshot.id.endOffset;
      if (stateMachine.appliedOffset < start.snapshot.id.endOffset) stateMachine.restore(start.snapshot);
    }
    this.core = new RaftCore({
      nodeId: this.options.nodeId,
      voters: this.options.voters,
      electionTimeoutMs: this.options.electionTimeoutMs,
      fetchTimeoutMs: this.options.electionTimeoutMs * 2,
      // A third of the election timeout: a held fetch and its answer come back well
      // before the follower's election timer (electionTimeoutMs at least) runs out.
      fetchMaxWaitMs: Math.max(10, Math.floor(this.options.electionTimeoutMs / 3)),
      fetchEntriesMax: limits.quorumFetchEntriesMax,
      random: Math.random,
    }, start, Date.now());
    this.timer = setInterval(() => this.step((core, now) => core.tick(now), 'tick'), limits.quorumTickIntervalMs);
    this.timer.unref();
    this.step((core, now) => core.tick(now), 'tick');
  }

  /** Messages from a peer (POST /internal/v1/raft). */
  receive(messages: RaftMessage[]): void {
    for (const message of messages) {
      if (message.to !== this.options.nodeId) continue;
      this.step((core, now) => core.receive(message, now), 'receive');
    }
  }

  /**
   * Appends records (as one entry each) and resolves with the last entry's offset once
   * it is committed and applied here. Throws NotLeaderError unless this node leads and
   * its epoch's first entry is committed.
   */
  propose(data: string[]): Promise<number> {
    const core = this.requireCore();
    if (!core.isLeaderReady) throw new NotLeaderError(this.leaderId, core.status().epoch);
    const { effects, offsets } = core.propose(data, Date.now());
    const offset = offsets[offsets.length - 1];
    const promise = new Promise<number>((resolve, reject) => {
      this.pending.push({ offset, epoch: core.status().epoch, resolve, reject });
    });
    this.handle(effects);
    return promise;
  }

  /** Leader whose epoch is committed and whose state machine has applied everything committed. */
  get isActiveLeader(): boolean {
    const core = this.core;
    if (core === undefined || !core.isLeaderReady) return false;
    return this.options.stateMachine.appliedOffset >= core.status().highWatermark;
  }

  get leaderId(): number | null {
    return this.core?.status().leaderId ?? null;
  }

  status(): RaftStatus & { appliedOffset: number } {
    return { ...this.requireCore().status(), appliedOffset: this.options.stateMachine.appliedOffset };
  }

  stop(): void {
    this.isStopped = true;
    clearInterval(this.timer);
    for (const proposal of this.pending.splice(0)) proposal.reject(new NotLeaderError(null, proposal.epoch));
  }

  private requireCore(): RaftCore {
    if (this.core === undefined) throw new Error('the metadata quorum has not started');
    return this.core;
  }

  private step(run: (core: RaftCore, nowMs: number) => RaftEffects, context: string): void {
    if (this.isStopped || this.core === undefined) return;
    try {
      this.handle(run(this.core, Date.now()));
    } catch (error) {
      this.options.onError?.(error, `metadata quorum ${context}`);
    }
  }

  private handle(effects: RaftEffects): void {
    const core = this.requireCore();
    this.options.store.persist(effects);
    if (effects.installSnapshot !== undefined) {
      this.options.stateMachine.restore(effects.installSnapshot);
      this.lastSnapshotOffset = effects.installSnapshot.id.endOffset;
    }
    this.send(effects.messages);
    this.applyCommitted(core);
    this.noticeLeadershipChange(core);
  }

  private applyCommitted(core: RaftCore): void {
    const { stateMachine } = this.options;
    const { highWatermark } = core.status();
    if (stateMachine.appliedOffset < highWatermark) {
      const entries = core.entries(stateMachine.appliedOffset, highWatermark);
      if (entries.length > 0) stateMachine.apply(entries);
    }
    const applied = stateMachine.appliedOffset;
    for (let i = 0; i < this.pending.length;) {
      const proposal = this.pending[i];
      if (proposal.offset < applied) {
        // Committed: but is it ours? An entry of another epoch at that offset means ours was truncated.
        // (An entry already in a snapshot was committed; it cannot be told apart any more.)
        const [entry] = proposal.offset < core.status().logStartOffset ? [] : core.entries(proposal.offset, proposal.offset + 1);
        if (entry === undefined || entry.epoch === proposal.epoch) proposal.resolve(proposal.offset);
        else proposal.reject(new NotLeaderError(core.status().leaderId, core.status().epoch));
        this.pending.splice(i, 1);
      } else {
        i += 1;
      }
    }
    // A snapshot covers committed entries the log still holds (after a restart the
    // core's high watermark starts at its snapshot and catches up with the leader's).
    const interval = this.options.snapshotIntervalEntries ?? limits.quorumSnapshotIntervalEntriesDefault;
    const status = core.status();
    if (applied - this.lastSnapshotOffset >= interval && applied <= status.highWatermark && applied - 1 >= status.logStartOffset) {
      const [last] = core.entries(applied - 1, applied);
      const snapshot: Snapshot = { id: { endOffset: applied, epoch: last.epoch }, data: stateMachine.snapshotData() };
      this.options.store.saveSnapshot(snapshot);
      this.lastSnapshotOffset = applied;
      const effects = core.snapshotTaken(snapshot);
      this.options.store.persist(effects);
      this.send(effects.messages);
    }
  }

  private noticeLeadershipChange(core: RaftCore): void {
    const status = core.status();
    const role = `${status.role}/${status.epoch}/${core.isLeaderReady}`;
    if (role === this.lastRole && status.leaderId === this.lastLeaderId) return;
    this.lastRole = role;
    this.lastLeaderId = status.leaderId;
    if (status.role !== 'leader') {
      // Proposals of a lost leadership may still commit (a new leader keeps them) or not;
      // the caller cannot know, so it is told to retry on the new controller.
      for (const proposal of this.pending.splice(0)) proposal.reject(new NotLeaderError(status.leaderId, status.epoch));
    }
    this.options.onLeadershipChange?.();
  }

  private send(messages: RaftMessage[]): void {
    if (messages.length === 0) return;
    const byPeer = new Map<number, RaftMessage[]>();
    for (const message of messages) {
      let list = byPeer.get(message.to);
      if (list === undefined) byPeer.set(message.to, (list = []));
      list.push(message);
    }
    for (const [peer, list] of byPeer) {
      const inFlight = this.inFlight.get(peer) ?? 0;
      if (inFlight >= limits.quorumMessagesInFlightPerPeerMax) continue;
      this.inFlight.set(peer, inFlight + 1);
      this.options.peers.post(peer, '/internal/v1/raft', { messages: list }, this.options.electionTimeoutMs * 2)
        .catch(() => undefined)
        .finally(() => this.inFlight.set(peer, (this.inFlight.get(peer) ?? 1) - 1));
    }
  }
}
