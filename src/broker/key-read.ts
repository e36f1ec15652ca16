/**
 * The read by key: the latest committed record of one key of a compacted topic, from
 * the partition's key index (storage/key-index.ts), never past the high watermark.
 * Which node serves it follows fetch: the route asks Fetcher.route() first, and a node
 * without an in-sync replica hands the request over.
 */
import { RunnelError } from '../errors.js';
import { readLatestRecord } from '../storage/key-lookup.js';
import { partitionForKey } from './partitioner.js';
import { notLeaderError, type Replication } from './replication.js';
import type { TopicManager } from './topic-manager.js';
import type { PartitionState } from './topic-state.js';

export interface RecordByKey {
  partition: number;
  offset: number;
  /** The whole stored batch holding the record. */
  batch: Buffer;
}

export class KeyReader {
  constructor(
    private readonly topics: Pick<TopicManager, 'get' | 'partition'>,
    private readonly replication: Replication,
  ) {}

  /**
   * The partition a read of `key` goes to: `partition` when given, else the default
   * partitioner's (murmur2, as produce). TOPIC_NOT_FOUND, PARTITION_NOT_FOUND, and
   * TOPIC_NOT_COMPACTED when the topic's cleanup.policy does not hold compact.
   */
  partitionFor(topic: string, key: Buffer, partition?: number): number {
    const found = this.topics.get(topic);
    if (!found.effective['cleanup.policy']?.split(',').includes('compact')) {
      throw new RunnelError('TOPIC_NOT_COMPACTED', `topic '${topic}' is not compacted (cleanup.policy is ${found.effective['cleanup.policy'] ?? 'delete'}): reads by key need cleanup.policy compact`);
    }
    const chosen = partition ?? partitionForKey(key, found.partitions.length);
    this.topics.partition(topic, chosen);
    return chosen;
  }

  /** The latest committed record of `key` in the partition, read here (the caller routed the request to this node). */
  async read(topic: string, partition: number, key: Buffer): Promise<RecordByKey> {
    const state = this.topics.partition(topic, partition);
    this.requireReplica(state);
    const found = await readLatestRecord(state.log, key);
    if (found.kind === 'found') return { partition, offset: found.offset, batch: found.batch };
    const what = `partition ${partition} of topic '${topic}'`;
    if (found.kind === 'absent') {
      throw new RunnelError('RECORD_KEY_NOT_FOUND', `${what} has no record with key ${describeKey(key)} (absent or deleted)`);
    }
    throw new RunnelError('KEY_INDEX_FULL', `the key index of ${what} does not hold every key (--key-index-memory-bytes was reached) ` +
      `and does not hold key ${describeKey(key)}: it may exist; restart the node with a larger --key-index-memory-bytes`);
  }

  /** 503 NOT_LEADER unless this node holds a replica of the partition (as fetch). */
  private requireReplica(state: PartitionState): void {
    const { replication } = this;
    if (!replication.isClustered || state.leader === replication.nodeId || state.replicas.includes(replication.nodeId)) return;
    throw notLeaderError(replication, state, `node ${replication.nodeId} holds no replica of partition ${state.partition} of topic '${state.topic}'`);
  }
}

/** A key for a message: its text when it is short printable UTF-8, else its length. */
function describeKey(key: Buffer): string {
  const text = key.toString('utf8');
  return key.length <= 100 && /^[\x20-\x7e]*$/.test(text) ? `'${text}'` : `of ${key.length} bytes`;
}
