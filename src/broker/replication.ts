/**
 * Replication as the broker sees it: who may serve a partition, what happens after an
 * append, and what acks=all waits for. A single node is the whole ISR of every
 * partition, so its high watermark follows the log end at once; in a cluster the
 * replica manager (cluster/replication) moves it as followers fetch.
 */
import { RunnelError } from '../errors.js';
import type { Acks, RecordOffset } from './produce-request.js';
import type { ProduceRecord } from './record-input.js';
import type { ValueFormat } from '../record/layout.js';
import type { PartitionState } from './topic-state.js';

/** Records for partitions another node leads, each naming its partition. */
export interface ForwardedProduce {
  topic: string;
  records: ProduceRecord[];
  keyFormat: ValueFormat;
  valueFormat: ValueFormat;
  acks: Acks;
  /** The request's Idempotency-Key: the leader stamps it into the batches, so a retry through any node appends nothing twice. */
  idempotencyKey?: string;
  /** A request to one partition (its path): the partition, and an idempotent producer's fields when it sent them (instead of a key). */
  partition?: number;
  producer?: { producerId: number; producerEpoch: number; baseSequence: number };
}

/**
 * Where a read of a partition is served (KIP-392, fetch from follower): here, or by one
 * of `nodeIds` (in-sync replicas, the leader first) to which the request is handed.
 */
export type ReadRoute = { kind: 'local' } | { kind: 'remote'; nodeIds: number[] };

export const LOCAL_READ: ReadRoute = { kind: 'local' };

/**
 * A read of a partition by another node that cannot serve it from its own log: a group
 * member's poll on a coordinator that holds no in-sync replica of an assigned partition.
 */
export interface RemoteReadRequest {
  topic: string;
  partition: number;
  /**
   * Where to read from; null: from `reset`. With `earliest` or `latest`, an offset below
   * the log start or (on a serving leader) past the high watermark is reset too, as a
   * consumer's auto.offset.reset does; with `none` (a stream going on where it was),
   * one below the log start is 416 OFFSET_OUT_OF_RANGE and one past the end waits.
   */
  offset: number | null;
  reset: 'earliest' | 'latest' | 'none';
  maxRecords: number;
  maxBytes: number;
  /** How long the serving node waits for a record at the start offset. */
  waitMs: number;
}

/** A partition's range at another node, and the first offset at or after a time when one was asked (null: none). */
export interface RemoteOffsets {
  logStartOffset: number;
  highWatermark: number;
  offset?: number | null;
}

export interface RemoteReadResult {
  /** The offset the read started at (the request's, or where `reset` put it). */
  startOffset: number;
  /** Whole batches from the one holding startOffset, or null when nothing is there yet. */
  batches: Buffer | null;
  highWatermark: number;
  logStartOffset: number;
}

export interface Replication {
  readonly nodeId: number;
  /** False on a single node: every partition is led here, the leadership checks are skipped. */
  readonly isClustered: boolean;
  /** The URL a node advertises to clients (null when unknown). */
  nodeUrl(nodeId: number): string | null;
  /**
   * Whether this node serves a read of `state` from its own log: when it leads the
   * partition, or is a replica in its ISR that heard from the leader within
   * --replica-read-lag-max-ms, or holds a replica and the request was already handed
   * to it by another node. Otherwise the in-sync replicas to hand the read to; 503
   * NOT_LEADER when there is none.
   */
  readRoute(state: PartitionState, isHandedOver: boolean): ReadRoute;
  /** The highest high watermark this node knows the partition's leader has (its own when it leads it). */
  leaderHighWatermark(state: PartitionState): number;
  /** Right after a leader's append. */
  onAppend(state: PartitionState): void;
  /** acks=all: resolves once the high watermark passed lastOffset (the ISR has the records). */
  waitForHighWatermark(state: PartitionState, lastOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<void>;
  /**
   * Sends records to the node that leads their partitions; resolves with their offsets in
   * order. A leader that does not answer (connection failed, timed out, aborted) is a
   * LeaderUnreachableError.
   */
  forwardProduce(leaderId: number, request: ForwardedProduce, timeoutMs: number, signal?: AbortSignal): Promise<RecordOffset[]>;
  /** Reads committed batches of a partition from another node (it answers with its own coded errors). */
  readRemote(nodeId: number, request: RemoteReadRequest, timeoutMs: number, signal?: AbortSignal): Promise<RemoteReadResult>;
  /** A partition's range at another node that holds a replica (Kafka's ListOffsets), with the offset for a time when given. */
  remoteOffsets(nodeId: number, request: { topic: string; partition: number; timestampMs?: number }, timeoutMs: number): Promise<RemoteOffsets>;
}

export class SingleNodeReplication implements Replication {
  readonly isClustered = false;

  constructor(readonly nodeId: number, private readonly url: () => string | null = () => null) {}

  nodeUrl(): string | null {
    return this.url();
  }

  readRoute(): ReadRoute {
    return LOCAL_READ;
  }

  leaderHighWatermark(state: PartitionState): number {
    return state.log.highWatermark;
  }

  onAppend(state: PartitionState): void {
    state.log.updateHighWatermark(state.log.logEndOffset);
    state.notifier.notify();
  }

  async waitForHighWatermark(): Promise<void> {
    // The leader is the whole ISR: an appended record is committed.
  }

  async forwardProduce(): Promise<RecordOffset[]> {
    throw new Error('a single node leads every partition: nothing is forwarded');
  }

  async readRemote(): Promise<RemoteReadResult> {
    throw new Error('a single node leads every partition: nothing is read remotely');
  }

  async remoteOffsets(): Promise<RemoteOffsets> {
    throw new Error('a single node leads every partition: nothing is read remotely');
  }
}

/** The partition's in-sync replicas other than `nodeId`, its leader first: where a read goes when it is not served here. */
export function inSyncReplicasBesides(state: PartitionState, nodeId: number): number[] {
  return [...new Set([state.leader, ...state.isr])].filter((id) => id >= 0 && id !== nodeId);
}

/**
 * KIP-392's choice for a cluster node (Replication.readRoute): `contact` is what this
 * node last heard from the partition's leader as a follower (undefined: nothing yet).
 */
export function chooseReadRoute(
  replication: Pick<Replication, 'nodeId' | 'nodeUrl'>, state: PartitionState, isHandedOver: boolean,
  contact: { ageMs: number } | undefined, readLagMaxMs: number,
): ReadRoute {
  const { nodeId } = replication;
  if (state.leader === nodeId) return LOCAL_READ;
  const isReplica = state.replicas.includes(nodeId);
  // Handed over by another node: served here when there is a replica (never handed on again).
  if (isReplica && isHandedOver) return LOCAL_READ;
  if (isReplica && state.isr.includes(nodeId) && contact !== undefined && contact.ageMs <= readLagMaxMs) return LOCAL_READ;
  const nodeIds = inSyncReplicasBesides(state, nodeId);
  if (!isHandedOver && nodeIds.length > 0) return { kind: 'remote', nodeIds };
  if (state.leader < 0) throw notLeaderError(replication, state);
  throw notLeaderError(replication, state, `node ${nodeId} cannot serve partition ${state.partition} of topic '${state.topic}' ` +
    `(${isReplica ? 'its replica is not in sync' : 'it holds no replica'}); node ${state.leader} leads it`);
}

/** 503 NOT_LEADER naming the leader (Kafka's NOT_LEADER_OR_FOLLOWER), unless this node leads the partition. */
export function requireLeader(replication: Replication, state: PartitionState): void {
  if (!replication.isClustered || state.leader === replication.nodeId) return;
  throw notLeaderError(replication, state);
}

/** 503 NOT_LEADER for `state`: the leader's id, advertised URL and epoch (nulls when no leader is known). */
export function notLeaderError(replication: Pick<Replication, 'nodeId' | 'nodeUrl'>, state: PartitionState, why?: string): RunnelError {
  const leaderId = state.leader < 0 ? null : state.leader;
  const leaderUrl = leaderId === null ? null : replication.nodeUrl(leaderId);
  const leaderEpoch = leaderId === null ? null : state.leaderEpoch;
  return new RunnelError('NOT_LEADER', why ?? (leaderId === null
    ? `partition ${state.partition} of topic '${state.topic}' has no leader right now (no in-sync replica is alive); retry shortly`
    : `node ${replication.nodeId} does not lead partition ${state.partition} of topic '${state.topic}'; node ${leaderId} does (${leaderUrl ?? 'URL unknown'})`),
  { leaderId, leaderUrl, leaderEpoch });
}

/** NOT_LEADER for a leader this node could not reach (no answer at all): the records may or may not be written there. */
export class LeaderUnreachableError extends RunnelError {
  constructor(leaderId: number, leaderUrl: string | null, why: string) {
    super('NOT_LEADER', `node ${leaderId}, the leader of some of these partitions, did not answer (${why})`, { leaderId, leaderUrl, leaderEpoch: null });
  }
}
