/**
 * TopicManager: topics and their partitions on this node. SQLite (meta/) holds what
 * a topic is; storage/ holds each partition's log; this joins the two and keeps the
 * in-memory view the hot paths use (no SQLite query per produce or fetch).
 *
 * Order of effects, chosen for crashes: a topic is created in SQLite first and its
 * logs opened after; it is deleted from SQLite first and its directories removed
 * after. At start, directories no topic claims are removed, so a crash between the
 * two steps leaves nothing behind.
 */
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { MetadataStore, PartitionRecord, TopicRecord } from '../meta/metadata-store.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { randomBytes } from 'node:crypto';
import { AppendNotifier } from './append-notifier.js';
import { StickyPartitioner } from './partitioner.js';
import { effectiveConfigs, logConfigOf, topicConfigDefinitions, validateTopicConfigs, type TopicConfigs } from './topic-config.js';
import { logDirectoryName, validateTopicName } from './topic-names.js';
import type { PartitionAssignment, TopicSpec } from '../cluster/metadata/records.js';

export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly log: PartitionLog;
  readonly notifier: AppendNotifier;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** KIP-497's partition epoch: bumped by every change of leader or ISR. */
  partitionEpoch: number;
  /** Wakes long-polls and streams (after the high watermark moved). */
  notifyReaders(): void;
}

export interface Topic {
  record: TopicRecord;
  partitions: PartitionState[];
  /** Every config's effective value (topic's own, broker default, Kafka default). */
  effective: TopicConfigs;
  readonly sticky: StickyPartitioner;
}

export interface CreateTopicInput {
  name: string;
  partitions?: number;
  replicationFactor?: number;
  configs?: Record<string, unknown>;
}

export interface TopicManagerOptions {
  nodeId: number;
  brokerDefaults: TopicConfigs;
  defaultPartitionCount: number;
  /**
   * In a cluster the high watermark comes from the ISR (the replica manager moves it),
   * so a reopened log keeps its checkpointed one; a single node's whole log is committed.
   */
  isClustered?: boolean;
}

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

export class TopicManager {
  private readonly topics = new Map<string, Topic>();

  constructor(
    private readonly store: MetadataStore,
    private readonly logs: LogManager,
    private readonly options: TopicManagerOptions,
  ) {}

  /** Opens (and recovers) every partition SQLite knows and removes orphaned directories. */
  loadAll(): void {
    for (const record of this.store.listTopics()) this.materialise(record, this.store.listPartitions(record.name));
    this.removeOrphanedLogs();
  }

  /**
   * loadAll() one partition at a time, yielding to the event loop between them, so
   * the node answers /health (503 while recovering) during a long recovery.
   * `shouldStop` ends it early (the node is shutting down).
   */
  async loadAllGradually(shouldStop: () => boolean): Promise<void> {
    for (const record of this.store.listTopics()) {
      const effective = effectiveConfigs(record.configs, this.options.brokerDefaults);
      const topic: Topic = { record, partitions: [], effective, sticky: new StickyPartitioner() };
      this.topics.set(record.name, topic);
      for (const partition of this.store.listPartitions(record.name)) {
        if (shouldStop()) return;
        topic.partitions.push(this.openPartition(record.name, partition, effective));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (!shouldStop()) this.removeOrphanedLogs();
  }

  /** Directories no topic claims (a crash between SQLite and disk) are removed. */
  private removeOrphanedLogs(): void {
    const wanted = new Set<string>();
    for (const topic of this.topics.values()) {
      for (const state of topic.partitions) wanted.add(logDirectoryName(topic.record.name, state.partition));
    }
    for (const name of this.logs.namesOnDisk()) {
      if (!wanted.has(name)) this.logs.deleteLog(name);
    }
  }

  private materialise(record: TopicRecord, partitions: PartitionRecord[]): Topic {
    const effective = effectiveConfigs(record.configs, this.options.brokerDefaults);
    const topic: Topic = { record, partitions: [], effective, sticky: new StickyPartitioner() };
    for (const partition of partitions) topic.partitions.push(this.openPartition(record.name, partition, effective));
    this.topics.set(record.name, topic);
    return topic;
  }

  private openPartition(topic: string, record: PartitionRecord, effective: TopicConfigs): PartitionState {
    const log = this.logs.open(logDirectoryName(topic, record.partition), logConfigOf(effective), {
      logStartOffset: record.logStartOffset,
    });
    // One node is the whole ISR: everything in the log is committed.
    if (this.options.isClustered !== true) log.updateHighWatermark(log.logEndOffset);
    const notifier = new AppendNotifier(limits.waitersPerPartitionMax);
    return {
      topic,
      partition: record.partition,
      log,
      notifier,
      leader: record.leader,
      leaderEpoch: record.leaderEpoch,
      replicas: record.replicas,
      isr: record.isr,
      partitionEpoch: record.partitionEpoch,
      notifyReaders: () => notifier.notify(),
    };
  }

  list(): Topic[] {
    return [...this.topics.values()].sort((a, b) => (a.record.name < b.record.name ? -1 : 1));
  }

  get(name: string): Topic {
    const topic = this.topics.get(name);
    if (topic === undefined) {
      validateTopicName(name);
      throw new RunnelError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`);
    }
    return topic;
  }

  partition(name: string, partition: number): PartitionState {
    const topic = this.get(name);
    const state = topic.partitions[partition];
    if (state === undefined) {
      throw new RunnelError('PARTITION_NOT_FOUND', `topic '${name}' has no partition ${partition} (it has ${topic.partitions.length})`);
    }
    return state;
  }

  /** Validates a create request: name, partition count and configs (the replication factor is the caller's). */
  planCreate(input: CreateTopicInput): { name: string; partitions: number; configs: TopicConfigs } {
    validateTopicName(input.name);
    const partitionCount = input.partitions ?? this.options.defaultPartitionCount;
    checkPartitionCount(partitionCount);
    const configs = validateTopicConfigs(input.configs ?? {});
    if (this.topics.has(input.name)) throw new RunnelError('TOPIC_EXISTS', `topic '${input.name}' already exists`);
    return { name: input.name, partitions: partitionCount, configs };
  }

  /** The partition, or undefined (no error) when the topic or partition does not exist. */
  find(name: string, partition: number): PartitionState | undefined {
    return this.topics.get(name)?.partitions[partition];
  }

  create(input: CreateTopicInput): Topic {
    const { partitions: partitionCount, configs } = this.planCreate(input);
    const replicationFactor = input.replicationFactor ?? 1;
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > 1) {
      throw new RunnelError('INVALID_REPLICATION_FACTOR', `replicationFactor ${replicationFactor} is not possible: this cluster has 1 node`);
    }
    const record: TopicRecord = {
      name: input.name,
      topicId: randomBytes(16).toString('base64url'),
      partitionCount,
      replicationFactor,
      configs,
      createdAtMs: Date.now(),
    };
    const partitions = Array.from({ length: partitionCount }, (_, partition) => this.newPartitionRecord(input.name, partition));
    this.store.createTopic(record, partitions);
    return this.materialise(record, partitions);
  }

  private newPartitionRecord(topic: string, partition: number): PartitionRecord {
    const nodeId = this.options.nodeId;
    return { topic, partition, leader: nodeId, leaderEpoch: 0, replicas: [nodeId], isr: [nodeId], logStartOffset: 0, partitionEpoch: 0 };
  }

  /**
   * Validates a PATCH and returns the change to make: the whole new config map (null
   * removes a config) and/or the new partition count (it can only grow).
   */
  planAlter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): { configs?: TopicConfigs; partitions?: number } {
    const topic = this.get(name);
    let nextConfigs: TopicConfigs | undefined;
    if (change.configs !== undefined) {
      const removed = Object.entries(change.configs).filter(([, value]) => value === null).map(([key]) => key);
      const set = Object.fromEntries(Object.entries(change.configs).filter(([, value]) => value !== null));
      const merged: TopicConfigs = { ...topic.record.configs, ...validateTopicConfigs(set) };
      for (const key of removed) {
        if (!(key in topicConfigDefinitions)) throw new RunnelError('INVALID_CONFIG', `unknown topic config '${key}'`);
        delete merged[key];
      }
      nextConfigs = merged;
    }
    if (change.partitions !== undefined) {
      checkPartitionCount(change.partitions);
      if (change.partitions < topic.partitions.length) {
        throw new RunnelError('INVALID_PARTITIONS', `topic '${name}' has ${topic.partitions.length} partitions; the count can only grow`);
      }
    }
    return { ...(nextConfigs === undefined ? {} : { configs: nextConfigs }), ...(change.partitions === undefined ? {} : { partitions: change.partitions }) };
  }

  /** PATCH: grow the partition count and/or replace configs (null removes a config). */
  alter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): Topic {
    const topic = this.get(name);
    const planned = this.planAlter(name, change);
    const nextConfigs = planned.configs;
    if (nextConfigs !== undefined) {
      this.store.setTopicConfigs(name, nextConfigs);
      topic.record = { ...topic.record, configs: nextConfigs };
      topic.effective = effectiveConfigs(nextConfigs, this.options.brokerDefaults);
      for (const state of topic.partitions) state.log.updateConfig(logConfigOf(topic.effective));
    }
    if (change.partitions !== undefined && change.partitions > topic.partitions.length) {
      const added = [];
      for (let partition = topic.partitions.length; partition < change.partitions; partition++) {
        added.push(this.newPartitionRecord(name, partition));
      }
      this.store.addPartitions(name, added);
      topic.record = { ...topic.record, partitionCount: change.partitions };
      for (const record of added) topic.partitions.push(this.openPartition(name, record, topic.effective));
    }
    return topic;
  }

  delete(name: string): void {
    const topic = this.get(name);
    this.store.deleteTopic(name);
    this.topics.delete(name);
    for (const state of topic.partitions) {
      state.notifier.notify();
      this.logs.deleteLog(logDirectoryName(name, state.partition));
    }
  }

  /**
   * Cluster: makes this node's topics match the metadata image — creates, deletes
   * (also a topic re-created under the same name: a new topicId), grows, re-configures,
   * and takes each partition's leader, epochs, replicas and ISR. Idempotent: applying
   * the same image twice changes nothing the second time. Every node keeps a log for
   * every partition; only replicas ever write to it.
   */
  reconcile(wanted: ReadonlyMap<string, WantedTopic>, beforeRemove: (state: PartitionState) => void = () => undefined): ReconcileResult {
    const changed: PartitionState[] = [];
    const removed: PartitionState[] = [];
    for (const [name, topic] of [...this.topics]) {
      const target = wanted.get(name);
      if (target === undefined || target.spec.topicId !== topic.record.topicId) {
        // Replication lets go of the partitions before their logs are deleted.
        for (const state of topic.partitions) beforeRemove(state);
        removed.push(...topic.partitions);
        this.delete(name);
      }
    }
    for (const [name, target] of wanted) {
      const topic = this.topics.get(name);
      if (topic === undefined) {
        const record: TopicRecord = {
          name,
          topicId: target.spec.topicId,
          partitionCount: target.partitions.length,
          replicationFactor: target.spec.replicationFactor,
          configs: target.spec.configs,
          createdAtMs: target.spec.createdAtMs,
        };
        const partitions = target.partitions.map((assignment) => partitionRecordOf(name, assignment));
        this.store.createTopic(record, partitions);
        changed.push(...this.materialise(record, partitions).partitions);
        continue;
      }
      if (!sameConfigs(topic.record.configs, target.spec.configs)) {
        this.store.setTopicConfigs(name, target.spec.configs);
        topic.record = { ...topic.record, configs: target.spec.configs };
        topic.effective = effectiveConfigs(target.spec.configs, this.options.brokerDefaults);
        for (const state of topic.partitions) state.log.updateConfig(logConfigOf(topic.effective));
      }
      if (target.partitions.length > topic.partitions.length) {
        const added = target.partitions.slice(topic.partitions.length).map((assignment) => partitionRecordOf(name, assignment));
        this.store.addPartitions(name, added);
        topic.record = { ...topic.record, partitionCount: target.partitions.length };
        for (const record of added) {
          const state = this.openPartition(name, record, topic.effective);
          topic.partitions.push(state);
          changed.push(state);
        }
      }
      for (const assignment of target.partitions) {
        const state = topic.partitions[assignment.partition];
        if (state === undefined || !isLeadershipChanged(state, assignment)) continue;
        state.leader = assignment.leader;
        state.leaderEpoch = assignment.leaderEpoch;
        state.replicas = [...assignment.replicas];
        state.isr = [...assignment.isr];
        state.partitionEpoch = assignment.partitionEpoch;
        this.store.setPartitionLeadership(name, assignment.partition, assignment);
        changed.push(state);
      }
    }
    return { changed, removed };
  }

  /** Persists a partition's logStartOffset after retention moved it. */
  recordLogStartOffset(logName: string, logStartOffset: number): void {
    for (const topic of this.topics.values()) {
      for (const state of topic.partitions) {
        if (logDirectoryName(topic.record.name, state.partition) === logName) {
          this.store.setLogStartOffset(topic.record.name, state.partition, logStartOffset);
          return;
        }
      }
    }
  }
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
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function checkPartitionCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > limits.partitionCountMax) {
    throw new RunnelError('INVALID_PARTITIONS', `partitions must be an integer between 1 and ${limits.partitionCountMax}, got ${count}`);
  }
}
