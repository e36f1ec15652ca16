/**
 * ReplicaManager: partition replication on one node, Kafka's design over HTTP.
 *
 * Metadata (the controller, through the node) says who leads each local partition;
 * onLeadershipChange turns that into a role:
 * - leader: a PartitionLeader tracks followers' logEndOffsets, the ISR (changes go to
 *   the controller as AlterPartition, KIP-497) and the high watermark, answers follower
 *   fetches (handleFetch, parked until there is news) and holds acks=all waiters;
 * - follower: the partition joins the FollowerFetcher of its leader node (one fetch
 *   loop per leader, all its partitions in one long-polled request).
 * Every timer, request and waiter ends on close().
 *
 * The ReplicaPartition objects belong to the caller; this module reads their metadata
 * fields and never writes them. The broker appends locally (appendAsLeader) and then
 * calls onAppend; everything else that touches the log here is replication's.
 */
import { Agent, type Dispatcher } from 'undici';
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import { partitionKey } from '../../util/partition-key.js';
import { handleReplicaFetch, type FetchHandlerContext } from './fetch-handler.js';
import { FollowerFetcher, type FollowedPartitionStatus } from './follower-fetcher.js';
import { HandoverWaiters } from './handover-waiters.js';
import { PartitionLeader, type PartitionLeaderContext, type PartitionLeaderOptions } from './partition-leader.js';
import { logOffsetsOf, type LogOffsets, type ReplicaPartition } from './replica-partition.js';
import type { ReplicaFetchRequest, ReplicaFetchResponseHeader } from './wire.js';

export type { ReplicaFetchRequest, ReplicaFetchResponseHeader } from './wire.js';

export interface ReplicaManagerOptions extends PartitionLeaderOptions {
  /** Base URL of a node's HTTP API for node-to-node calls (from --peers); undefined if unknown. */
  peerUrl: (nodeId: number) => string | undefined;
  /**
   * The URL a node advertises to clients (its registration), which NOT_LEADER names:
   * not peerUrl, the address this node uses to reach it (a proxy, a container name).
   */
  advertisedUrl: (nodeId: number) => string | null;
  /** Sent as header x-runnel-cluster-secret on every node-to-node request when set. */
  clusterSecret?: string;
  /** Follower long-poll at the leader (default 500). */
  fetchMaxWaitMs: number;
  /** Bytes of batches per fetch answer. */
  fetchMaxBytes: number;
  lookup: (topic: string, partition: number) => ReplicaPartition | undefined;
  onError?: (error: unknown, context: string) => void;
  /** A refusal expected in normal operation (an ISR change the controller refuses); default onError. */
  onRefusal?: (error: unknown, context: string) => void;
  now?: () => number;
  /** For tests: the dispatcher follower fetches go through (default: an own keep-alive Agent). */
  dispatcher?: Dispatcher;
}

export interface FollowerReplicaStatus {
  replicaId: number;
  /** -1 until it fetched from this leader in this epoch. */
  logEndOffset: number;
  /** -1: not caught up in this leader epoch yet. */
  lastCaughtUpMs: number;
  lastFetchMs: number;
  isInIsr: boolean;
}

export type PartitionReplicationStatus = {
  topic: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
} & LogOffsets & ({
  role: 'leader';
  isr: number[];
  /** KIP-497: the ISR plus additions in flight; the high watermark and acks=all count these. */
  maximalIsr: number[];
  pendingIsrChange: { kind: 'shrink' | 'expand'; isr: number[] } | null;
  followers: FollowerReplicaStatus[];
  acksAllWaiters: number;
} | {
  role: 'follower';
  leaderId: number;
  fetchState: FollowedPartitionStatus['state'];
  lastFetchMs: number;
  lastError: string | null;
});

/** What a follower last heard from its partition's leader (KIP-392: whether it may serve reads). */
interface LeaderContact {
  readonly partition: ReplicaPartition;
  atMs: number;
  highWatermark: number;
}

export class ReplicaManager {
  private readonly leaders = new Map<string, PartitionLeader>();
  private readonly leaderContacts = new Map<string, LeaderContact>();
  private readonly fetchers = new Map<number, FollowerFetcher>();
  /** acks=all waiters of partitions this node stopped leading and follows now. */
  private readonly handover = new HandoverWaiters(limits.waitersPerPartitionMax);
  private readonly closingFetchers = new Set<Promise<void>>();
  private readonly dispatcher: Dispatcher;
  private readonly isDispatcherOwned: boolean;
  private readonly now: () => number;
  private readonly isrCheckTimer: NodeJS.Timeout;
  private readonly isrCheckIntervalMs: number;
  private lastIsrCheckMs: number;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private readonly leaderContext: PartitionLeaderContext;
  private readonly fetchContext: FetchHandlerContext;

  constructor(private readonly options: ReplicaManagerOptions) {
    this.now = options.now ?? Date.now;
    this.isDispatcherOwned = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent({
      keepAliveTimeout: limits.replicaFetchKeepAliveMs, keepAliveMaxTimeout: limits.replicaFetchKeepAliveMsMax, connections: limits.replicaFetchConnectionsMax,
    });
    const intervalMs = Math.max(10, Math.min(limits.isrCheckIntervalMsMax, Math.floor(options.replicaLagTimeMaxMs / 2)));
    this.isrCheckIntervalMs = intervalMs;
    this.lastIsrCheckMs = this.now();
    this.isrCheckTimer = setInterval(() => this.checkIsrs(), intervalMs);
    this.isrCheckTimer.unref();
    this.leaderContext = {
      options,
      now: () => this.now(),
      reportError: (error, context) => this.reportError(error, context),
      reportRefusal: (error, context) => (options.onRefusal ?? options.onError)?.(error, context),
    };
    this.fetchContext = {
      lookup: (topic, partition) => options.lookup(topic, partition),
      leaderOf: (partition) => this.leaderOf(partition),
    };
  }

  /**
   * Metadata changed this local partition's leader, leaderEpoch, replicas, isr or
   * partitionEpoch (or it was just opened): become leader or follower. Idempotent.
   */
  onLeadershipChange(partition: ReplicaPartition): void {
    if (this.isClosed) return;
    const key = partitionKey(partition.topic, partition.partition);
    const current = this.leaders.get(key);
    if (partition.leader === this.options.nodeId) {
      this.leaderContacts.delete(key);
      this.stopFollowing(partition);
      if (current !== undefined && current.partition === partition && current.leaderEpoch === partition.leaderEpoch) {
        current.applyMetadata();
        return;
      }
      const next = new PartitionLeader(partition, this.leaderContext);
      this.leaders.set(key, next);
      current?.resign(this.notLeader(partition), current.partition === partition ? next.waiters : undefined);
      // Waiters handed over when this node stopped leading: their records are still here.
      this.handover.moveTo(partition, next.waiters);
      next.maybeAdvanceHighWatermark();
      return;
    }
    const isFollower = partition.leader >= 0 && partition.replicas.includes(this.options.nodeId);
    if (current !== undefined) {
      // Kafka's makeFollower rejects the produce requests waiting here. A follower keeps
      // them instead (HandoverWaiters): their records are in its log, and the new leader
      // most likely commits them; a retry after NOT_LEADER would append them twice.
      this.leaders.delete(key);
      current.resign(this.notLeader(partition), isFollower && current.partition === partition ? this.handover.target(partition) : undefined);
      // It led the partition until now: it holds everything its high watermark says.
      if (current.partition === partition) this.noteLeaderContact(partition, partition.log.highWatermark);
    }
    if (isFollower) {
      this.follow(partition);
      this.handover.onHighWatermark(partition);
    } else {
      this.stopFollowing(partition);
      this.handover.reject(partition, this.notLeader(partition));
    }
  }

  onPartitionRemoved(partition: ReplicaPartition): void {
    const key = partitionKey(partition.topic, partition.partition);
    if (this.leaderContacts.get(key)?.partition === partition) this.leaderContacts.delete(key);
    const leader = this.leaders.get(key);
    if (leader !== undefined && leader.partition === partition) {
      this.leaders.delete(key);
      leader.resign(new RunnelError('NOT_LEADER', `partition ${partition.topic}-${partition.partition} was removed from node ${this.options.nodeId}`));
    }
    this.handover.reject(partition, new RunnelError('NOT_LEADER', `partition ${partition.topic}-${partition.partition} was removed from node ${this.options.nodeId}`));
    this.stopFollowing(partition);
  }

  /**
   * Leader: call right after a local append. Wakes parked follower fetches; with the ISR
   * being the leader alone, the high watermark moves at once.
   */
  onAppend(partition: ReplicaPartition): void {
    this.leaderOf(partition)?.onAppend();
  }

  /**
   * acks=all: resolves once highWatermark > lastOffset. Rejects NOT_LEADER if leadership
   * is lost meanwhile, NOT_ENOUGH_REPLICAS if the ISR is (or shrinks) below
   * minInsyncReplicas before that, REQUEST_TIMED_OUT after timeoutMs.
   */
  waitForHighWatermark(partition: ReplicaPartition, lastOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<void> {
    const leader = this.leaderOf(partition);
    if (leader === undefined) return Promise.reject(this.notLeader(partition));
    return leader.waitForHighWatermark(lastOffset, minInsyncReplicas, timeoutMs);
  }

  /**
   * A follower's last word from the leader of `partition`: how long ago its last fetch
   * was answered (or it led the partition itself) and the leader's high watermark then;
   * undefined when it has not heard from one since it started.
   */
  leaderContactOf(partition: ReplicaPartition): { ageMs: number; highWatermark: number } | undefined {
    const contact = this.leaderContacts.get(partitionKey(partition.topic, partition.partition));
    if (contact === undefined || contact.partition !== partition) return undefined;
    return { ageMs: this.now() - contact.atMs, highWatermark: contact.highWatermark };
  }

  /** Leader side of POST /internal/v1/replication/fetch. */
  handleFetch(request: ReplicaFetchRequest, signal: AbortSignal): Promise<{ header: ReplicaFetchResponseHeader; body: Buffer[] }> {
    return handleReplicaFetch(this.fetchContext, request, signal);
  }

  /** Per local partition: its role and replication state (for GET /v1/topics and metrics). */
  status(): PartitionReplicationStatus[] {
    const statuses: PartitionReplicationStatus[] = [];
    for (const leader of this.leaders.values()) {
      const { partition, state } = leader;
      const isr = [...state.isr];
      const pending = state.pendingIsrChange;
      statuses.push({
        ...statusOf(partition),
        role: 'leader',
        isr,
        maximalIsr: [...state.maximalIsr],
        pendingIsrChange: pending === undefined ? null : { kind: pending.kind, isr: [...pending.isr] },
        followers: state.followerStates().map((follower) => ({
          replicaId: follower.replicaId,
          logEndOffset: follower.logEndOffset,
          lastCaughtUpMs: follower.lastCaughtUpMs,
          lastFetchMs: follower.lastFetchMs,
          isInIsr: isr.includes(follower.replicaId),
        })),
        acksAllWaiters: leader.waiters.size,
      });
    }
    for (const fetcher of this.fetchers.values()) {
      for (const followed of fetcher.status()) {
        const partition = this.options.lookup(followed.topic, followed.partition);
        if (partition === undefined) continue;
        statuses.push({
          ...statusOf(partition),
          leaderEpoch: followed.leaderEpoch,
          role: 'follower',
          leaderId: fetcher.leaderId,
          fetchState: followed.state,
          lastFetchMs: followed.lastFetchMs,
          lastError: followed.lastError ?? null,
        });
      }
    }
    return statuses.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** Stops every fetch loop, wakes parked fetches, rejects waiters. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.isClosed = true;
    clearInterval(this.isrCheckTimer);
    for (const leader of this.leaders.values()) {
      leader.resign(new RunnelError('NOT_READY', `node ${this.options.nodeId} is shutting down; the write may or may not be committed`));
    }
    this.leaders.clear();
    this.handover.rejectAll(new RunnelError('NOT_READY', `node ${this.options.nodeId} is shutting down; the write may or may not be committed`));
    for (const fetcher of this.fetchers.values()) this.closingFetchers.add(fetcher.close());
    this.fetchers.clear();
    await Promise.all([...this.closingFetchers]);
    if (this.isDispatcherOwned) await this.dispatcher.close();
  }

  private leaderOf(partition: ReplicaPartition): PartitionLeader | undefined {
    const leader = this.leaders.get(partitionKey(partition.topic, partition.partition));
    return leader !== undefined && leader.partition === partition ? leader : undefined;
  }

  private follow(partition: ReplicaPartition): void {
    for (const fetcher of this.fetchers.values()) {
      if (fetcher.leaderId !== partition.leader && fetcher.isFollowing(partition)) this.unfollowFrom(fetcher, partition);
    }
    let fetcher = this.fetchers.get(partition.leader);
    if (fetcher === undefined) {
      fetcher = new FollowerFetcher({
        nodeId: this.options.nodeId,
        leaderId: partition.leader,
        peerUrl: this.options.peerUrl,
        clusterSecret: this.options.clusterSecret,
        dispatcher: this.dispatcher,
        fetchMaxWaitMs: this.options.fetchMaxWaitMs,
        fetchMaxBytes: this.options.fetchMaxBytes,
        now: this.now,
        reportError: (error, context) => this.reportError(error, context),
        onHighWatermark: (followed) => this.handover.onHighWatermark(followed),
        onLeaderContact: (followed, highWatermark) => this.noteLeaderContact(followed, highWatermark),
        onTruncated: (followed, offset) => this.handover.onTruncated(followed, offset, this.notLeader(followed)),
      });
      this.fetchers.set(partition.leader, fetcher);
    }
    fetcher.follow(partition);
  }

  private stopFollowing(partition: ReplicaPartition): void {
    for (const fetcher of [...this.fetchers.values()]) {
      if (fetcher.isFollowing(partition)) this.unfollowFrom(fetcher, partition);
    }
  }

  private unfollowFrom(fetcher: FollowerFetcher, partition: ReplicaPartition): void {
    fetcher.unfollow(partition);
    if (!fetcher.isEmpty) return;
    // A loop with nothing to follow ends; a later follower of that leader starts a new one.
    this.fetchers.delete(fetcher.leaderId);
    const closed = fetcher.close().finally(() => this.closingFetchers.delete(closed));
    this.closingFetchers.add(closed);
  }

  /**
   * Kafka's isr-expiration task: a follower that stopped fetching is noticed without a
   * fetch. Timers run before sockets are read: a check this late means this process did
   * not run meanwhile, and the followers' fetches of that time wait unread.
   */
  private checkIsrs(): void {
    const nowMs = this.now();
    const lateMs = nowMs - this.lastIsrCheckMs - this.isrCheckIntervalMs;
    this.lastIsrCheckMs = nowMs;
    for (const leader of this.leaders.values()) {
      if (lateMs > limits.isrCheckPauseForgivenMs) leader.forgivePause(lateMs);
      leader.maybeProposeIsrChange();
    }
  }

  private noteLeaderContact(partition: ReplicaPartition, highWatermark: number): void {
    const key = partitionKey(partition.topic, partition.partition);
    const contact = this.leaderContacts.get(key);
    if (contact !== undefined && contact.partition === partition) {
      contact.atMs = this.now();
      contact.highWatermark = Math.max(contact.highWatermark, highWatermark);
      return;
    }
    this.leaderContacts.set(key, { partition, atMs: this.now(), highWatermark });
  }

  private notLeader(partition: ReplicaPartition): RunnelError {
    const leaderId = partition.leader;
    const isKnown = leaderId >= 0 && leaderId !== this.options.nodeId;
    return new RunnelError('NOT_LEADER', `node ${this.options.nodeId} does not lead ${partition.topic}-${partition.partition}` +
      (isKnown ? `; node ${leaderId} does` : ''),
    isKnown ? { leaderId, leaderUrl: this.options.advertisedUrl(leaderId), leaderEpoch: partition.leaderEpoch } : undefined);
  }

  private reportError(error: unknown, context: string): void {
    this.options.onError?.(error, context);
  }
}

/** What every status names, leader or follower: the partition, its epochs and its log's offsets. */
function statusOf(partition: ReplicaPartition): Pick<PartitionReplicationStatus, 'topic' | 'partition' | 'leaderEpoch' | 'partitionEpoch' | keyof LogOffsets> {
  return {
    topic: partition.topic,
    partition: partition.partition,
    leaderEpoch: partition.leaderEpoch,
    partitionEpoch: partition.partitionEpoch,
    ...logOffsetsOf(partition),
  };
}
