/**
 * FollowerFetcher: the fetch loop this node runs against one leader node (Kafka's
 * ReplicaFetcherThread), for every partition it follows from that leader, in one
 * request at a time.
 *
 * - Each request names, per partition, the follower's logEndOffset (fetchOffset), the
 *   epoch of its last batch (lastFetchedEpoch, KIP-320) and the leader epoch it knows.
 *   The leader long-polls it (maxWaitMs) until one of them has news.
 * - Bytes are appended byte for byte (PartitionLog.appendAsFollower), then the high
 *   watermark follows the leader's, capped at the local log end. A compacted leader's
 *   log has offset gaps: its batches are appended as they are, gaps included, and the
 *   next fetch asks from after the last batch (each replica then cleans on its own).
 * - divergingEpoch: truncate to min(the leader's end of that epoch, this log's end of it)
 *   and fetch again (KIP-279/320): no suffix the leader does not have survives.
 * - FENCED_LEADER_EPOCH: this node's metadata is behind; the partition waits for the new
 *   epoch (follow() again). Other errors retry the partition after a pause.
 * - When the set of partitions changes, the request in flight is aborted and the loop
 *   restarts at once. Network failures back off (limits.replicaFetchBackoffMsMin .. Max). close() aborts all.
 *
 * An answer is applied only to partitions that are still followed in the same epoch as
 * when the request was sent (the same FollowedPartition object): a leadership change
 * meanwhile makes the bytes meaningless.
 */
import { request, type Dispatcher } from 'undici';
import { limits } from '../../limits.js';
import { partitionKey, type PartitionKey } from '../../util/partition-key.js';
import type { ReplicaPartition } from './replica-partition.js';
import { CLUSTER_SECRET_HEADER, decodeFetchResponse, REPLICA_FETCH_PATH, type DecodedFetchResponse, type ReplicaFetchRequest } from './wire.js';

/** Most bytes of an error answer's body kept for the message. */
const ERROR_BODY_BYTES_MAX = 512;

export type FollowedState = 'fetching' | 'fenced' | 'retrying' | 'failed';

export interface FollowedPartition {
  readonly partition: ReplicaPartition;
  /** The leader epoch this following is for. */
  readonly leaderEpoch: number;
  state: FollowedState;
  retryAtMs: number;
  lastFetchMs: number;
  lastError: string | undefined;
}

export interface FollowerFetcherOptions {
  nodeId: number;
  leaderId: number;
  peerUrl: (nodeId: number) => string | undefined;
  clusterSecret?: string;
  dispatcher: Dispatcher;
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  now: () => number;
  reportError: (error: unknown, context: string) => void;
  /** The partition's high watermark moved (acks=all waiters handed over here may be settled). */
  onHighWatermark?: (partition: ReplicaPartition) => void;
  /** The leader answered the partition's fetch (no error): its high watermark then (KIP-392 reads on followers). */
  onLeaderContact?: (partition: ReplicaPartition, leaderHighWatermark: number) => void;
  /** The partition's log was truncated to `offset` (offsets from there on are gone). */
  onTruncated?: (partition: ReplicaPartition, offset: number) => void;
}

export interface FollowedPartitionStatus {
  topic: string;
  partition: number;
  leaderEpoch: number;
  state: FollowedState;
  lastFetchMs: number;
  lastError: string | undefined;
}

export class FollowerFetcher {
  private readonly followed = new Map<PartitionKey, FollowedPartition>();
  private isClosed = false;
  private inFlight: AbortController | undefined;
  private wakeIdle: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private backoffMs = 0;
  private rotation = 0;

  constructor(private readonly options: FollowerFetcherOptions) {
    this.loop = this.run();
  }

  get leaderId(): number {
    return this.options.leaderId;
  }

  get isEmpty(): boolean {
    return this.followed.size === 0;
  }

  /** Starts (or, after a new leader epoch, restarts) following `partition` from this leader. */
  follow(partition: ReplicaPartition): void {
    const key = partitionKey(partition.topic, partition.partition);
    const current = this.followed.get(key);
    if (current !== undefined && current.partition === partition && current.leaderEpoch === partition.leaderEpoch) return;
    this.followed.set(key, {
      partition, leaderEpoch: partition.leaderEpoch, state: 'fetching', retryAtMs: 0, lastFetchMs: -1, lastError: undefined,
    });
    this.restart();
  }

  unfollow(partition: ReplicaPartition): void {
    const key = partitionKey(partition.topic, partition.partition);
    if (this.followed.get(key)?.partition !== partition) return;
    this.followed.delete(key);
    this.restart();
  }

  isFollowing(partition: ReplicaPartition): boolean {
    return this.followed.get(partitionKey(partition.topic, partition.partition))?.partition === partition;
  }

  status(): FollowedPartitionStatus[] {
    return [...this.followed.values()].map((followed) => ({
      topic: followed.partition.topic,
      partition: followed.partition.partition,
      leaderEpoch: followed.leaderEpoch,
      state: followed.state,
      lastFetchMs: followed.lastFetchMs,
      lastError: followed.lastError,
    }));
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.restart();
    await this.loop;
  }

  /** The set changed (or close): abort the request in flight, end an idle wait. */
  private restart(): void {
    this.inFlight?.abort();
    this.wakeIdle?.();
  }

  private async run(): Promise<void> {
    while (!this.isClosed) {
      const nowMs = this.options.now();
      const batch = this.fetchable(nowMs);
      if (batch.length === 0) {
        await this.idle(this.nextRetryDelayMs(nowMs));
        continue;
      }
      const controller = new AbortController();
      this.inFlight = controller;
      try {
        const answer = await this.send(batch, controller.signal);
        this.backoffMs = 0;
        this.apply(batch, answer);
      } catch (error) {
        if (controller.signal.aborted) continue;
        this.backoffMs = Math.min(limits.replicaFetchBackoffMsMax, Math.max(limits.replicaFetchBackoffMsMin, this.backoffMs * 2));
        const message = error instanceof Error ? error.message : String(error);
        for (const { followed } of batch) followed.lastError = message;
        this.options.reportError(error, `replica fetch from node ${this.options.leaderId} (retrying in ${this.backoffMs} ms)`);
        await this.idle(this.backoffMs);
      } finally {
        this.inFlight = undefined;
      }
    }
  }

  private fetchable(nowMs: number): Array<{ followed: FollowedPartition; fetchOffset: number }> {
    const batch: Array<{ followed: FollowedPartition; fetchOffset: number }> = [];
    for (const followed of this.followed.values()) {
      if (followed.state === 'retrying' && followed.retryAtMs <= nowMs) followed.state = 'fetching';
      if (followed.state === 'fetching') batch.push({ followed, fetchOffset: followed.partition.log.logEndOffset });
    }
    // The leader fills maxBytes in request order: start each request one partition further
    // on, so a busy partition cannot starve the others (Kafka rotates its fetch order too).
    this.rotation = (this.rotation + 1) % Math.max(1, batch.length);
    return [...batch.slice(this.rotation), ...batch.slice(0, this.rotation)];
  }

  private nextRetryDelayMs(nowMs: number): number {
    let delayMs: number = limits.replicaFetcherIdleWaitMs;
    for (const followed of this.followed.values()) {
      if (followed.state === 'retrying') delayMs = Math.min(delayMs, Math.max(0, followed.retryAtMs - nowMs));
    }
    return delayMs;
  }

  /** Waits `delayMs`, or less when restart() is called. */
  private idle(delayMs: number): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, delayMs);
      this.wakeIdle = done;
    });
  }

  private async send(batch: ReadonlyArray<{ followed: FollowedPartition; fetchOffset: number }>, signal: AbortSignal): Promise<DecodedFetchResponse> {
    const { options } = this;
    const baseUrl = options.peerUrl(options.leaderId);
    if (baseUrl === undefined) throw new Error(`no URL is known for node ${options.leaderId} (is it in --peers?)`);
    const fetchRequest: ReplicaFetchRequest = {
      replicaId: options.nodeId,
      maxWaitMs: options.fetchMaxWaitMs,
      maxBytes: options.fetchMaxBytes,
      partitions: batch.map(({ followed, fetchOffset }) => ({
        topic: followed.partition.topic,
        partition: followed.partition.partition,
        currentLeaderEpoch: followed.leaderEpoch,
        fetchOffset,
        lastFetchedEpoch: followed.partition.log.epochCache.latestEpoch(),
      })),
    };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.clusterSecret !== undefined) headers[CLUSTER_SECRET_HEADER] = options.clusterSecret;
    const response = await request(baseUrl.replace(/\/+$/, '') + REPLICA_FETCH_PATH, {
      method: 'POST',
      dispatcher: options.dispatcher,
      headers,
      body: JSON.stringify(fetchRequest),
      signal,
      headersTimeout: options.fetchMaxWaitMs + limits.replicaFetchRequestTimeoutMs,
      bodyTimeout: limits.replicaFetchRequestTimeoutMs,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode !== 200) {
      throw new Error(`node ${options.leaderId} answered the replica fetch with ${response.statusCode}: ` +
        bytes.toString('utf8', 0, Math.min(bytes.length, ERROR_BODY_BYTES_MAX)));
    }
    return decodeFetchResponse(bytes);
  }

  private apply(batch: ReadonlyArray<{ followed: FollowedPartition; fetchOffset: number }>, answer: DecodedFetchResponse): void {
    const sent = new Map(batch.map((entry) => [partitionKey(entry.followed.partition.topic, entry.followed.partition.partition), entry]));
    const nowMs = this.options.now();
    for (const entry of answer.partitions) {
      const key = partitionKey(entry.topic, entry.partition);
      const request = sent.get(key);
      // Still followed in the same epoch, and nothing else touched the log since: else
      // the answer is stale and the next fetch asks again.
      if (request === undefined || this.followed.get(key) !== request.followed) continue;
      const { followed, fetchOffset } = request;
      const { log } = followed.partition;
      if (log.logEndOffset !== fetchOffset) continue;
      followed.lastFetchMs = nowMs;
      try {
        this.applyPartition(followed, fetchOffset, entry, nowMs);
      } catch (error) {
        // A batch the log refused (bad CRC, offsets going back): retry, and say so.
        followed.state = 'retrying';
        followed.retryAtMs = nowMs + limits.replicaPartitionRetryBackoffMs;
        followed.lastError = error instanceof Error ? error.message : String(error);
        this.options.reportError(error, `replicating ${entry.topic}/${entry.partition} from node ${this.options.leaderId}`);
      }
    }
  }

  private applyPartition(followed: FollowedPartition, fetchOffset: number, entry: DecodedFetchResponse['partitions'][number], nowMs: number): void {
    const { partition } = followed;
    const { log } = partition;
    const label = `${partition.topic}-${partition.partition}`;
    if (entry.error !== undefined) {
      followed.lastError = entry.error;
      if (entry.error === 'FENCED_LEADER_EPOCH') {
        // Kafka removes the partition from the fetcher until new metadata arrives.
        followed.state = 'fenced';
        return;
      }
      if (entry.error === 'OFFSET_OUT_OF_RANGE') {
        if (fetchOffset < entry.logStartOffset) {
          // Below the leader's logStartOffset (its retention deleted what this log needs
          // next): as Kafka does, empty the log and restart it at the leader's
          // logStartOffset; the next fetch asks from there.
          log.truncateFullyAndStartAt(entry.logStartOffset, nowMs);
          this.options.onTruncated?.(partition, 0);
          followed.lastError = undefined;
          return;
        }
        // Ahead of the leader is a divergence the epoch check should have caught: every
        // log here has its leader-epoch checkpoint. Stop until new metadata.
        followed.state = 'failed';
        this.options.reportError(new Error(`${label}: fetch offset ${fetchOffset} is out of the leader's range ` +
          `[${entry.logStartOffset}, ${entry.logEndOffset}]`), `replicating ${label} from node ${this.options.leaderId}`);
        return;
      }
      // NOT_LEADER, UNKNOWN_LEADER_EPOCH, NOT_REPLICA, UNKNOWN_PARTITION: the leader's
      // metadata and ours disagree for now; CORRUPT_LOG: the leader's stored batch is
      // damaged until it restarts and recovers. Either way, ask again shortly.
      followed.state = 'retrying';
      followed.retryAtMs = nowMs + limits.replicaPartitionRetryBackoffMs;
      return;
    }
    followed.lastError = undefined;
    this.options.onLeaderContact?.(partition, entry.highWatermark);
    if (entry.divergingEpoch !== undefined) {
      this.truncateDivergence(followed, entry.divergingEpoch, entry.logStartOffset, nowMs);
      return;
    }
    if (entry.records.length > 0) {
      log.appendAsFollower(entry.records, nowMs);
      // The topic's flush.messages / flush.ms hold on followers too (Kafka's log.append).
      if (log.isFlushDue(nowMs)) {
        log.flushUpTo(log.logEndOffset).catch((error: unknown) => this.options.reportError(error, `flushing ${label}`));
      }
    }
    const highWatermark = Math.min(entry.highWatermark, log.logEndOffset);
    if (highWatermark > log.highWatermark) {
      log.updateHighWatermark(highWatermark);
      partition.notifyReaders();
      this.options.onHighWatermark?.(partition);
    }
  }

  /**
   * KIP-279: truncate to the end of the diverging epoch as both logs see it. The local end
   * of that epoch comes from this log's epoch cache (the largest epoch at or below it).
   * An epoch the leader does not know at all (-1) leaves only what precedes its log.
   */
  private truncateDivergence(followed: FollowedPartition, diverging: { epoch: number; endOffset: number }, leaderLogStartOffset: number, nowMs: number): void {
    const { log } = followed.partition;
    const label = `${followed.partition.topic}-${followed.partition.partition}`;
    let target: number;
    if (diverging.epoch < 0 || diverging.endOffset < 0) {
      target = Math.min(leaderLogStartOffset, log.logEndOffset);
    } else {
      const local = log.epochCache.endOffsetFor(diverging.epoch, log.logEndOffset);
      target = local.epoch < 0 ? Math.min(diverging.endOffset, log.logEndOffset) : Math.min(diverging.endOffset, local.endOffset);
    }
    if (target < log.logStartOffset || target >= log.logEndOffset) {
      // Nothing to cut, or a cut below logStartOffset: fetching again would get the same
      // answer, so pause this partition (and say why) rather than spin.
      followed.state = 'retrying';
      followed.retryAtMs = nowMs + limits.replicaPartitionRetryBackoffMs;
      followed.lastError = `divergence at epoch ${diverging.epoch} (leader end ${diverging.endOffset}) gives truncation offset ${target} ` +
        `outside [${log.logStartOffset}, ${log.logEndOffset})`;
      this.options.reportError(new Error(`${label}: ${followed.lastError}`), `replicating ${label} from node ${this.options.leaderId}`);
      return;
    }
    log.truncateTo(target);
    this.options.onTruncated?.(followed.partition, target);
  }
}
