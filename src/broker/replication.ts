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
}

export interface Replication {
  readonly nodeId: number;
  /** False on a single node: every partition is led here, the leadership checks are skipped. */
  readonly isClustered: boolean;
  /** The URL a node advertises to clients (null when unknown). */
  nodeUrl(nodeId: number): string | null;
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
}

export class SingleNodeReplication implements Replication {
  readonly isClustered = false;

  constructor(readonly nodeId: number, private readonly url: () => string | null = () => null) {}

  nodeUrl(): string | null {
    return this.url();
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
}

/** 503 NOT_LEADER naming the leader (Kafka's NOT_LEADER_OR_FOLLOWER), unless this node leads the partition. */
export function requireLeader(replication: Replication, state: PartitionState): void {
  if (!replication.isClustered || state.leader === replication.nodeId) return;
  const leaderId = state.leader < 0 ? null : state.leader;
  const leaderUrl = leaderId === null ? null : replication.nodeUrl(leaderId);
  throw new RunnelError('NOT_LEADER', leaderId === null
    ? `partition ${state.partition} of topic '${state.topic}' has no leader right now (no in-sync replica is alive); retry shortly`
    : `node ${replication.nodeId} does not lead partition ${state.partition} of topic '${state.topic}'; node ${leaderId} does (${leaderUrl ?? 'URL unknown'})`,
  { leaderId, leaderUrl });
}

/** NOT_LEADER for a leader this node could not reach (no answer at all): the records may or may not be written there. */
export class LeaderUnreachableError extends RunnelError {
  constructor(leaderId: number, leaderUrl: string | null, why: string) {
    super('NOT_LEADER', `node ${leaderId}, the leader of some of these partitions, did not answer (${why})`, { leaderId, leaderUrl });
  }
}
