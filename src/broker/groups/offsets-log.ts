/**
 * Consumer groups in a cluster, after Kafka's group coordinator (KIP-848 keeps the
 * placement): the coordinator of group g is the leader of partition
 * toPositive(murmur2(utf8 g)) % partitions of __consumer_offsets, and every commit is
 * a record there, replicated like any other, before SQLite stores it.
 *
 * - requireCoordinator(g): 503 NOT_LEADER naming the coordinator elsewhere, 503
 *   NOT_READY while the offsets topic does not exist yet. The first time this node is
 *   asked as the leader of a partition at a new leader epoch (or on the next tick,
 *   whichever is first) it loads the partition: applies it to the log end offset,
 *   then drops every member of its groups (members are not replicated, KIP-848's
 *   member records are left for later: they join again on UNKNOWN_MEMBER).
 * - append(): the commit's records through the producer with acks=all; its failure
 *   (NOT_LEADER, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT) is the commit's failure. A
 *   timed-out append may still become committed later (as in Kafka): the appliers
 *   then apply it, and it is the group's offset from then on.
 * - Every applyIntervalMs every node applies its offsets partitions to the high
 *   watermark (OffsetsApplier), and notices partitions it stopped leading (resigns:
 *   drops their members so polls end and consumers find the new coordinator).
 * On a single node none of this runs: the coordinator stores commits directly.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { GroupStore } from '../../meta/group-store.js';
import type { Producer } from '../produce.js';
import { notCoordinatorError, type CoordinatorTopic } from '../coordinator-refusal.js';
import type { Replication } from '../replication.js';
import type { TopicManager } from '../topic-manager.js';
import type { PartitionState } from '../topic-state.js';
import { OffsetsApplier, type AppliedOffsetsSink } from './offsets-applier.js';
import type { OffsetChange, OffsetsLog } from './offset-committer.js';
import { groupKey, OFFSETS_TOPIC, offsetKey, offsetsPartitionOf } from './offsets-records.js';

/** What the offsets topic changes in this node's groups (GroupCoordinator). */
/** Consumer groups are coordinated by the leaders of __consumer_offsets' partitions. */
const OFFSETS_COORDINATION: CoordinatorTopic = { groupWhat: 'group', topicWhat: 'offsets topic', topic: OFFSETS_TOPIC };

export interface CoordinatedGroups extends AppliedOffsetsSink {
  /** Drops the members of the groups this node starts or stops coordinating. */
  dropMembers(isAffected: (groupId: string) => boolean): void;
}

export interface ClusterOffsetsLogOptions {
  topics: TopicManager;
  producer: Producer;
  store: GroupStore;
  coordinator: CoordinatedGroups;
  replication: Replication;
  /** Default 200 ms. */
  applyIntervalMs?: number;
  onError?: (error: unknown, context: string) => void;
}

export class ClusterOffsetsLog implements OffsetsLog {
  private readonly applier: OffsetsApplier;
  /** Offsets partitions this node coordinates: partition -> the leader epoch it loaded at. */
  private readonly coordinating = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Members restored from SQLite at start belong to whoever coordinated before: dropped once, at the first tick. */
  private hasDroppedRestoredMembers = false;

  constructor(private readonly options: ClusterOffsetsLogOptions) {
    this.applier = new OffsetsApplier({
      store: options.store,
      sink: options.coordinator,
      topicIdOf: (topic) => options.topics.find(topic, 0) === undefined ? undefined : options.topics.get(topic).record.topicId,
      onWarning: (message) => options.onError?.(new Error(message), 'offsets applier'),
    });
  }

  get isClustered(): boolean {
    return this.options.replication.isClustered;
  }

  get nodeId(): number {
    return this.options.replication.nodeId;
  }

  /** Starts applying every applyIntervalMs (does nothing on a single node); close() stops it. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (error) {
        this.options.onError?.(error, 'offsets applier');
      }
    }, this.options.applyIntervalMs ?? 200);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The partitions of the offsets topic on this node, or undefined while it does not exist. */
  private partitions(): PartitionState[] | undefined {
    if (this.options.topics.find(OFFSETS_TOPIC, 0) === undefined) return undefined;
    return this.options.topics.get(OFFSETS_TOPIC).partitions;
  }

  /** One round: follow leadership changes, apply every partition to its high watermark. */
  tick(): void {
    if (!this.isClustered) return;
    const partitions = this.partitions();
    if (partitions === undefined) return;
    const { nodeId } = this;
    if (!this.hasDroppedRestoredMembers) {
      this.hasDroppedRestoredMembers = true;
      this.options.coordinator.dropMembers((groupId) => partitions[offsetsPartitionOf(groupId, partitions.length)].leader !== nodeId);
    }
    for (const state of partitions) {
      const loadedEpoch = this.coordinating.get(state.partition);
      const isLeader = state.leader === nodeId;
      if (loadedEpoch !== undefined && (!isLeader || loadedEpoch !== state.leaderEpoch)) this.resign(state.partition);
      if (isLeader && !this.coordinating.has(state.partition)) this.load(state);
      else this.applyCommitted(state);
    }
  }

  private topicId(): string {
    return this.options.topics.get(OFFSETS_TOPIC).record.topicId;
  }

  private applyCommitted(state: PartitionState): void {
    this.applier.apply(state.partition, this.topicId(), state.log, state.log.highWatermark);
  }

  /**
   * Becomes the coordinator of the partition's groups: everything in the log is applied
   * first (to the log end: the previous coordinator acknowledged only what the ISR, this
   * node included, had), then stale members go.
   */
  private load(state: PartitionState): void {
    this.applier.apply(state.partition, this.topicId(), state.log, state.log.logEndOffset);
    this.options.coordinator.dropMembers((groupId) => offsetsPartitionOf(groupId) === state.partition);
    this.coordinating.set(state.partition, state.leaderEpoch);
  }

  /** No longer the coordinator: members are dropped, so their polls end and they look for the new one. */
  private resign(partition: number): void {
    this.coordinating.delete(partition);
    this.options.coordinator.dropMembers((groupId) => offsetsPartitionOf(groupId) === partition);
  }

  /** The node that coordinates the group when it is another one (undefined: this node, or none known yet). */
  coordinatorElsewhere(groupId: string): number | undefined {
    if (!this.isClustered) return undefined;
    const partitions = this.partitions();
    if (partitions === undefined) return undefined;
    const { leader } = partitions[offsetsPartitionOf(groupId, partitions.length)];
    return leader >= 0 && leader !== this.nodeId ? leader : undefined;
  }

  /**
   * Why this node cannot coordinate the group now: 503 NOT_READY while the offsets topic
   * is being created, 503 NOT_LEADER naming the coordinator (or none); undefined when it
   * leads the group's partition (or on a single node). Changes nothing.
   */
  notCoordinatorError(groupId: string): RunnelError | undefined {
    if (!this.isClustered) return undefined;
    const partitions = this.partitions();
    const state = partitions === undefined ? undefined : partitions[offsetsPartitionOf(groupId, partitions.length)];
    return notCoordinatorError(OFFSETS_COORDINATION, groupId, state, this.nodeId, (id) => this.options.replication.nodeUrl(id));
  }

  /** Throws unless this node coordinates the group (a no-op on a single node); loads the group's partition when it just became its leader. */
  requireCoordinator(groupId: string): void {
    const refusal = this.notCoordinatorError(groupId);
    if (refusal !== undefined) throw refusal;
    if (!this.isClustered) return;
    const partitions = this.partitions()!;
    const state = partitions[offsetsPartitionOf(groupId, partitions.length)];
    const loadedEpoch = this.coordinating.get(state.partition);
    if (loadedEpoch === state.leaderEpoch) return;
    if (loadedEpoch !== undefined) this.resign(state.partition);
    this.load(state);
  }

  isCoordinating(groupId: string): boolean {
    if (!this.isClustered) return true;
    const partitions = this.partitions();
    if (partitions === undefined) return false;
    const state = partitions[offsetsPartitionOf(groupId, partitions.length)];
    return state.leader === this.nodeId && this.coordinating.get(state.partition) === state.leaderEpoch;
  }

  async append(groupId: string, changes: readonly OffsetChange[], isGroupDeleted: boolean): Promise<void> {
    const partitions = this.partitions();
    if (partitions === undefined) throw new RunnelError('NOT_READY', `the cluster is creating its offsets topic (${OFFSETS_TOPIC}); retry shortly`);
    const partition = offsetsPartitionOf(groupId, partitions.length);
    const records = changes.map(({ topic, partition: topicPartition, committed }) => ({
      key: offsetKey(groupId, topic, topicPartition),
      value: committed === null ? null : {
        offset: committed.offset,
        metadata: committed.metadata,
        committedAtMs: committed.committedAtMs,
        topicId: this.options.topics.find(topic, topicPartition) === undefined ? undefined : this.options.topics.get(topic).record.topicId,
      },
    }));
    if (isGroupDeleted) records.push({ key: groupKey(groupId), value: null });
    // One request is one batch, so a commit applies whole; only a deletion of more
    // offsets than a request may carry is split (its tombstones need no atomicity).
    for (let from = 0; from < records.length; from += limits.produceRecordCountMax) {
      await this.options.producer.produce({
        topic: OFFSETS_TOPIC,
        partition,
        records: records.slice(from, from + limits.produceRecordCountMax),
        keyFormat: 'string',
        valueFormat: 'json',
        acks: 'all',
      });
    }
  }
}
