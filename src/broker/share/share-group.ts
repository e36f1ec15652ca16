/**
 * One share group in memory: its configs and effective settings (one object its
 * SharePartitions share, so a change of configs applies to them at once), its
 * share-partitions, and a notifier that wakes long-polls when records become available
 * again (released, expired, reset). Also the counters /metrics reads.
 */
import { limits } from '../../limits.js';
import { partitionKey, type PartitionKey } from '../../util/partition-key.js';
import { AppendNotifier } from '../append-notifier.js';
import { effectiveSettings, type ShareDefaults, type ShareGroupSettings } from './share-configs.js';
import { encodePartitionValue, sharePartitionKey } from './share-state-records.js';
import type { SharePartition } from './share-partition.js';

export interface SharePartitionEntry {
  topic: string;
  partition: number;
  /** The id of the topic the state belongs to: a topic re-created under the same name starts over. */
  topicId: string;
  share: SharePartition;
}

export class ShareGroup {
  readonly partitions = new Map<PartitionKey, SharePartitionEntry>();
  readonly changes = new AppendNotifier(limits.waitersPerPartitionMax);
  /** The effective settings; changed in place (SharePartitions hold this object). */
  readonly settings: ShareGroupSettings;

  constructor(readonly groupId: string, readonly createdAtMs: number, public configs: Record<string, string>, defaults: ShareDefaults) {
    this.settings = effectiveSettings(configs, defaults);
  }

  setConfigs(configs: Record<string, string>, defaults: ShareDefaults): void {
    this.configs = configs;
    Object.assign(this.settings, effectiveSettings(configs, defaults));
  }

  get(topic: string, partition: number): SharePartitionEntry | undefined {
    return this.partitions.get(partitionKey(topic, partition));
  }

  /** Records held under a live lock across the group. */
  acquiredCount(nowMs: number): number {
    let count = 0;
    for (const { share } of this.partitions.values()) {
      share.expireLocks(nowMs);
      count += share.counts().acquired;
    }
    return count;
  }

  /** The earliest time a lock in the group runs out (undefined: none held). */
  nextLockExpiryMs(): number | undefined {
    let next: number | undefined;
    for (const { share } of this.partitions.values()) {
      const expiry = share.nextLockExpiryMs();
      if (expiry !== undefined && (next === undefined || expiry < next)) next = expiry;
    }
    return next;
  }

  /** The record that stores a share-partition's state now. */
  stateOf(entry: SharePartitionEntry): { key: string; value: object } {
    return { key: sharePartitionKey(this.groupId, entry.topic, entry.partition), value: encodePartitionValue({ topicId: entry.topicId, snapshot: entry.share.snapshot() }) };
  }
}

/** What /metrics reports (counters since start). */
export class ShareCounters {
  acquired = 0;
  redeliveries = 0;
  archived = 0;
  lockExpirations = 0;
  readonly acknowledged = { accept: 0, release: 0, reject: 0, renew: 0 };
}
