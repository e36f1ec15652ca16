/**
 * Cluster reconcile: makes this node's topics match the cluster's metadata image
 * (cluster/metadata) — creates, deletes (also a topic re-created under the same name: a
 * new topicId), grows, re-configures, and takes each partition's leader, epochs,
 * replicas and ISR. Idempotent: applying the same image twice changes nothing the
 * second time. Every node keeps a log for every partition; only replicas ever write to
 * it. A single node never reconciles: its own TopicManager decides.
 */
import type { PartitionRecord, TopicRecord } from '../meta/metadata-store.js';
import type { PartitionAssignment, TopicSpec } from '../cluster/metadata/records.js';
import type { TopicConfigs } from './topic-config.js';
import type { PartitionState, Topic } from './topic-state.js';

/** What the cluster's metadata image says a topic is (cluster/metadata). */
export interface WantedTopic {
  spec: TopicSpec;
  partitions: readonly PartitionAssignment[];
}

export interface ReconcileResult {
  /** Partitions created or whose leader, epochs, replicas or ISR changed. */
  changed: PartitionState[];
  /** Partitions of deleted topics (their logs are gone). */
  removed: PartitionState[];
}

/** The TopicManager's steps a reconcile is made of; each keeps SQLite and the logs in step. */
export interface ReconciledTopics {
  list(): Topic[];
  findTopic(name: string): Topic | undefined;
  delete(name: string): void;
  createFromRecord(record: TopicRecord, partitions: PartitionRecord[]): Topic;
  setConfigs(topic: Topic, configs: TopicConfigs): void;
  addPartitions(topic: Topic, records: PartitionRecord[]): PartitionState[];
  setLeadership(state: PartitionState, assignment: PartitionAssignment): void;
}

export function reconcileTopics(
  topics: ReconciledTopics, wanted: ReadonlyMap<string, WantedTopic>, beforeRemove: (state: PartitionState) => void,
): ReconcileResult {
  const changed: PartitionState[] = [];
  const removed: PartitionState[] = [];
  for (const topic of topics.list()) {
    const target = wanted.get(topic.record.name);
    if (target === undefined || target.spec.topicId !== topic.record.topicId) {
      // Replication lets go of the partitions before their logs are deleted.
      for (const state of topic.partitions) beforeRemove(state);
      removed.push(...topic.partitions);
      topics.delete(topic.record.name);
    }
  }
  for (const [name, target] of wanted) {
    const topic = topics.findTopic(name);
    if (topic === undefined) {
      changed.push(...topics.createFromRecord(topicRecordOf(name, target), target.partitions.map((assignment) => partitionRecordOf(name, assignment))).partitions);
      continue;
    }
    if (!sameConfigs(topic.record.configs, target.spec.configs)) topics.setConfigs(topic, target.spec.configs);
    if (target.partitions.length > topic.partitions.length) {
      const added = target.partitions.slice(topic.partitions.length).map((assignment) => partitionRecordOf(name, assignment));
      changed.push(...topics.addPartitions(topic, added));
    }
    for (const assignment of target.partitions) {
      const state = topic.partitions[assignment.partition];
      if (state === undefined || !isLeadershipChanged(state, assignment)) continue;
      topics.setLeadership(state, assignment);
      changed.push(state);
    }
  }
  return { changed, removed };
}

function topicRecordOf(name: string, target: WantedTopic): TopicRecord {
  return {
    name,
    topicId: target.spec.topicId,
    partitionCount: target.partitions.length,
    replicationFactor: target.spec.replicationFactor,
    configs: target.spec.configs,
    createdAtMs: target.spec.createdAtMs,
  };
}

function partitionRecordOf(topic: string, assignment: PartitionAssignment): PartitionRecord {
  return {
    topic,
    partition: assignment.partition,
    leader: assignment.leader,
    leaderEpoch: assignment.leaderEpoch,
    replicas: [...assignment.replicas],
    isr: [...assignment.isr],
    logStartOffset: 0,
    partitionEpoch: assignment.partitionEpoch,
  };
}

function isLeadershipChanged(state: PartitionState, assignment: PartitionAssignment): boolean {
  return state.leader !== assignment.leader || state.leaderEpoch !== assignment.leaderEpoch ||
    state.partitionEpoch !== assignment.partitionEpoch || !sameNumbers(state.isr, assignment.isr) ||
    !sameNumbers(state.replicas, assignment.replicas);
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function sameConfigs(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}
