/**
 * A deterministic simulation of the metadata quorum's Raft core (TigerBeetle's VOPR
 * style): 3 or 5 RaftCores on a virtual clock, a network that loses, delays,
 * duplicates and reorders messages, partitions that come and heal, crashes and
 * restarts, event loop stalls (a node that stops processing for a while, its
 * messages waiting for it, then resumes), clients proposing to whoever leads, and
 * nodes snapshotting what they applied. One seeded PRNG drives everything, so a seed
 * is a complete bug report.
 *
 * A restarted node gets back exactly what its effects made durable (persisted state,
 * snapshot, log after truncations and appends), nothing volatile. After every call
 * into a core the checker verifies Raft's safety properties; at the end the network
 * heals and a final proposal must commit on every node within a bounded virtual time.
 */
import { InvariantError } from '../../../src/util/assert.js';
import { RaftCore } from '../../../src/cluster/raft/raft-core.js';
import {
  NotLeaderError,
  type LogEntry, type PersistedState, type RaftEffects, type RaftMessage, type RaftOptions, type Snapshot,
} from '../../../src/cluster/raft/types.js';

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deliberate bugs, to prove the checker catches what it claims to. */
export interface SimulationBugs {
  /**
   * A restarted node comes back without its persisted vote (a runtime that forgot to
   * fsync it). Its voters also restart right after a third of the votes they give, the
   * window this bug needs: since pre-vote, rival candidates of one epoch are rare, and
   * crashes at random seldom fall between their requests.
   */
  isVoteForgottenOnRestart?: boolean;
  /** This node answers every vote request with a grant, besides what its core answers. */
  grantsEveryVoteNodeId?: number;
}

/**
 * 'all' (the default): every fault, at rates drawn per seed. 'follower-stalls': a
 * lossless network whose only fault is a follower's event loop stalling past its
 * election timeout, one node at a time (the loaded machine of a real cluster): the
 * leader of the first epoch should keep leading throughout (KIP-996 pre-vote).
 */
export type SimulationFaults = 'all' | 'follower-stalls';

export interface SimulationOptions {
  seed: number;
  /** Steps of the faulty phase, each stepMs of virtual time. */
  steps: number;
  faults?: SimulationFaults;
  bugs?: SimulationBugs;
  /** Called with one line per delivered message and per non-empty effect (to debug a failing seed). */
  trace?: (line: string) => void;
}

export interface SimulationResult {
  seed: number;
  /** Null when every property held; else "seed N: <property>: <detail>". */
  failure: string | null;
  voterCount: number;
  committedCount: number;
  leaderEpochCount: number;
  /** The highest epoch any node reached. */
  epochMax: number;
  /** Event loop stalls injected, and how many of them outlasted twice the election timeout. */
  stallCount: number;
  longStallCount: number;
  virtualMs: number;
}

const stepMs = 5;
const electionTimeoutMs = 100;
const fetchTimeoutMs = 200;
/** After the faults stop, a final proposal must commit everywhere within this much virtual time. */
const livenessBoundMs = 40 * electionTimeoutMs;

class PropertyViolation extends Error {
  constructor(readonly property: string, detail: string) {
    super(`${property}: ${detail}`);
  }
}

/** What a node's effects made durable: survives a crash. */
interface DurableState {
  persisted: PersistedState;
  snapshot: Snapshot | null;
  entries: LogEntry[];
}

interface SimulatedNode {
  id: number;
  core: RaftCore | null;
  durable: DurableState;
  /** The state machine: the data of every non-control entry applied, in order (volatile). */
  applied: string[];
  appliedOffset: number;
  /** The high watermark seen in this process lifetime (volatile). */
  highWatermark: number;
  partitionGroup: number;
  /** While nowMs < stalledUntilMs the node's event loop is stuck: no ticks, its messages wait for it. */
  stalledUntilMs: number;
}

interface InFlight {
  deliverAtMs: number;
  sequence: number;
  message: RaftMessage;
}

/** One record per (offset, epoch) ever written anywhere: Raft's log matching, checked by induction. */
interface EntryRecord {
  data: string;
  isControl: boolean;
  previousEpoch: number;
}

class Simulation {
  readonly #random: () => number;
  readonly #seed: number;
  readonly #bugs: SimulationBugs;
  readonly #nodes: SimulatedNode[] = [];
  readonly #voterIds: number[];
  readonly #options: RaftOptions[] = [];
  #network: InFlight[] = [];
  #sequence = 0;
  nowMs = 0;

  // Fault rates, drawn per run so seeds explore calm and stormy networks.
  readonly #lossRate: number;
  readonly #duplicateRate: number;
  readonly #delayMaxMs: number;
  readonly #longDelayRate: number;
  readonly #crashRate: number;
  readonly #partitionRate: number;
  readonly #tornWriteRate: number;
  readonly #stallRate: number;
  readonly #isFollowerStallsOnly: boolean;
  #isFaulty = true;

  // The checker's memory, across all time and all nodes.
  readonly #leaderOfEpoch = new Map<number, number>();
  readonly #entryRecords: Map<number, EntryRecord>[] = [];
  readonly #committed: (LogEntry | undefined)[] = [];
  readonly #appliedReference: string[] = [];
  #proposalCount = 0;
  #epochMax = 0;
  #stallCount = 0;
  #longStallCount = 0;

  readonly #trace: ((line: string) => void) | null;

  constructor(seed: number, faults: SimulationFaults, bugs: SimulationBugs, trace: ((line: string) => void) | null) {
    this.#trace = trace;
    this.#seed = seed;
    this.#bugs = bugs;
    this.#random = mulberry32(seed);
    const voterCount = this.#random() < 0.5 ? 3 : 5;
    this.#voterIds = [];
    for (let id = 1; id <= voterCount; id++) this.#voterIds.push(id);
    this.#lossRate = this.#pick([0, 0.02, 0.1, 0.3]);
    this.#duplicateRate = this.#pick([0, 0.05, 0.2]);
    this.#delayMaxMs = this.#pick([2, 10, 25]);
    this.#longDelayRate = this.#pick([0, 0.01, 0.05]);
    this.#crashRate = this.#pick([0, 0.005, 0.02, 0.05]);
    this.#partitionRate = this.#pick([0, 0.005, 0.02, 0.05]);
    this.#tornWriteRate = this.#pick([0, 0.0005, 0.002]);
    this.#stallRate = this.#pick([0, 0.005, 0.02]);
    this.#isFollowerStallsOnly = faults === 'follower-stalls';
    if (this.#isFollowerStallsOnly) {
      this.#lossRate = 0;
      this.#duplicateRate = 0;
      this.#longDelayRate = 0;
      this.#crashRate = 0;
      this.#partitionRate = 0;
      this.#tornWriteRate = 0;
      this.#stallRate = 0.02;
    }
    const fetchEntriesMax = 1 + Math.floor(this.#random() * 4);
    // Short long polls, and the runtime's half an election timeout.
    const fetchMaxWaitMs = this.#pick([30, 50]);
    const random = this.#random;
    for (const id of this.#voterIds) {
      this.#options.push({ nodeId: id, voters: this.#voterIds, electionTimeoutMs, fetchTimeoutMs, fetchMaxWaitMs, fetchEntriesMax, random });
      const node: SimulatedNode = {
        id, core: null, durable: { persisted: { epoch: 0, votedFor: null }, snapshot: null, entries: [] },
        applied: [], appliedOffset: 0, highWatermark: 0, partitionGroup: 0, stalledUntilMs: 0,
      };
      this.#nodes.push(node);
      this.#start(node);
    }
  }

  get voterCount(): number {
    return this.#voterIds.length;
  }

  get committedCount(): number {
    return this.#committed.length;
  }

  get leaderEpochCount(): number {
    return this.#leaderOfEpoch.size;
  }

  get epochMax(): number {
    return this.#epochMax;
  }

  get stallCount(): number {
    return this.#stallCount;
  }

  get longStallCount(): number {
    return this.#longStallCount;
  }

  #pick<T>(choices: readonly T[]): T {
    return choices[Math.floor(this.#random() * choices.length)];
  }

  // ---- nodes: start, crash, effects ----

  #start(node: SimulatedNode): void {
    const durable = node.durable;
    const persisted = this.#bugs.isVoteForgottenOnRestart === true
      ? { epoch: durable.persisted.epoch, votedFor: null }
      : { ...durable.persisted };
    node.core = new RaftCore(this.#options[node.id - 1], {
      persisted, entries: durable.entries.slice(), snapshot: durable.snapshot,
    }, this.nowMs);
    // The state machine restarts from the snapshot; the rest is applied as the high watermark is learned again.
    node.applied = durable.snapshot === null ? [] : JSON.parse(durable.snapshot.data) as string[];
    node.appliedOffset = durable.snapshot === null ? 0 : durable.snapshot.id.endOffset;
    node.highWatermark = node.appliedOffset;
    this.#checkAppliedPrefix(node, 0);
  }

  #crash(node: SimulatedNode): void {
    node.core = null;
    node.stalledUntilMs = 0;
  }

  #isStalled(node: SimulatedNode): boolean {
    return node.stalledUntilMs > this.nowMs;
  }

  #stall(node: SimulatedNode): void {
    // Past one and up to six election timeouts: long enough that the node's own timer
    // fires the moment it resumes, before it reads what the leader sent meanwhile.
    const stallMs = Math.floor(electionTimeoutMs * (1 + 5 * this.#random()));
    node.stalledUntilMs = this.nowMs + stallMs;
    this.#stallCount += 1;
    if (stallMs > 2 * electionTimeoutMs) this.#longStallCount += 1;
    this.#trace?.(`${this.nowMs} node ${node.id} stalls for ${stallMs} ms`);
  }

  /**
   * Ticks the nodes whose stall ended, before they read the messages that waited for
   * them: after a long synchronous stretch Node's event loop runs its timers phase
   * (the runtime's tick) before its poll phase (the HTTP requests).
   */
  #resumeStalled(): SimulatedNode[] {
    const resumed: SimulatedNode[] = [];
    for (const node of this.#nodes) {
      if (node.stalledUntilMs === 0 || this.#isStalled(node)) continue;
      node.stalledUntilMs = 0;
      if (node.core === null) continue;
      this.#trace?.(`${this.nowMs} node ${node.id} resumes`);
      this.#applyEffects(node, node.core.tick(this.nowMs));
      this.#checkNode(node);
      resumed.push(node);
    }
    return resumed;
  }

  #logStartOffset(node: SimulatedNode): number {
    return node.durable.snapshot === null ? 0 : node.durable.snapshot.id.endOffset;
  }

  #logEndOffset(node: SimulatedNode): number {
    return this.#logStartOffset(node) + node.durable.entries.length;
  }

  #epochAt(node: SimulatedNode, offset: number): number {
    const logStartOffset = this.#logStartOffset(node);
    if (offset >= logStartOffset) return node.durable.entries[offset - logStartOffset].epoch;
    if (offset === -1) return 0;
    if (offset === logStartOffset - 1) return node.durable.snapshot!.id.epoch;
    throw new PropertyViolation('harness', `node ${node.id} has no epoch for offset ${offset}`);
  }

  /** Makes the effects durable in the runtime's order, then sends, then applies what was committed. */
  #applyEffects(node: SimulatedNode, effects: RaftEffects): void {
    if (this.#trace !== null && (effects.append.length > 0 || effects.messages.length > 0 || effects.persistState !== undefined
      || effects.truncateTo !== undefined || effects.installSnapshot !== undefined || effects.highWatermark !== undefined)) {
      this.#trace(`${this.nowMs} node ${node.id} effects ${JSON.stringify(effects)}`);
    }
    const durable = node.durable;
    // A torn write: the process dies part way through making the effects durable, in
    // the runtime's order, before anything is sent. What was written must be enough.
    const tornAtStage = this.#isFaulty && this.#random() < this.#tornWriteRate
      ? Math.floor(this.#random() * (4 + effects.append.length)) : -1;
    if (tornAtStage === 0) return this.#crash(node);
    if (effects.persistState !== undefined) durable.persisted = { ...effects.persistState };
    if (tornAtStage === 1) return this.#crash(node);
    if (effects.truncateTo !== undefined) {
      if (effects.truncateTo < node.appliedOffset) {
        throw new PropertyViolation('state machine safety',
          `node ${node.id} truncates to ${effects.truncateTo} below its applied offset ${node.appliedOffset}`);
      }
      durable.entries.length = effects.truncateTo - this.#logStartOffset(node);
    }
    if (tornAtStage === 2) return this.#crash(node);
    if (effects.installSnapshot !== undefined) {
      if (effects.installSnapshot.id.endOffset < node.appliedOffset) {
        throw new PropertyViolation('state machine safety',
          `node ${node.id} installs a snapshot at ${effects.installSnapshot.id.endOffset} below its applied offset ${node.appliedOffset}`);
      }
      durable.snapshot = effects.installSnapshot;
      durable.entries = [];
      node.applied = JSON.parse(effects.installSnapshot.data) as string[];
      node.appliedOffset = effects.installSnapshot.id.endOffset;
      this.#checkAppliedPrefix(node, 0);
    }
    for (let index = 0; index < effects.append.length; index++) {
      if (tornAtStage === 3 + index) return this.#crash(node);
      const entry = effects.append[index];
      const offset = this.#logEndOffset(node);
      if (entry.offset !== offset) {
        throw new PropertyViolation('log order', `node ${node.id} appends offset ${entry.offset} at log end ${offset}`);
      }
      this.#checkLogMatching(node, entry);
      durable.entries.push(entry);
    }
    if (tornAtStage === 3 + effects.append.length) return this.#crash(node);
    if (effects.deleteBefore !== undefined) {
      const logStartOffset = this.#logStartOffset(node);
      if (effects.deleteBefore !== logStartOffset) {
        throw new PropertyViolation('harness', `node ${node.id} deletes before ${effects.deleteBefore}, its snapshot ends at ${logStartOffset}`);
      }
    }
    for (const message of effects.messages) this.#send(node, message);
    if (effects.highWatermark !== undefined) this.#applyCommitted(node, effects.highWatermark);
    const vote = effects.persistState;
    if (this.#bugs.isVoteForgottenOnRestart === true && vote !== undefined && vote.votedFor !== null && vote.votedFor !== node.id
      && this.#isFaulty && this.#random() < 1 / 3) {
      this.#crash(node);
      this.#start(node);
    }
  }

  #applyCommitted(node: SimulatedNode, highWatermark: number): void {
    if (highWatermark < node.highWatermark) {
      throw new PropertyViolation('high watermark monotonic',
        `node ${node.id} high watermark went from ${node.highWatermark} to ${highWatermark}`);
    }
    node.highWatermark = highWatermark;
    if (highWatermark <= node.appliedOffset) return;
    const entries = node.core!.entries(node.appliedOffset, highWatermark);
    const appliedBefore = node.applied.length;
    for (const entry of entries) {
      const known = this.#committed[entry.offset];
      if (known === undefined) {
        this.#committed[entry.offset] = entry;
      } else if (known.epoch !== entry.epoch || known.data !== entry.data) {
        throw new PropertyViolation('state machine safety',
          `node ${node.id} commits offset ${entry.offset} as epoch ${entry.epoch} '${entry.data}', committed before as epoch ${known.epoch} '${known.data}'`);
      }
      if (entry.isControl !== true) node.applied.push(entry.data);
    }
    node.appliedOffset = highWatermark;
    this.#checkAppliedPrefix(node, appliedBefore);
  }

  /** State machine safety: every node's applied sequence is a prefix of the longest one seen. */
  #checkAppliedPrefix(node: SimulatedNode, fromIndex: number): void {
    const reference = this.#appliedReference;
    for (let index = fromIndex; index < node.applied.length; index++) {
      if (index === reference.length) {
        reference.push(node.applied[index]);
      } else if (reference[index] !== node.applied[index]) {
        throw new PropertyViolation('state machine safety',
          `node ${node.id} applied '${node.applied[index]}' at position ${index}, another node applied '${reference[index]}'`);
      }
    }
  }

  /**
   * Log matching by induction: an (offset, epoch) pair always carries the same data
   * and follows the same epoch, so two logs sharing it agree on it and on all before it.
   */
  #checkLogMatching(node: SimulatedNode, entry: LogEntry): void {
    const previousEpoch = this.#epochAt(node, entry.offset - 1);
    let byEpoch = this.#entryRecords[entry.offset];
    if (byEpoch === undefined) {
      byEpoch = new Map();
      this.#entryRecords[entry.offset] = byEpoch;
    }
    const record = byEpoch.get(entry.epoch);
    const isControl = entry.isControl === true;
    if (record === undefined) {
      byEpoch.set(entry.epoch, { data: entry.data, isControl, previousEpoch });
    } else if (record.data !== entry.data || record.isControl !== isControl || record.previousEpoch !== previousEpoch) {
      throw new PropertyViolation('log matching',
        `node ${node.id} holds offset ${entry.offset} epoch ${entry.epoch} as '${entry.data}' after epoch ${previousEpoch}; elsewhere it is '${record.data}' after epoch ${record.previousEpoch}`);
    }
  }

  /** Checks run after every call into a core. */
  #checkNode(node: SimulatedNode): void {
    if (node.core === null) return;
    const status = node.core.status();
    if (status.epoch > this.#epochMax) this.#epochMax = status.epoch;
    if (status.highWatermark < node.highWatermark) {
      throw new PropertyViolation('high watermark monotonic',
        `node ${node.id} reports ${status.highWatermark} after ${node.highWatermark}`);
    }
    if (status.logStartOffset !== this.#logStartOffset(node) || status.logEndOffset !== this.#logEndOffset(node)) {
      throw new PropertyViolation('durability',
        `node ${node.id} core log [${status.logStartOffset}, ${status.logEndOffset}) but its effects made [${this.#logStartOffset(node)}, ${this.#logEndOffset(node)}) durable`);
    }
    if (status.role !== 'leader') return;
    const known = this.#leaderOfEpoch.get(status.epoch);
    if (known === undefined) {
      this.#leaderOfEpoch.set(status.epoch, node.id);
      this.#checkLeaderCompleteness(node, status.epoch);
    } else if (known !== node.id) {
      throw new PropertyViolation('election safety', `nodes ${known} and ${node.id} both led epoch ${status.epoch}`);
    }
  }

  /** Leader completeness: a new leader's log holds every entry committed so far. */
  #checkLeaderCompleteness(node: SimulatedNode, epoch: number): void {
    const logStartOffset = this.#logStartOffset(node);
    const logEndOffset = this.#logEndOffset(node);
    for (let offset = 0; offset < this.#committed.length; offset++) {
      const committed = this.#committed[offset];
      if (committed === undefined) continue;
      if (offset >= logEndOffset) {
        throw new PropertyViolation('leader completeness',
          `leader ${node.id} of epoch ${epoch} ends at ${logEndOffset}, offset ${offset} is committed`);
      }
      if (offset < logStartOffset) continue;
      const entry = node.durable.entries[offset - logStartOffset];
      // The leader's own control entry was just appended past the committed ones, so the comparison is on committed offsets only.
      if (entry.epoch !== committed.epoch || entry.data !== committed.data) {
        throw new PropertyViolation('leader completeness',
          `leader ${node.id} of epoch ${epoch} has epoch ${entry.epoch} '${entry.data}' at committed offset ${offset} (epoch ${committed.epoch} '${committed.data}')`);
      }
    }
  }

  // ---- network ----

  #send(from: SimulatedNode, message: RaftMessage): void {
    if (this.#isFaulty && this.#random() < this.#lossRate) return;
    this.#enqueue(message);
    if (this.#isFaulty && this.#random() < this.#duplicateRate) this.#enqueue(message);
    if (this.#bugs.grantsEveryVoteNodeId === from.id && message.type === 'vote-response' && !message.isGranted) {
      this.#enqueue({ ...message, isGranted: true });
    }
  }

  #enqueue(message: RaftMessage): void {
    let delayMs = 1 + Math.floor(this.#random() * this.#delayMaxMs);
    if (this.#isFaulty && this.#random() < this.#longDelayRate) delayMs += Math.floor(this.#random() * 30 * this.#delayMaxMs);
    this.#network.push({ deliverAtMs: this.nowMs + delayMs, sequence: this.#sequence++, message });
  }

  #deliverDue(): void {
    if (this.#network.length === 0) return;
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const inFlight of this.#network) (inFlight.deliverAtMs <= this.nowMs ? due : later).push(inFlight);
    if (due.length === 0) return;
    this.#network = later;
    due.sort(byDeliveryTime);
    for (const inFlight of due) {
      const message = inFlight.message;
      const to = this.#nodes[message.to - 1];
      const from = this.#nodes[message.from - 1];
      if (to === undefined || to.core === null) continue;
      // A stalled process does not read its socket: the message waits (in order) until it resumes.
      if (this.#isStalled(to)) {
        later.push(inFlight);
        continue;
      }
      if (this.#isFaulty && from !== undefined && from.partitionGroup !== to.partitionGroup) continue;
      this.#trace?.(`${this.nowMs} deliver ${JSON.stringify(message)}`);
      const effects = to.core.receive(message, this.nowMs);
      this.#applyEffects(to, effects);
      this.#checkNode(to);
    }
  }

  // ---- the run ----

  step(): void {
    this.nowMs += stepMs;
    if (this.#isFaulty) this.#injectFaults();
    const resumed = this.#resumeStalled();
    this.#deliverDue();
    for (const node of this.#nodes) {
      if (node.core === null || this.#isStalled(node) || resumed.includes(node)) continue;
      this.#applyEffects(node, node.core.tick(this.nowMs));
      this.#checkNode(node);
    }
    if (this.#random() < 0.1) {
      // A client tries any node and follows NotLeaderError's leader id once, as Runnel's client does.
      const redirect = this.#propose(this.#nodes[Math.floor(this.#random() * this.#nodes.length)]).redirectTo;
      if (redirect !== null) this.#propose(this.#nodes[redirect - 1]);
    }
    if (this.#random() < 0.01) this.#snapshot(this.#nodes[Math.floor(this.#random() * this.#nodes.length)]);
  }

  #injectFaults(): void {
    const node = this.#nodes[Math.floor(this.#random() * this.#nodes.length)];
    if (this.#isFollowerStallsOnly) {
      // One follower at a time, once a leader leads: the leader's epoch should then never change.
      const isLeaderKnown = this.#nodes.some((each) => each.core?.status().role === 'leader');
      if (this.#random() < this.#stallRate && isLeaderKnown && node.core!.status().role === 'follower'
        && !this.#nodes.some((each) => this.#isStalled(each))) {
        this.#stall(node);
      }
      return;
    }
    const roll = this.#random();
    if (roll < this.#crashRate) {
      if (node.core !== null) {
        this.#crash(node);
      } else {
        this.#start(node);
      }
    } else if (roll < this.#crashRate * 4 && node.core === null) {
      // Restarts are likelier than crashes, so nodes spend most of their time up.
      this.#start(node);
    } else if (this.#random() < this.#partitionRate) {
      const kind = this.#random();
      if (kind < 0.4) {
        for (const each of this.#nodes) each.partitionGroup = 0;
      } else if (kind < 0.7) {
        // One node cut off from the rest (often the leader: check quorum's case).
        for (const each of this.#nodes) each.partitionGroup = each === node ? 1 : 0;
      } else {
        for (const each of this.#nodes) each.partitionGroup = this.#random() < 0.5 ? 0 : 1;
      }
    } else if (this.#random() < this.#stallRate && node.core !== null && !this.#isStalled(node)) {
      this.#stall(node);
    }
  }

  #propose(node: SimulatedNode): { data: string[]; redirectTo: number | null } {
    if (node.core === null || this.#isStalled(node)) return { data: [], redirectTo: null };
    const count = 1 + Math.floor(this.#random() * 3);
    const data: string[] = [];
    for (let index = 0; index < count; index++) data.push(`n${node.id}p${this.#proposalCount++}`);
    const isLeaderReady = node.core.isLeaderReady;
    try {
      const { effects, offsets } = node.core.propose(data, this.nowMs);
      if (offsets.length !== count) throw new PropertyViolation('propose', `node ${node.id} returned ${offsets.length} offsets for ${count} entries`);
      this.#applyEffects(node, effects);
      this.#checkNode(node);
      return { data, redirectTo: null };
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error;
      if (isLeaderReady) throw new PropertyViolation('propose', `ready leader ${node.id} threw NotLeaderError`);
      return { data: [], redirectTo: error.leaderId === node.id ? null : error.leaderId };
    }
  }

  #snapshot(node: SimulatedNode): void {
    if (node.core === null || this.#isStalled(node)) return;
    const endOffset = node.appliedOffset;
    if (endOffset <= this.#logStartOffset(node)) return;
    const snapshot: Snapshot = {
      id: { endOffset, epoch: this.#epochAt(node, endOffset - 1) },
      data: JSON.stringify(node.applied),
    };
    // The runtime makes the snapshot durable (its own file) before telling the core; the
    // entries it covers go when the core answers deleteBefore (checked in #applyEffects).
    const logStartOffset = this.#logStartOffset(node);
    node.durable.snapshot = snapshot;
    node.durable.entries.splice(0, endOffset - logStartOffset);
    this.#applyEffects(node, node.core.snapshotTaken(snapshot));
    this.#checkNode(node);
  }

  /** Heals everything and requires a final proposal to commit on every node within livenessBoundMs. */
  checkLiveness(): void {
    this.#isFaulty = false;
    for (const node of this.#nodes) {
      node.partitionGroup = 0;
      node.stalledUntilMs = 0;
      if (node.core === null) this.#start(node);
    }
    const startMs = this.nowMs;
    let finalData: string | null = null;
    let finalEpoch = -1;
    while (this.nowMs - startMs < livenessBoundMs) {
      this.step();
      for (const node of this.#nodes) {
        const core = node.core!;
        const epoch = core.status().epoch;
        // A leader that lost its epoch may lose its uncommitted final entry too: propose again to each new ready leader.
        if (core.isLeaderReady && epoch !== finalEpoch) {
          finalEpoch = epoch;
          finalData = this.#propose(node).data[0] ?? null;
        }
      }
      if (finalData !== null && this.#nodes.every(hasApplied, finalData)) return;
    }
    throw new PropertyViolation('liveness',
      `no final proposal committed on every node within ${livenessBoundMs} ms after healing (roles ${this.#nodes.map(describeNode).join(', ')})`);
  }
}

function hasApplied(this: string, node: SimulatedNode): boolean {
  return node.applied.includes(this);
}

function describeNode(node: SimulatedNode): string {
  const status = node.core!.status();
  return `${node.id}:${status.role}@${status.epoch} hw ${status.highWatermark} leo ${status.logEndOffset}`;
}

function byDeliveryTime(a: InFlight, b: InFlight): number {
  return a.deliverAtMs - b.deliverAtMs || a.sequence - b.sequence;
}

export function runSimulation(options: SimulationOptions): SimulationResult {
  const simulation = new Simulation(options.seed, options.faults ?? 'all', options.bugs ?? {}, options.trace ?? null);
  let failure: string | null = null;
  try {
    for (let step = 0; step < options.steps; step++) simulation.step();
    simulation.checkLiveness();
  } catch (error) {
    if (error instanceof PropertyViolation) {
      failure = `seed ${options.seed}: ${error.message}`;
    } else if (error instanceof InvariantError) {
      failure = `seed ${options.seed}: core invariant: ${error.message}`;
    } else {
      throw error;
    }
  }
  return {
    seed: options.seed,
    failure,
    voterCount: simulation.voterCount,
    committedCount: simulation.committedCount,
    leaderEpochCount: simulation.leaderEpochCount,
    epochMax: simulation.epochMax,
    stallCount: simulation.stallCount,
    longStallCount: simulation.longStallCount,
    virtualMs: simulation.nowMs,
  };
}
