/**
 * Broker: one node's topics, produce, fetch and background work, built on storage/
 * and meta/, with no knowledge of HTTP. open() recovers every log before returning,
 * so a broker that exists is ready to serve; close() stops background work and shuts
 * every log down cleanly (fsync, clean checkpoint, SQLite closed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiKeyStore } from '../meta/api-key-store.js';
import { GroupStore } from '../meta/group-store.js';
import { MetadataStore } from '../meta/metadata-store.js';
import { LogManager } from '../storage/log-manager.js';
import { limits } from '../limits.js';
import { KeyManager } from './access-control.js';
import { Fetcher } from './fetch.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import { MemberPoller } from './groups/member-poll.js';
import { ClusterOffsetsLog } from './groups/offsets-log.js';
import { Producer } from './produce.js';
import { TopicManager } from './topic-manager.js';
import type { TopicConfigs } from './topic-config.js';
import { SingleNodeReplication, type Replication } from './replication.js';
import { LocalTopicAdmin, type TopicAdmin } from './topic-admin.js';

export interface BrokerOptions {
  dataDir: string;
  nodeId: number;
  /** Broker-wide topic config defaults, by topic config name. */
  topicDefaults: TopicConfigs;
  defaultPartitionCount: number;
  retentionCheckIntervalMs: number;
  /** Kafka's offsets.retention.minutes, in ms: offsets of groups empty this long expire. Default 7 days. */
  offsetsRetentionMs?: number;
  /** The bootstrap admin API key (--admin-key), if any. */
  adminKey?: string;
  /** Part of a cluster (--peers): high watermarks come from the ISR, leadership is checked. */
  isClustered?: boolean;
  /** Where background failures go (a logger in the server). */
  onError?: (error: unknown, context: string) => void;
}

export interface RecoverySummary {
  partitions: number;
  cleanPartitions: number;
  recoveredSegments: number;
  truncatedBytes: number;
  durationMs: number;
}

export class Broker {
  readonly topics: TopicManager;
  readonly producer: Producer;
  readonly fetcher: Fetcher;
  readonly groups: GroupCoordinator;
  /** Consumer groups in a cluster: coordinator placement, commits through __consumer_offsets, the applier. */
  readonly offsetsLog: ClusterOffsetsLog;
  readonly poller: MemberPoller;
  readonly keys: KeyManager;
  /** Told the duration of every log fsync (the HTTP layer's metrics set it). */
  fsyncListener: ((seconds: number) => void) | undefined;
  readonly recovery: RecoverySummary;
  /** Single node by default; the cluster wiring replaces it before recovery ends. */
  replication: Replication;
  /** Topic create/alter/delete: local on a single node, through the controller in a cluster. */
  admin: TopicAdmin;
  private isClosed = false;
  private isRecovered = false;
  private idempotencyTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly options: BrokerOptions,
    readonly store: MetadataStore,
    readonly logs: LogManager,
  ) {
    this.topics = new TopicManager(store, logs, {
      nodeId: options.nodeId,
      brokerDefaults: options.topicDefaults,
      defaultPartitionCount: options.defaultPartitionCount,
      isClustered: options.isClustered === true,
    });
    this.replication = new SingleNodeReplication(options.nodeId);
    this.admin = new LocalTopicAdmin(this.topics);
    this.producer = new Producer(this.topics, store, () => this.replication);
    this.fetcher = new Fetcher(this.topics, () => this.replication);
    const groupStore = new GroupStore(store.database);
    this.groups = new GroupCoordinator(this.topics, groupStore, {
      offsetsRetentionMs: options.offsetsRetentionMs ?? 7 * 24 * 60 * 60 * 1000,
      offsetsLog: () => (this.replication.isClustered ? this.offsetsLog : undefined),
      onError: options.onError,
    });
    this.offsetsLog = new ClusterOffsetsLog({
      topics: this.topics,
      producer: this.producer,
      store: groupStore,
      coordinator: this.groups,
      replication: () => this.replication,
      onError: options.onError,
    });
    this.poller = new MemberPoller(this.groups, this.topics);
    this.keys = new KeyManager(new ApiKeyStore(store.database), options.adminKey);
    this.recovery = { partitions: 0, cleanPartitions: 0, recoveredSegments: 0, truncatedBytes: 0, durationMs: 0 };
  }

  /** Opens the broker and recovers every log before returning (tests, tools). */
  static open(options: BrokerOptions): Broker {
    const broker = Broker.create(options);
    try {
      const startedMs = Date.now();
      broker.topics.loadAll();
      broker.finishRecovery(startedMs);
      return broker;
    } catch (error) {
      broker.store.close();
      throw error;
    }
  }

  /**
   * Opens SQLite and sets the broker up without touching the logs: the server listens
   * (answering 503 NOT_READY) while recover() brings the logs back.
   */
  static create(options: BrokerOptions): Broker {
    fs.mkdirSync(options.dataDir, { recursive: true });
    const store = MetadataStore.open(path.join(options.dataDir, 'meta.db'));
    let opened: Broker | undefined;
    const logs = new LogManager(path.join(options.dataDir, 'logs'), {
      retentionCheckIntervalMs: options.retentionCheckIntervalMs,
      onSegmentsDeleted: (name, log) => opened?.topics.recordLogStartOffset(name, log.logStartOffset),
      onFsync: (seconds) => opened?.fsyncListener?.(seconds),
      onError: options.onError,
    });
    try {
      opened = new Broker(options, store, logs);
      return opened;
    } catch (error) {
      store.close();
      throw error;
    }
  }

  /** Recovers every partition log, yielding between partitions; then the broker is ready. */
  async recover(): Promise<void> {
    const startedMs = Date.now();
    await this.topics.loadAllGradually(() => this.isClosed);
    if (!this.isClosed) this.finishRecovery(startedMs);
  }

  private finishRecovery(startedMs: number): void {
    for (const [, log] of this.logs.all) {
      this.recovery.partitions += 1;
      if (log.recovery.isCleanShutdown) this.recovery.cleanPartitions += 1;
      this.recovery.recoveredSegments += log.recovery.recoveredSegments;
      this.recovery.truncatedBytes += log.recovery.truncatedBytes;
    }
    this.recovery.durationMs = Date.now() - startedMs;
    this.groups.load();
    this.logs.start();
    this.groups.start();
    this.offsetsLog.start();
    this.idempotencyTimer = setInterval(() => {
      this.store.expireIdempotentResponses(Date.now() - limits.idempotencyRetentionMs);
    }, 60 * 60 * 1000);
    this.idempotencyTimer.unref();
    this.isRecovered = true;
  }

  /** Storage recovered, SQLite open, not stopping: able to serve. */
  get isReady(): boolean {
    return this.isRecovered && !this.isClosed;
  }

  get clusterId(): string {
    return this.store.clusterId;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** One retention pass now (also runs every retention-check-interval-ms). */
  runRetention(nowMs = Date.now()): number {
    return this.logs.runRetention(nowMs);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.idempotencyTimer);
    this.groups.close();
    this.offsetsLog.close();
    for (const topic of this.topics.list()) for (const state of topic.partitions) state.notifier.notify();
    await this.logs.close();
    this.store.close();
  }
}
