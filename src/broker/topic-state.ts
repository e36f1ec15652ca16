/**
 * The in-memory view of a topic on this node, which the hot paths read (no SQLite query
 * per produce or fetch): its record, effective configs and partitioner, and for each
 * partition its log, its readers' notifier and the metadata that says who leads it.
 * PartitionState is replication's ReplicaPartition (cluster/replication) plus what the
 * broker adds for its readers.
 */
import type { ReplicaPartition } from '../cluster/replication/replica-partition.js';
import type { TopicRecord } from '../meta/metadata-store.js';
import type { AppendNotifier } from './append-notifier.js';
import type { StickyPartitioner } from './partitioner.js';
import type { TopicConfigs } from './topic-config.js';

export interface PartitionState extends ReplicaPartition {
  /** Wakes this partition's long-polls and streams; notifyReaders() calls it. */
  readonly notifier: AppendNotifier;
}

export interface Topic {
  record: TopicRecord;
  partitions: PartitionState[];
  /** Every config's effective value (topic's own, broker default, Kafka default). */
  effective: TopicConfigs;
  readonly sticky: StickyPartitioner;
}
