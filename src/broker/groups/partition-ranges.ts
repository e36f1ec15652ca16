/**
 * PartitionRanges: a partition's log start offset and high watermark as a group
 * coordinator needs them (lag, offset resets, auto.offset.reset) — from its own log when
 * it holds a replica, else from a node that does. In a cluster whose replication factor
 * is below its size, a coordinator may hold no replica of a partition its groups read:
 * its own log of it stays empty. What it learnt of such a partition (from its members'
 * remote reads, from refresh()) is kept per log, so a topic deleted and re-created
 * starts over.
 */
import { limits } from '../../limits.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { parsePartitionKey, type PartitionKey } from '../../util/partition-key.js';
import { inSyncReplicasBesides, notLeaderError, type RemoteOffsets, type Replication } from '../replication.js';
import type { TopicManager } from '../topic-manager.js';
import type { PartitionState } from '../topic-state.js';

export interface PartitionRange {
  logStartOffset: number;
  highWatermark: number;
}

export class PartitionRanges {
  private readonly learnt = new WeakMap<PartitionLog, PartitionRange>();

  constructor(
    private readonly topics: Pick<TopicManager, 'partition'>,
    private readonly replication: Replication,
  ) {}

  /** True when this node's own log of the partition is filled (single node, leader or a replica). */
  isHere(state: PartitionState): boolean {
    const { replication } = this;
    return !replication.isClustered || state.leader === replication.nodeId || state.replicas.includes(replication.nodeId);
  }

  /** The range as known here: this node's replica's, else the last one learnt from another node (else the empty log's). */
  rangeOf(state: PartitionState): PartitionRange {
    const { log } = state;
    if (!this.isHere(state)) {
      const learnt = this.learnt.get(log);
      if (learnt !== undefined) return learnt;
    }
    return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark };
  }

  /** What another node answered of a partition that has no replica here. */
  learn(state: PartitionState, range: PartitionRange): void {
    if (!this.isHere(state)) this.learnt.set(state.log, { logStartOffset: range.logStartOffset, highWatermark: range.highWatermark });
  }

  /** Asks the partitions with no replica here of the nodes that hold one, at once; one that does not answer keeps what was known. */
  async refresh(keys: Iterable<PartitionKey>): Promise<void> {
    const states: PartitionState[] = [];
    for (const key of keys) {
      const { topic, partition } = parsePartitionKey(key);
      try {
        const state = this.topics.partition(topic, partition);
        if (!this.isHere(state)) states.push(state);
      } catch {
        // The topic went away: nothing to show.
      }
    }
    await Promise.all(states.map((state) => this.lookup(state).catch(() => undefined)));
  }

  /**
   * The range (and the first offset at or after timestampMs, when given) from this
   * node's replica, else from the partition's leader, else another in-sync replica;
   * 503 NOT_LEADER when none answers.
   */
  async lookup(state: PartitionState, timestampMs?: number): Promise<RemoteOffsets> {
    const { log } = state;
    if (this.isHere(state)) {
      const range = { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark };
      return timestampMs === undefined ? range : { ...range, offset: log.offsetForTimestamp(timestampMs)?.offset ?? null };
    }
    const request = { topic: state.topic, partition: state.partition, ...(timestampMs === undefined ? {} : { timestampMs }) };
    for (const nodeId of inSyncReplicasBesides(state, this.replication.nodeId)) {
      try {
        const answer = await this.replication.remoteOffsets(nodeId, request, limits.remoteReadTimeoutMs);
        this.learn(state, answer);
        return answer;
      } catch {
        // The next in-sync replica.
      }
    }
    throw notLeaderError(this.replication, state, `no replica of partition ${state.partition} of topic '${state.topic}' answered node ${this.replication.nodeId}`);
  }
}
