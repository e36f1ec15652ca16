/**
 * The metadata quorum's Raft, KRaft's pull style (KIP-595): the messages voters
 * exchange, the entries of the replicated log, and the effects one step of the core
 * asks its runtime to carry out.
 *
 * The core (raft-core.ts) does no I/O and reads no clock: every input (a tick, a
 * message, a proposal) comes with `nowMs`, and every output is an effect. The runtime
 * (cluster/quorum/) makes the effects durable in this order — persisted state, then
 * truncation, then snapshot, then appended entries — before it sends any message, as
 * Raft requires (a vote or a fetch offset is never announced before it is on disk).
 *
 * Offsets are Kafka's: an entry's offset is its position in the log from 0; the log
 * end offset is the next offset to be written; the high watermark is the first offset
 * not yet committed (entries below it are committed and may be applied).
 * Epochs are Raft's terms (KRaft calls them epochs): the leader of epoch E stamps
 * every entry it appends with E.
 */

export interface LogEntry {
  offset: number;
  epoch: number;
  /** Opaque to Raft: the state machine's payload (JSON text of metadata records). */
  data: string;
  /**
   * A control entry the new leader of an epoch appends first (KRaft's LeaderChangeMessage);
   * it lets the leader commit what earlier epochs wrote. The state machine skips it.
   */
  isControl?: boolean;
}

/** A snapshot covers every entry below endOffset; `epoch` is the epoch of entry endOffset - 1. */
export interface SnapshotId {
  endOffset: number;
  epoch: number;
}

export interface Snapshot {
  id: SnapshotId;
  /** Opaque to Raft: the state machine's state after applying every entry below id.endOffset. */
  data: string;
}

interface Envelope {
  from: number;
  to: number;
  /** The sender's current epoch. */
  epoch: number;
}

/**
 * A candidate asks for a vote (KIP-595 Vote). lastEpoch/logEndOffset: the candidate's log.
 *
 * With isPreVote (KIP-996 pre-vote) it only asks "would you vote for me in `epoch`?":
 * `epoch` is then the sender's epoch + 1, an epoch it has not entered. Neither side
 * changes state for it: the sender keeps its epoch and vote, and the voter neither
 * adopts that epoch nor records a vote. Only a node granted a majority of pre-votes
 * raises its epoch and asks for real votes, so a node that cannot win (cut off, or
 * stalled while the others still hear from their leader) no longer raises the epoch
 * and deposes a healthy leader.
 */
export interface VoteRequest extends Envelope {
  type: 'vote-request';
  lastEpoch: number;
  logEndOffset: number;
  /** KIP-996: a pre-vote (absent: a real vote, as before pre-vote existed). */
  isPreVote?: boolean;
  /**
   * Pre-vote only: names the sender's pre-vote round; the voter echoes it so that an
   * answer to an older round (delayed or duplicated by the network) is not counted.
   * Opaque to the voter.
   */
  preVoteRound?: number;
}

export interface VoteResponse extends Envelope {
  type: 'vote-response';
  isGranted: boolean;
  /** The leader of `epoch`, when the voter knows one (the candidate then follows it). */
  leaderId: number | null;
  /**
   * KIP-996: the answer to a pre-vote. Granted when the candidate's log is at least as
   * up to date as the voter's and the voter has not heard from a leader within
   * electionTimeoutMs (it is not the leader, and no fetch of its own was answered).
   * `epoch` is the voter's own epoch, unchanged by the request.
   */
  isPreVote?: boolean;
  /** Pre-vote only: the request's preVoteRound, echoed. */
  preVoteRound?: number;
}

/** A new leader announces itself to every voter (KIP-595 BeginQuorumEpoch). */
export interface BeginEpochRequest extends Envelope {
  type: 'begin-epoch';
  leaderId: number;
}

/**
 * The answer of a voter already in a later epoch to a begin-epoch (KIP-595's
 * BeginQuorumEpoch response; etcd answers a stale heartbeat alike): its `epoch` makes
 * the leader step down to it, as any message of a newer epoch does. Pre-vote (KIP-996)
 * needs it: a voter that entered an epoch the leader never saw (it answered a real vote
 * request of an election that failed) can neither go back nor win a pre-vote while the
 * others hear from the leader, and its own messages (pre-votes) make nobody step down.
 * Only sent in that case; a node that does not know this type ignores it.
 */
export interface BeginEpochResponse extends Envelope {
  type: 'begin-epoch-response';
  /** The leader of `epoch`, when the voter knows one. */
  leaderId: number | null;
}

/**
 * A follower pulls from the leader: "my log ends at fetchOffset, and its last entry has
 * epoch lastFetchedEpoch". The leader takes fetchOffset as the follower's log end offset
 * (that is how it learns what is replicated) and answers with the entries from there,
 * or with divergingEpoch when the follower's log went another way (the follower
 * truncates to divergingEpoch.endOffset and fetches again), or with snapshotId when
 * fetchOffset lies below the leader's log start (the follower fetches the snapshot).
 * A leader may hold a fetch with nothing to send for up to maxWaitMs (long poll).
 */
export interface FetchRequest extends Envelope {
  type: 'fetch-request';
  fetchOffset: number;
  lastFetchedEpoch: number;
  maxWaitMs: number;
}

export interface FetchResponse extends Envelope {
  type: 'fetch-response';
  /** Who leads `epoch`, as the responder knows it (null: it does not know). */
  leaderId: number | null;
  /** 'not-leader': the responder does not lead `epoch`; 'stale-epoch': the request's epoch is older. */
  error?: 'not-leader' | 'stale-epoch';
  /** The fetchOffset this answers (lets the follower drop answers to older fetches). */
  fetchOffset: number;
  /**
   * The lastFetchedEpoch this answers, echoed by the leader. Two fetches of one epoch can
   * share a fetchOffset yet differ in lastFetchedEpoch (before and after a truncation);
   * without the echo a duplicated divergingEpoch answer could make a follower truncate
   * entries it has already reported to the leader as replicated. Optional: added after
   * the first version of this file; a follower checks it when present.
   */
  lastFetchedEpoch?: number;
  entries: LogEntry[];
  highWatermark: number;
  divergingEpoch?: { epoch: number; endOffset: number };
  snapshotId?: SnapshotId;
}

export interface FetchSnapshotRequest extends Envelope {
  type: 'fetch-snapshot-request';
  snapshotId: SnapshotId;
}

export interface FetchSnapshotResponse extends Envelope {
  type: 'fetch-snapshot-response';
  leaderId: number | null;
  /** Absent when the leader no longer has that snapshot (the follower fetches again). */
  snapshot?: Snapshot;
}

export type RaftMessage =
  | VoteRequest | VoteResponse
  | BeginEpochRequest | BeginEpochResponse
  | FetchRequest | FetchResponse
  | FetchSnapshotRequest | FetchSnapshotResponse;

/** What a node keeps across restarts; the runtime loads it and hands it to the core. */
export interface PersistedState {
  epoch: number;
  votedFor: number | null;
}

export interface RaftEffects {
  /** Make durable before anything else (epoch and vote). */
  persistState?: PersistedState;
  /** Remove every entry with offset >= truncateTo (a follower whose log diverged). */
  truncateTo?: number;
  /** Replace the log and the state machine with this snapshot (a follower far behind). */
  installSnapshot?: Snapshot;
  /** Append these entries, in order, after the truncation. */
  append: LogEntry[];
  /** The runtime may delete entries below this offset (a snapshot covers them). */
  deleteBefore?: number;
  /** Send once the above is durable. Delivery is best effort: loss, delay, duplication, reordering are all fine. */
  messages: RaftMessage[];
  /** The high watermark moved forward to this offset: entries below it are committed. */
  highWatermark?: number;
}

export type RaftRole = 'unattached' | 'follower' | 'candidate' | 'leader' | 'resigned';

export interface RaftOptions {
  nodeId: number;
  /** Every voter's id, this node's included (a static quorum: KIP-595's voters set). */
  voters: readonly number[];
  /**
   * A follower that hears nothing from the leader for this long (randomised up to 2x)
   * asks for pre-votes, then stands for election if a majority grants; a voter that
   * heard from its leader within this long refuses pre-votes (KIP-996).
   */
  electionTimeoutMs: number;
  /** A leader that has not been fetched from by a majority for this long resigns (KIP-595 check quorum). */
  fetchTimeoutMs: number;
  /** How long a follower's fetch may wait at the leader for new entries. */
  fetchMaxWaitMs: number;
  /** Most entries in one fetch response. */
  fetchEntriesMax: number;
  /** Uniform in [0, 1): the only randomness (election jitter); seeded in simulations. */
  random: () => number;
}

/** What the core starts from: the persisted state, the log after the snapshot, the snapshot. */
export interface RaftStartState {
  persisted: PersistedState;
  /** Entries from snapshot.id.endOffset (or 0) to the log end, contiguous. */
  entries: LogEntry[];
  snapshot: Snapshot | null;
}

export interface RaftStatus {
  nodeId: number;
  role: RaftRole;
  epoch: number;
  leaderId: number | null;
  votedFor: number | null;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  /** Leader only: each voter's log end offset as last fetched (the leader's own included). */
  voterEndOffsets?: Record<number, number>;
}

/** Thrown by propose() on a node that is not the leader (or has not yet committed its epoch's first entry). */
export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
  constructor(readonly leaderId: number | null, readonly epoch: number) {
    super(leaderId === null ? 'no leader is known for the metadata quorum' : `node ${leaderId} leads the metadata quorum`);
  }
}
