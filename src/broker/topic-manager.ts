/**
 * TopicManager: topics and their partitions on this node. SQLite (meta/) holds what
 * a topic is; storage/ holds each partition's log; this joins the two and keeps the
 * in-memory view the hot paths use (no SQLite query per produce or fetch).
 *
 * Order of effects, chosen for crashes and failures: a topic's (or new partitions')
 * logs are made first and SQLite written after, so a create that fails half-way (out
 * of file descriptors, disk full) is undone by closing and removing the logs it made,
 * and leaves no row behind; a topic is deleted from SQLite first and its directories
 * removed after. At start, directories no topic claims are removed, so a crash
 * between the two steps leaves nothing behind.
 */
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { MetadataStore, PartitionRecord, TopicRecord } from '../meta/metadata-store.js';
import type { LogManager } from '../storage/log-manager.js';
import { randomBytes } from 'node:crypto';
import { isOutOfFiles } from '../util/open-files.js';
import { AppendNotifier } from './append-notifier.js';
import { StickyPartitioner } from './partitioner.js';
import { checkConfigCombination, effectiveConfigs, isTopicConfigName, logConfigOf, validateTopicConfigs, type TopicConfigs } from './topic-config.js';
import { logDirectoryName, validateTopicName } from './topic-names.js';
import { reconcileTopics, type ReconciledTopics, type ReconcileResult, type WantedTopic } from './topic-reconcile.js';
import type { PartitionState, Topic } from './topic-state.js';
import type { PartitionAssignment } from '../cluster/metadata/records.js';


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
  /**
   * Partitions this node holds at most (--max-partitions, lowered to what the open-file
   * limit allows). A single node checks it here; in a cluster the controller checks it
   * per node when it places replicas.
   */
  partitionsMax?: number;
}

export class TopicManager implements ReconciledTopics {
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
    checkConfigCombination(effectiveConfigs(configs, this.options.brokerDefaults));
    if (this.topics.has(input.name)) throw new RunnelError('TOPIC_EXISTS', `topic '${input.name}' already exists`);
    this.checkPartitionsMax(partitionCount);
    return { name: input.name, partitions: partitionCount, configs };
  }

  /** The topic, or undefined (no error) when it does not exist. */
  findTopic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  /** The partition, or undefined (no error) when the topic or partition does not exist. */
  find(name: string, partition: number): PartitionState | undefined {
    return this.topics.get(name)?.partitions[partition];
  }

  create(input: CreateTopicInput): Topic {
    const { record, partitions } = this.newTopic(input);
    return this.createFromRecord(record, partitions);
  }

  /**
   * create(), yielding to the event loop every few hundred partitions so a topic of
   * thousands does not stall every other request (and /health/live) meanwhile. The
   * caller runs one topic change at a time (LocalTopicAdmin): the topic appears, whole,
   * only at the end.
   */
  async createGradually(input: CreateTopicInput): Promise<Topic> {
    const { record, partitions } = this.newTopic(input);
    if (this.topics.has(record.name)) throw new RunnelError('TOPIC_EXISTS', `topic '${record.name}' already exists`);
    const effective = effectiveConfigs(record.configs, this.options.brokerDefaults);
    const opened = await this.openAllGradually(record.name, partitions, effective);
    return this.commitTopic(record, partitions, opened, effective);
  }

  private newTopic(input: CreateTopicInput): { record: TopicRecord; partitions: PartitionRecord[] } {
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
    return { record, partitions };
  }

  /** Partitions on this node, over all topics. */
  get partitionCount(): number {
    let count = 0;
    for (const topic of this.topics.values()) count += topic.partitions.length;
    return count;
  }

  private checkPartitionsMax(adding: number): void {
    const { partitionsMax, isClustered } = this.options;
    if (partitionsMax === undefined || isClustered === true || adding <= 0) return;
    const count = this.partitionCount;
    if (count + adding > partitionsMax) {
      throw new RunnelError('TOO_MANY_PARTITIONS', `this node holds ${count} partitions and takes at most ${partitionsMax} (--max-partitions, and the open-file limit); ${adding} more do not fit`, {
        partitions: count, partitionsMax,
      });
    }
  }

  /** Creates the topic `record` describes, all or nothing: the logs first, then SQLite. */
  createFromRecord(record: TopicRecord, partitions: PartitionRecord[]): Topic {
    if (this.topics.has(record.name)) throw new RunnelError('TOPIC_EXISTS', `topic '${record.name}' already exists`);
    const effective = effectiveConfigs(record.configs, this.options.brokerDefaults);
    return this.commitTopic(record, partitions, this.openAll(record.name, partitions, effective), effective);
  }

  /** SQLite, once the logs are open; then the topic is visible. A failure removes the logs. */
  private commitTopic(record: TopicRecord, partitions: PartitionRecord[], opened: PartitionState[], effective: TopicConfigs): Topic {
    try {
      this.store.createTopic(record, partitions);
    } catch (error) {
      this.discard(record.name, opened);
      throw error;
    }
    const topic: Topic = { record, partitions: opened, effective, sticky: new StickyPartitioner() };
    this.topics.set(record.name, topic);
    return topic;
  }

  /**
   * Opens new partitions' logs; if one fails, those opened are closed and removed and
   * the error thrown (out of file descriptors: 503 TOO_MANY_OPEN_FILES).
   */
  private openAll(topic: string, records: PartitionRecord[], effective: TopicConfigs): PartitionState[] {
    const opened: PartitionState[] = [];
    try {
      for (const record of records) opened.push(this.openPartition(topic, record, effective));
      return opened;
    } catch (error) {
      this.discard(topic, opened);
      if (isOutOfFiles(error)) {
        throw new RunnelError('TOO_MANY_OPEN_FILES', `the node ran out of file descriptors opening partition ${opened.length} of ${records.length} of topic '${topic}' (${(error as Error).message}); nothing was created`);
      }
      throw error;
    }
  }

  private async openAllGradually(topic: string, records: PartitionRecord[], effective: TopicConfigs): Promise<PartitionState[]> {
    const opened: PartitionState[] = [];
    for (let start = 0; start < records.length; start += PARTITIONS_PER_TURN) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        opened.push(...this.openAll(topic, records.slice(start, start + PARTITIONS_PER_TURN), effective));
      } catch (error) {
        this.discard(topic, opened);
        throw error;
      }
    }
    return opened;
  }

  /** Closes and removes logs made for a create that failed. */
  private discard(topic: string, opened: PartitionState[]): void {
    for (const state of opened) this.logs.deleteLog(logDirectoryName(topic, state.partition));
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
        if (!isTopicConfigName(key)) throw new RunnelError('INVALID_CONFIG', `unknown topic config '${key}'`);
        delete merged[key];
      }
      checkConfigCombination(effectiveConfigs(merged, this.options.brokerDefaults));
      nextConfigs = merged;
    }
    if (change.partitions !== undefined) {
      checkPartitionCount(change.partitions);
      if (change.partitions < topic.partitions.length) {
        throw new RunnelError('INVALID_PARTITIONS', `topic '${name}' has ${topic.partitions.length} partitions; the count can only grow`);
      }
      this.checkPartitionsMax(change.partitions - topic.partitions.length);
    }
    return { ...(nextConfigs === undefined ? {} : { configs: nextConfigs }), ...(change.partitions === undefined ? {} : { partitions: change.partitions }) };
  }

  /** PATCH: grow the partition count and/or replace configs (null removes a config). */
  alter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): Topic {
    const topic = this.get(name);
    const planned = this.planAlter(name, change);
    if (planned.configs !== undefined) this.setConfigs(topic, planned.configs);
    if (change.partitions !== undefined && change.partitions > topic.partitions.length) {
      const added = [];
      for (let partition = topic.partitions.length; partition < change.partitions; partition++) {
        added.push(this.newPartitionRecord(name, partition));
      }
      this.addPartitions(topic, added);
    }
    return topic;
  }

  /** Replaces a topic's configs: SQLite first, then the effective configs and every partition log's. */
  setConfigs(topic: Topic, configs: TopicConfigs): void {
    this.store.setTopicConfigs(topic.record.name, configs);
    topic.record = { ...topic.record, configs };
    topic.effective = effectiveConfigs(configs, this.options.brokerDefaults);
    for (const state of topic.partitions) state.log.updateConfig(logConfigOf(topic.effective));
  }

  /** Adds partitions after the last one, all or nothing: their logs first, then SQLite. Returns the new partitions. */
  addPartitions(topic: Topic, records: PartitionRecord[]): PartitionState[] {
    const name = topic.record.name;
    const added = this.openAll(name, records, topic.effective);
    try {
      this.store.addPartitions(name, records);
    } catch (error) {
      this.discard(name, added);
      throw error;
    }
    topic.record = { ...topic.record, partitionCount: topic.partitions.length + records.length };
    topic.partitions.push(...added);
    return added;
  }

  /** Cluster: takes a partition's leader, epochs, replicas and ISR from the metadata image, in memory and SQLite. */
  setLeadership(state: PartitionState, assignment: PartitionAssignment): void {
    state.leader = assignment.leader;
    state.leaderEpoch = assignment.leaderEpoch;
    state.replicas = [...assignment.replicas];
    state.isr = [...assignment.isr];
    state.partitionEpoch = assignment.partitionEpoch;
    this.store.setPartitionLeadership(state.topic, assignment.partition, assignment);
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

  /** Cluster: makes this node's topics match the metadata image (topic-reconcile.ts). */
  reconcile(wanted: ReadonlyMap<string, WantedTopic>, beforeRemove: (state: PartitionState) => void = () => undefined): ReconcileResult {
    return reconcileTopics(this, wanted, beforeRemove);
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

/** Partitions a gradual create opens between two turns of the event loop. */
const PARTITIONS_PER_TURN = 200;

function checkPartitionCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > limits.partitionCountMax) {
    throw new RunnelError('INVALID_PARTITIONS', `partitions must be an integer between 1 and ${limits.partitionCountMax}, got ${count}`);
  }
}
