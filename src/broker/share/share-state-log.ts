/**
 * Share-group state through the internal topic __share_group_state (KIP-932's share
 * coordinator keeps it the same way): every change that must survive a restart is a
 * record there, appended with acks=all before the HTTP answer, and a node starting up
 * rebuilds every share group from it (the latest record of each key).
 *
 * - Writes of one share-partition go one at a time and carry the state as it is when
 *   the write starts, so a later record never holds an older state; callers that ask
 *   while a write is on its way share the next one (coalescing), which still starts
 *   after their change.
 * - The topic is made at the first use (a node with no share group has none),
 *   compacted so it keeps one record per key (share-placement.ts); in a cluster a write
 *   goes out only while this node leads the group's partition at the epoch it loaded
 *   the group at, so a coordinator that lost its partition never writes over the new
 *   one's state.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import { decodeRecords } from '../../record/decode.js';
import { readBatchHeader } from '../../record/header.js';
import type { Producer } from '../produce.js';
import type { TopicManager } from '../topic-manager.js';
import type { SharePlacement } from './share-placement.js';
import { SHARE_STATE_TOPIC, decodeShareStateRecord, shareStatePartitionOf, type ShareStateRecord } from './share-state-records.js';

export interface StateWrite {
  key: string;
  /** The value as written (JSON), or null: a tombstone. */
  value: object | null;
}

interface Pending {
  /** The write under way. */
  running: Promise<void> | undefined;
  /** The write that starts after it, shared by every caller meanwhile. */
  queued: Promise<void> | undefined;
}

export class ShareStateLog {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly topics: TopicManager, private readonly producer: Producer, readonly placement: SharePlacement) {}

  /** The latest record of every key (of the given partitions: default all), to the log end, in the order the keys were first met. */
  readAll(partitions?: readonly number[]): ShareStateRecord[] {
    const topic = this.topics.findTopic(SHARE_STATE_TOPIC);
    if (topic === undefined) return [];
    const latest = new Map<string, ShareStateRecord>();
    for (const { log, partition } of topic.partitions) {
      if (partitions !== undefined && !partitions.includes(partition)) continue;
      let next = log.logStartOffset;
      while (next < log.logEndOffset) {
        const batches = log.read(next, 1024 * 1024, log.logEndOffset);
        if (batches === null) break;
        const before = next;
        for (let at = 0; at < batches.length;) {
          const header = readBatchHeader(batches, at);
          if (!header.isControl) {
            for (const record of decodeRecords(batches, at)) {
              if (record.offset < next || record.key === null) continue;
              const decoded = decodeShareStateRecord(record.key, record.value);
              if (decoded !== null) latest.set(record.key.toString('utf8'), decoded);
            }
          }
          next = Math.max(next, header.lastOffset + 1);
          at += header.sizeBytes;
        }
        if (next === before) break;
      }
    }
    return [...latest.values()];
  }

  /** Appends records of one group (one batch per request, so they apply together), acks=all. */
  async append(groupId: string, writes: readonly StateWrite[]): Promise<void> {
    await this.placement.ensureTopic();
    const partition = shareStatePartitionOf(groupId, this.topics.get(SHARE_STATE_TOPIC).partitions.length);
    if (!this.placement.canWrite(partition)) {
      throw this.placement.notCoordinatorError(groupId) ?? new RunnelError('NOT_LEADER', `node ${this.placement.nodeId} stopped coordinating share group '${groupId}' (partition ${partition} of ${SHARE_STATE_TOPIC} moved); retry`);
    }
    for (let from = 0; from < writes.length; from += limits.produceRecordCountMax) {
      await this.producer.produce({
        topic: SHARE_STATE_TOPIC,
        partition,
        records: writes.slice(from, from + limits.produceRecordCountMax).map((write) => ({ key: write.key, value: write.value })),
        keyFormat: 'string',
        valueFormat: 'json',
        acks: 'all',
      });
    }
  }

  /**
   * Writes the state of `key` as `current()` gives it when the write starts; resolves
   * once a write that started after this call is acknowledged.
   */
  persist(groupId: string, key: string, current: () => object | null): Promise<void> {
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = { running: undefined, queued: undefined };
      this.pending.set(key, pending);
    }
    const state = pending;
    const start = (): Promise<void> => {
      const write = this.append(groupId, [{ key, value: current() }]);
      // Settles either way (the caller sees the failure): the next write may start.
      const done: Promise<void> = write.then(() => undefined, () => undefined).then(() => {
        if (state.running === done) state.running = undefined;
        if (state.running === undefined && state.queued === undefined && this.pending.get(key) === state) this.pending.delete(key);
      });
      state.running = done;
      return write;
    };
    if (state.running === undefined) return start();
    state.queued ??= state.running.then(() => {
      state.queued = undefined;
      return start();
    });
    return state.queued;
  }
}
