/**
 * Where a share group is coordinated. On a single node: here, always. In a cluster,
 * as consumer groups are (offsets-log.ts): the coordinator of share group g is the
 * leader of partition toPositive(murmur2(utf8 g)) % partitions of __share_group_state,
 * and the group's state lives in that partition, replicated like any other.
 *
 * - The topic is made at the first use of any share group (any node asks the
 *   controller), compacted, with the cluster's default replication factor (min(3,
 *   nodes), as __consumer_offsets).
 * - requireCoordinator(g): 503 NOT_LEADER naming the coordinator when it is another
 *   node. The first time this node is asked as the leader of a state partition at a
 *   new leader epoch (or at the next tick, whichever is first), it rebuilds the
 *   groups of that partition from its log, to the log end: the previous coordinator
 *   answered only once every in-sync replica, this node included, had a change.
 *   A record held under a lock then comes back available, its delivery counted, as
 *   after a restart (share-partition.ts snapshot()).
 * - Every tick (200 ms) a partition this node stopped leading, or leads at another
 *   epoch, is resigned: its groups leave memory, so nothing is answered from a stale
 *   state, and their long-polls end. A state write checks the epoch it was loaded at
 *   (canWrite), so a call under way when leadership moved fails instead of writing
 *   through to the new leader.
 */
import { RunnelError } from '../../errors.js';
import { notCoordinatorError, type CoordinatorTopic } from '../coordinator-refusal.js';
import type { Replication } from '../replication.js';
import type { TopicAdmin } from '../topic-admin.js';
import type { TopicManager } from '../topic-manager.js';
import type { PartitionState } from '../topic-state.js';
import { SHARE_STATE_PARTITIONS, SHARE_STATE_TOPIC, shareStatePartitionOf } from './share-state-records.js';

/** What the placement changes in the coordinator's memory. */
/** Share groups are coordinated by the leaders of __share_group_state's partitions. */
const SHARE_COORDINATION: CoordinatorTopic = { groupWhat: 'share group', topicWhat: 'share-group state topic', topic: SHARE_STATE_TOPIC };

export interface PlacedGroups {
  /** Rebuilds the groups of one state partition from its log (this node leads it now). */
  loadStatePartition(partition: number): void;
  /** Forgets the groups of one state partition (this node no longer leads it). */
  dropStatePartition(partition: number): void;
}

export interface SharePlacementOptions {
  topics: TopicManager;
  replication: Replication;
  admin: TopicAdmin;
  /** Default 200 ms. */
  tickIntervalMs?: number;
  onError?: (error: unknown, context: string) => void;
}

export class SharePlacement {
  /** State partitions this node coordinates: partition -> the leader epoch it loaded at. */
  private readonly coordinating = new Map<number, number>();
  private groups: PlacedGroups | undefined;
  private timer: NodeJS.Timeout | undefined;
  private creating: Promise<void> | undefined;

  constructor(private readonly options: SharePlacementOptions) {}

  get isClustered(): boolean {
    return this.options.replication.isClustered;
  }

  get nodeId(): number {
    return this.options.replication.nodeId;
  }

  /** Starts following leadership (a cluster only); close() stops it. */
  start(groups: PlacedGroups): void {
    this.groups = groups;
    if (!this.isClustered || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (error) {
        this.options.onError?.(error, 'share placement');
      }
    }, this.options.tickIntervalMs ?? 200);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The state topic's partitions on this node, or undefined while it does not exist. */
  partitions(): PartitionState[] | undefined {
    if (this.options.topics.find(SHARE_STATE_TOPIC, 0) === undefined) return undefined;
    return this.options.topics.get(SHARE_STATE_TOPIC).partitions;
  }

  /** The state topic, made when it does not exist yet (through the controller in a cluster). */
  async ensureTopic(): Promise<void> {
    if (this.partitions() !== undefined) return;
    if (!this.isClustered) {
      this.options.topics.create({ name: SHARE_STATE_TOPIC, partitions: SHARE_STATE_PARTITIONS, configs: { 'cleanup.policy': 'compact' } });
      return;
    }
    this.creating ??= this.options.admin.create({ name: SHARE_STATE_TOPIC, partitions: SHARE_STATE_PARTITIONS, configs: { 'cleanup.policy': 'compact' } })
      .then(() => undefined, (error: unknown) => {
        // Another node made it first: it is here now (or soon, at the next metadata apply).
        if (!(error instanceof RunnelError && error.code === 'TOPIC_EXISTS')) throw error;
      })
      .finally(() => { this.creating = undefined; });
    await this.creating;
    if (this.partitions() === undefined) await this.options.admin.syncMetadata();
    if (this.partitions() === undefined) {
      throw new RunnelError('NOT_READY', `the cluster is creating its share-group state topic (${SHARE_STATE_TOPIC}); retry shortly`);
    }
  }

  /** Resolves once this node knows every topic made before the call (a cluster's metadata caught up). */
  syncMetadata(): Promise<void> {
    return this.options.admin.syncMetadata();
  }

  /** One round: resign partitions led no more (or at another epoch), load the ones led now. */
  tick(): void {
    const partitions = this.partitions();
    if (partitions === undefined || this.groups === undefined) return;
    for (const state of partitions) {
      const loadedEpoch = this.coordinating.get(state.partition);
      const isLeader = state.leader === this.nodeId;
      if (loadedEpoch !== undefined && (!isLeader || loadedEpoch !== state.leaderEpoch)) this.resign(state.partition);
      if (isLeader && !this.coordinating.has(state.partition)) this.load(state);
    }
  }

  private load(state: PartitionState): void {
    this.groups?.loadStatePartition(state.partition);
    this.coordinating.set(state.partition, state.leaderEpoch);
  }

  private resign(partition: number): void {
    this.coordinating.delete(partition);
    this.groups?.dropStatePartition(partition);
  }

  private stateOf(groupId: string): PartitionState | undefined {
    const partitions = this.partitions();
    return partitions === undefined ? undefined : partitions[shareStatePartitionOf(groupId, partitions.length)];
  }

  /** The node that coordinates the group when it is another one (undefined: this node, or none known yet). */
  coordinatorElsewhere(groupId: string): number | undefined {
    if (!this.isClustered) return undefined;
    const state = this.stateOf(groupId);
    if (state === undefined) return undefined;
    return state.leader >= 0 && state.leader !== this.nodeId ? state.leader : undefined;
  }

  /** The nodes leading a state partition now: between them they coordinate every share group. */
  coordinatorIds(): number[] {
    const ids = new Set<number>();
    for (const state of this.partitions() ?? []) if (state.leader >= 0) ids.add(state.leader);
    return [...ids].sort((a, b) => a - b);
  }

  /** Why this node cannot coordinate the group now (503 NOT_READY or NOT_LEADER); undefined when it can. Changes nothing. */
  notCoordinatorError(groupId: string): RunnelError | undefined {
    if (!this.isClustered) return undefined;
    return notCoordinatorError(SHARE_COORDINATION, groupId, this.stateOf(groupId), this.nodeId, (id) => this.options.replication.nodeUrl(id));
  }

  /** Throws unless this node coordinates the group; loads the group's state partition when it just became its leader. */
  requireCoordinator(groupId: string): void {
    const refusal = this.notCoordinatorError(groupId);
    if (refusal !== undefined) throw refusal;
    if (!this.isClustered) return;
    const state = this.stateOf(groupId)!;
    const loadedEpoch = this.coordinating.get(state.partition);
    if (loadedEpoch === state.leaderEpoch) return;
    if (loadedEpoch !== undefined) this.resign(state.partition);
    this.load(state);
  }

  /** Whether a state write to `partition` may go out: this node leads it at the epoch its groups were loaded at. */
  canWrite(partition: number): boolean {
    if (!this.isClustered) return true;
    const state = this.partitions()?.[partition];
    return state !== undefined && state.leader === this.nodeId && this.coordinating.get(partition) === state.leaderEpoch;
  }
}
