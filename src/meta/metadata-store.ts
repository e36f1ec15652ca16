/**
 * MetadataStore: what this node knows about topics, partitions and idempotent
 * answers (idempotency-store.ts), in SQLite (see database.ts for the PRAGMAs). Every statement is prepared
 * once here; every multi-row change is one transaction.
 */
import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { assert } from '../util/assert.js';
import { limits } from '../limits.js';
import { openDatabase, type SqliteDatabase } from './database.js';
import { IdempotencyStore, type IdempotencyBounds } from './idempotency-store.js';

export interface TopicRecord {
  name: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  configs: Record<string, string>;
  createdAtMs: number;
}

export interface PartitionRecord {
  topic: string;
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  logStartOffset: number;
  /** KIP-497's partition epoch: bumped by every change of leader or ISR (0 on a single node). */
  partitionEpoch: number;
}

export class TopicExistsError extends Error {
  override name = 'TopicExistsError';
}

interface TopicRow { name: string; topic_id: string; partition_count: number; replication_factor: number; created_at_ms: number }
interface PartitionRow { topic: string; partition: number; leader: number; leader_epoch: number; replicas: string; isr: string; log_start_offset: number; partition_epoch: number }

export class MetadataStore {
  readonly clusterId: string;
  private readonly statements: Record<string, Statement>;

  /** Answers remembered for Idempotency-Keys, bounded in count and bytes. */
  readonly idempotency: IdempotencyStore;

  private constructor(private readonly db: SqliteDatabase, idempotencyBounds: IdempotencyBounds) {
    this.idempotency = new IdempotencyStore(db, idempotencyBounds);
    const s = (sql: string): Statement => db.prepare(sql);
    this.statements = {
      clusterGet: s('SELECT cluster_id FROM cluster WHERE id = 1'),
      clusterInsert: s('INSERT INTO cluster (id, cluster_id) VALUES (1, ?)'),
      topicsList: s('SELECT * FROM topics ORDER BY name'),
      topicGet: s('SELECT * FROM topics WHERE name = ?'),
      topicInsert: s('INSERT INTO topics (name, topic_id, partition_count, replication_factor, created_at_ms) VALUES (?, ?, ?, ?, ?)'),
      topicDelete: s('DELETE FROM topics WHERE name = ?'),
      topicPartitionCount: s('UPDATE topics SET partition_count = ? WHERE name = ?'),
      configsList: s('SELECT key, value FROM topic_configs WHERE topic = ? ORDER BY key'),
      configsClear: s('DELETE FROM topic_configs WHERE topic = ?'),
      configInsert: s('INSERT INTO topic_configs (topic, key, value) VALUES (?, ?, ?)'),
      partitionsList: s('SELECT * FROM partitions WHERE topic = ? ORDER BY partition'),
      partitionInsert: s('INSERT INTO partitions (topic, partition, leader, leader_epoch, replicas, isr, log_start_offset, partition_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      logStartGet: s('SELECT log_start_offset FROM partitions WHERE topic = ? AND partition = ?'),
      logStartSet: s('UPDATE partitions SET log_start_offset = ? WHERE topic = ? AND partition = ?'),
      leadershipSet: s('UPDATE partitions SET leader = ?, leader_epoch = ?, isr = ?, replicas = ?, partition_epoch = ? WHERE topic = ? AND partition = ?'),
      imageGet: s('SELECT applied_offset, image_json FROM metadata_image WHERE id = 1'),
      imageSet: s('INSERT OR REPLACE INTO metadata_image (id, applied_offset, image_json) VALUES (1, ?, ?)'),
      producerIdsNext: s('SELECT next_producer_id FROM producer_ids WHERE id = 1'),
      producerIdsSet: s('INSERT OR REPLACE INTO producer_ids (id, next_producer_id) VALUES (1, ?)'),
    };
    const row = this.statements.clusterGet.get() as { cluster_id: string } | undefined;
    if (row === undefined) {
      this.clusterId = randomBytes(16).toString('base64url');
      this.statements.clusterInsert.run(this.clusterId);
    } else {
      this.clusterId = row.cluster_id;
    }
  }

  /** A single node's next block of producer ids, `count` long: stored before it is handed out, so never given twice. */
  takeProducerIdBlock(count: number): number {
    return this.db.transaction(() => {
      const row = this.statements.producerIdsNext.get() as { next_producer_id: number } | undefined;
      const first = row?.next_producer_id ?? 0;
      this.statements.producerIdsSet.run(first + count);
      return first;
    })();
  }

  /** Opens (creating if needed) the store at `path`; ':memory:' for a throwaway one. */
  static open(path: string, options: { idempotency?: IdempotencyBounds } = {}): MetadataStore {
    return new MetadataStore(openDatabase(path), options.idempotency ?? {
      countMax: limits.idempotencyKeyCountDefault,
      bytesMax: limits.idempotencyBytesDefault,
    });
  }

  /** The open database, for later stores (groups, keys) that share the file. */
  get database(): SqliteDatabase {
    return this.db;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  listTopics(): TopicRecord[] {
    return (this.statements.topicsList.all() as TopicRow[]).map((row) => this.toTopic(row));
  }

  getTopic(name: string): TopicRecord | undefined {
    const row = this.statements.topicGet.get(name) as TopicRow | undefined;
    return row === undefined ? undefined : this.toTopic(row);
  }

  private toTopic(row: TopicRow): TopicRecord {
    const configs: Record<string, string> = {};
    for (const { key, value } of this.statements.configsList.all(row.name) as Array<{ key: string; value: string }>) configs[key] = value;
    return {
      name: row.name,
      topicId: row.topic_id,
      partitionCount: row.partition_count,
      replicationFactor: row.replication_factor,
      configs,
      createdAtMs: row.created_at_ms,
    };
  }

  createTopic(topic: TopicRecord, partitions: PartitionRecord[]): void {
    this.db.transaction(() => {
      if (this.statements.topicGet.get(topic.name) !== undefined) throw new TopicExistsError(`topic '${topic.name}' already exists`);
      this.statements.topicInsert.run(topic.name, topic.topicId, topic.partitionCount, topic.replicationFactor, topic.createdAtMs);
      for (const [key, value] of Object.entries(topic.configs)) this.statements.configInsert.run(topic.name, key, value);
      for (const partition of partitions) this.insertPartition(partition);
    })();
  }

  private insertPartition(p: PartitionRecord): void {
    this.statements.partitionInsert.run(p.topic, p.partition, p.leader, p.leaderEpoch, JSON.stringify(p.replicas), JSON.stringify(p.isr), p.logStartOffset, p.partitionEpoch);
  }

  deleteTopic(name: string): boolean {
    const isDeleted = this.statements.topicDelete.run(name).changes > 0;
    // The topic's idempotent answers went with it (ON DELETE CASCADE).
    if (isDeleted) this.idempotency.recount();
    return isDeleted;
  }

  addPartitions(topic: string, partitions: PartitionRecord[]): void {
    this.db.transaction(() => {
      const existing = this.statements.partitionsList.all(topic).length;
      for (const partition of partitions) this.insertPartition(partition);
      this.statements.topicPartitionCount.run(existing + partitions.length, topic);
    })();
  }

  setTopicConfigs(topic: string, configs: Record<string, string>): void {
    this.db.transaction(() => {
      this.statements.configsClear.run(topic);
      for (const [key, value] of Object.entries(configs)) this.statements.configInsert.run(topic, key, value);
    })();
  }

  listPartitions(topic: string): PartitionRecord[] {
    return (this.statements.partitionsList.all(topic) as PartitionRow[]).map((row) => ({
      topic: row.topic,
      partition: row.partition,
      leader: row.leader,
      leaderEpoch: row.leader_epoch,
      replicas: JSON.parse(row.replicas) as number[],
      isr: JSON.parse(row.isr) as number[],
      logStartOffset: row.log_start_offset,
      partitionEpoch: row.partition_epoch,
    }));
  }

  /** logStartOffset only moves forward (retention); moving it back would resurrect deleted offsets. */
  setLogStartOffset(topic: string, partition: number, logStartOffset: number): void {
    const row = this.statements.logStartGet.get(topic, partition) as { log_start_offset: number } | undefined;
    if (row === undefined) return;
    assert(logStartOffset >= row.log_start_offset, () =>
      `logStartOffset of ${topic}-${partition} would move back from ${row.log_start_offset} to ${logStartOffset}`);
    this.statements.logStartSet.run(logStartOffset, topic, partition);
  }

  setPartitionLeadership(topic: string, partition: number, state: { leader: number; leaderEpoch: number; isr: number[]; replicas: number[]; partitionEpoch: number }): void {
    this.statements.leadershipSet.run(state.leader, state.leaderEpoch, JSON.stringify(state.isr), JSON.stringify(state.replicas), state.partitionEpoch, topic, partition);
  }

  /** The cluster's metadata image as this node last applied it (undefined before the first). */
  getMetadataImage(): { appliedOffset: number; imageJson: string } | undefined {
    const row = this.statements.imageGet.get() as { applied_offset: number; image_json: string } | undefined;
    return row === undefined ? undefined : { appliedOffset: row.applied_offset, imageJson: row.image_json };
  }

  setMetadataImage(appliedOffset: number, imageJson: string): void {
    this.statements.imageSet.run(appliedOffset, imageJson);
  }

  /** Runs `work` in one transaction (a metadata change and the image that records it). */
  transaction(work: () => void): void {
    this.db.transaction(work)();
  }
}
