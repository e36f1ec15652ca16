/**
 * Fetch: read batches of one partition from an offset, up to the high watermark
 * (consumers never see records that are not committed). With waitMs, an empty read
 * waits for the next append (AppendNotifier) instead of answering empty at once.
 *
 * The result carries raw batch bytes: the HTTP layer turns them into JSON without an
 * intermediate object per record.
 */
import { RunnelError, offsetOutOfRange } from '../errors.js';
import { limits } from '../limits.js';
import type { TopicManager } from './topic-manager.js';
import type { PartitionState } from './topic-state.js';
import { notLeaderError, type ReadRoute, type RemoteReadRequest, type RemoteReadResult, type Replication } from './replication.js';

export type OffsetSpec = number | 'earliest' | 'latest';

export interface FetchRequest {
  topic: string;
  partition: number;
  offset: OffsetSpec;
  maxRecords?: number;
  maxBytes?: number;
  waitMs?: number;
  signal?: AbortSignal;
}

export interface FetchResult {
  partition: number;
  /** The first offset wanted; batches may begin before it (whole batches are read). */
  startOffset: number;
  /** Whole batches, or null when nothing is there. */
  batches: Buffer | null;
  maxRecords: number;
  highWatermark: number;
  logStartOffset: number;
}

/** Where a read starts: the partition, with a replica here, and an offset within its range. */
export interface FetchPosition {
  state: PartitionState;
  startOffset: number;
}

export class Fetcher {
  constructor(
    private readonly topics: Pick<TopicManager, 'partition'>,
    private readonly replication: Replication,
  ) {}

  /**
   * KIP-392: where a read of `offset` is served — here (the leader, or an in-sync
   * follower: Replication.readRoute) or by the replicas named. An offset past both this
   * replica's high watermark and the leader's as last learnt goes to the leader, which
   * alone can say whether it is in range. Checked before any offset lookup or wait.
   */
  route(topic: string, partition: number, offset: OffsetSpec, isHandedOver: boolean): ReadRoute {
    const state = this.topics.partition(topic, partition);
    const route = this.replication.readRoute(state, isHandedOver);
    if (route.kind === 'remote' || isHandedOver || typeof offset !== 'number') return route;
    if (state.leader < 0 || state.leader === this.replication.nodeId) return route;
    if (offset <= Math.max(state.log.highWatermark, this.replication.leaderHighWatermark(state))) return route;
    return { kind: 'remote', nodeIds: [state.leader] };
  }

  /**
   * Checks a read in Kafka's order: the partition exists and has a replica here (route()
   * decided that this node serves it), then the offset is within [logStartOffset, the
   * high watermark] — on a follower, the leader's high watermark as last learnt: a read
   * past its own waits for the records. Streams start here and keep their own position after.
   */
  position(topic: string, partition: number, offset: OffsetSpec): FetchPosition {
    const state = this.topics.partition(topic, partition);
    this.requireReplica(state);
    return { state, startOffset: resolveOffset(state, offset, this.replication.leaderHighWatermark(state)) };
  }

  /** One read: position(), then up to maxRecords/maxBytes from there, waiting up to waitMs for a record. */
  async fetch(request: FetchRequest): Promise<FetchResult> {
    const { state, startOffset } = this.position(request.topic, request.partition, request.offset);
    return this.fetchFrom(state, startOffset, request);
  }

  /** Reads from a position; used by fetch and by streams, which keep their own position. */
  async fetchFrom(state: PartitionState, startOffset: number, request: Pick<FetchRequest, 'maxRecords' | 'maxBytes' | 'waitMs' | 'signal'>): Promise<FetchResult> {
    const maxRecords = Math.min(request.maxRecords ?? limits.fetchRecordCountDefault, limits.fetchRecordCountMax);
    const maxBytes = Math.min(request.maxBytes ?? limits.fetchBytesDefault, limits.fetchBytesMax);
    const waitMs = Math.min(request.waitMs ?? 0, limits.fetchWaitMsMax);
    const { log } = state;
    // Wait until the record at startOffset is committed here: on a follower it may be
    // more than one high watermark move away. A wake that moved nothing (the node is
    // stopping, the topic was deleted) ends the wait.
    const deadlineMs = Date.now() + waitMs;
    while (startOffset >= log.highWatermark) {
      const highWatermark = log.highWatermark;
      if (!await state.notifier.wait(deadlineMs - Date.now(), request.signal) || log.highWatermark === highWatermark) break;
    }
    // The topic may have been deleted (or re-created) while this reader waited.
    if (this.topics.partition(state.topic, state.partition) !== state) {
      throw new RunnelError('TOPIC_NOT_FOUND', `topic '${state.topic}' was deleted`);
    }
    // The replica may have moved away while this reader waited (streams call this in a loop).
    this.requireReplica(state);
    if (startOffset < log.logStartOffset) {
      // Retention moved past the reader while it waited.
      throw offsetOutOfRange(startOffset, log.logStartOffset, log.highWatermark);
    }
    const batches = startOffset < log.highWatermark ? log.read(startOffset, maxBytes, log.highWatermark, maxRecords) : null;
    return {
      partition: state.partition,
      startOffset,
      batches,
      maxRecords,
      highWatermark: log.highWatermark,
      logStartOffset: log.logStartOffset,
    };
  }

  /**
   * Another node's read (RemoteReadRequest), served as a read handed over: only with a
   * replica here (else 503 NOT_LEADER), up to this replica's high watermark; where it
   * starts follows the request's `reset`.
   */
  async readHandedOver(request: RemoteReadRequest, signal?: AbortSignal): Promise<RemoteReadResult> {
    const state = this.topics.partition(request.topic, request.partition);
    this.requireReplica(state);
    const { log } = state;
    let startOffset = request.offset;
    if (request.reset === 'none') {
      if (startOffset === null) throw new RunnelError('INVALID_OFFSET', 'a read without reset needs an offset');
      if (startOffset < log.logStartOffset) throw offsetOutOfRange(startOffset, log.logStartOffset, log.highWatermark);
      return this.readFrom(state, startOffset, request, signal);
    }
    const isPastEnd = startOffset !== null && startOffset > log.highWatermark && state.leader === this.replication.nodeId;
    if (startOffset === null || startOffset < log.logStartOffset || isPastEnd) {
      startOffset = request.reset === 'earliest' ? log.logStartOffset : log.highWatermark;
    }
    return this.readFrom(state, startOffset, request, signal);
  }

  private async readFrom(state: PartitionState, startOffset: number, request: RemoteReadRequest, signal: AbortSignal | undefined): Promise<RemoteReadResult> {
    const result = await this.fetchFrom(state, startOffset, { maxRecords: request.maxRecords, maxBytes: request.maxBytes, waitMs: request.waitMs, signal });
    return { startOffset, batches: result.batches, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset };
  }

  /** Kafka's ListOffsets: earliest and latest, or the first offset at or after a time. */
  offsets(topic: string, partition: number, timestampMs?: number): { logStartOffset: number; highWatermark: number; logEndOffset: number; offset?: number | null; timestamp?: number | null } {
    const state = this.topics.partition(topic, partition);
    this.requireReplica(state);
    const { log } = state;
    const base = { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark, logEndOffset: log.logEndOffset };
    if (timestampMs === undefined) return base;
    const found = log.offsetForTimestamp(timestampMs);
    return { ...base, offset: found?.offset ?? null, timestamp: found?.timestampMs ?? null };
  }

  /** 503 NOT_LEADER unless this node holds a replica of the partition (every node keeps a log, only replicas fill it). */
  private requireReplica(state: PartitionState): void {
    const { replication } = this;
    if (!replication.isClustered || state.leader === replication.nodeId || state.replicas.includes(replication.nodeId)) return;
    throw notLeaderError(replication, state, `node ${replication.nodeId} holds no replica of partition ${state.partition} of topic '${state.topic}'`);
  }
}

/** Resolves 'earliest'/'latest' (the leader's high watermark as known here) and checks [logStartOffset, that high watermark]. */
function resolveOffset(state: PartitionState, offset: OffsetSpec, leaderHighWatermark: number): number {
  const { log } = state;
  if (offset === 'earliest') return log.logStartOffset;
  // On a follower, the leader's end as last learnt (its own trails it by a fetch): a
  // reader from `latest` starts where the leader's readers do, waiting here if need be.
  if (offset === 'latest') return Math.max(log.highWatermark, leaderHighWatermark);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RunnelError('INVALID_OFFSET', `offset must be a non-negative integer, 'earliest' or 'latest'`);
  }
  if (offset < log.logStartOffset || offset > Math.max(log.highWatermark, leaderHighWatermark)) {
    throw offsetOutOfRange(offset, log.logStartOffset, log.highWatermark);
  }
  return offset;
}
