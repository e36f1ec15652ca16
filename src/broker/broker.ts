/**
 * Broker: one node's topics, produce, fetch and background work, built on storage/
 * and meta/, with no knowledge of HTTP. node/ builds its parts (SQLite, the log
 * manager, the topics, replication and topic administration, single node or cluster)
 * and hands them in; recover() brings the logs back, and only then is the broker
 * ready to serve; close() stops background work and shuts every log down cleanly
 * (fsync, clean checkpoint, SQLite closed).
 */
import type { IdempotencyBounds } from '../meta/idempotency-store.js';
import { ApiKeyStore } from '../meta/api-key-store.js';
import { GroupStore } from '../meta/group-store.js';
import type { MetadataStore } from '../meta/metadata-store.js';
import { DiskSpace } from '../storage/disk-space.js';
import type { LogManager } from '../storage/log-manager.js';
import { limits } from '../limits.js';
import { KeyManager, type ClusterKeyLog } from './access-control.js';
import { Fetcher } from './fetch.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import { MemberPoller } from './groups/member-poll.js';
import { PartitionRanges } from './groups/partition-ranges.js';
import { ClusterOffsetsLog } from './groups/offsets-log.js';
import { Producer } from './produce.js';
import type { TopicManager } from './topic-manager.js';
import type { TopicConfigs } from './topic-config.js';
import type { Replication } from './replication.js';
import type { TopicAdmin } from './topic-admin.js';
import { ProducerIds, type TakeProducerIdBlock } from './producer-ids.js';
import { ShareCoordinator } from './share/share-coordinator.js';
import type { ShareDefaults } from './share/share-configs.js';
import { SharePlacement } from './share/share-placement.js';
import { ShareStateLog } from './share/share-state-log.js';

export interface BrokerOptions {
  dataDir: string;
  nodeId: number;
  /** Broker-wide topic config defaults, by topic config name. */
  topicDefaults: TopicConfigs;
  defaultPartitionCount: number;
  /** Partitions this node holds at most (--max-partitions). */
  partitionsMax?: number;
  /** Segment files kept open at most (0 or absent: unbounded; node/open-file-budget.ts sets it). */
  openLogFilesMax?: number;
  /** Producers remembered at most across every partition (--producer-states-max); unbounded when not given. */
  producerStatesMax?: number;
  retentionCheckIntervalMs: number;
  /** The compaction cleaner's key-map memory, bytes/s limit and idle wait (storage/cleaner); defaults when not given. */
  cleaner?: { dedupeBufferBytes?: number; ioBytesPerSecond?: number; backoffMs?: number };
  /** Memory for the key indexes of compacted partitions (--key-index-memory-bytes); unbounded when not given. */
  keyIndexMemoryBytes?: number;
  /** Kafka's offsets.retention.minutes, in ms: offsets of groups empty this long expire. Default 7 days. */
  offsetsRetentionMs?: number;
  /** Share groups' defaults (share.record.lock.duration.ms, ...); Kafka's when not given. */
  shareDefaults?: Partial<ShareDefaults>;
  /** Bounds of the Idempotency-Key answers kept in meta.db (defaults: limits.ts). */
  idempotency?: IdempotencyBounds;
  /** The bootstrap admin API key (--admin-key), if any. */
  adminKey?: string;
  /** Part of a cluster (--peers): high watermarks come from the ISR, leadership is checked. */
  isClustered?: boolean;
  /** Where background failures go (a logger in the server). */
  onError?: (error: unknown, context: string) => void;
  /** Produce is refused (507 DISK_FULL) at or below this many free bytes; default 1% of the filesystem, at most 256 MiB. */
  diskFreeMinBytes?: number;
  /** Where storage warnings go (truncations at recovery, damaged batches found on read): a warn line in the server. */
  onWarning?: (message: string, details: Record<string, unknown>) => void;
}

/** What a broker is built on; node/ makes them in this order and wires the cluster in between. */
export interface BrokerParts {
  store: MetadataStore;
  logs: LogManager;
  topics: TopicManager;
  /** Single node, or leadership, high watermark and forwarding from the cluster. */
  replication: Replication;
  /** Topic create/alter/delete: local on a single node, through the controller in a cluster. */
  admin: TopicAdmin;
  /** Blocks of producer ids: from meta.db on a single node, from the controller in a cluster. */
  takeProducerIdBlock?: TakeProducerIdBlock;
  /** API keys: in meta.db on a single node, in the metadata log in a cluster. */
  clusterKeys?: ClusterKeyLog;
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
  /** Share groups (KIP-932 queues), their state in __share_group_state. */
  readonly shareGroups: ShareCoordinator;
  readonly keys: KeyManager;
  /** Told the duration of every log fsync (the HTTP layer's metrics set it). */
  fsyncListener: ((seconds: number) => void) | undefined;
  readonly recovery: RecoverySummary;
  /** Single node, or the cluster's (node/ decides before the broker exists). */
  readonly replication: Replication;
  /** Topic create/alter/delete: local on a single node, through the controller in a cluster. */
  readonly admin: TopicAdmin;
  /** POST /v1/producers: ids for idempotent producers. */
  readonly producerIds: ProducerIds;
  readonly store: MetadataStore;
  readonly logs: LogManager;
  /** The data directory's free space against the floor (--disk-free-min-bytes). */
  readonly disk: DiskSpace;
  private isClosed = false;
  private isRecovered = false;
  private idempotencyTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: BrokerOptions, parts: BrokerParts) {
    this.store = parts.store;
    this.logs = parts.logs;
    this.topics = parts.topics;
    this.replication = parts.replication;
    this.admin = parts.admin;
    const blockSize = limits.producerIdBlockSize;
    this.producerIds = new ProducerIds(parts.takeProducerIdBlock ?? (async () => ({ firstProducerId: parts.store.takeProducerIdBlock(blockSize), count: blockSize })));
    this.disk = new DiskSpace(options.dataDir, { freeMinBytes: options.diskFreeMinBytes, onError: options.onError });
    this.producer = new Producer(this.topics, this.store, this.replication, this.disk);
    this.fetcher = new Fetcher(this.topics, this.replication);
    const groupStore = new GroupStore(this.store.database);
    this.groups = new GroupCoordinator(this.topics, groupStore, {
      ranges: new PartitionRanges(this.topics, this.replication),
      offsetsRetentionMs: options.offsetsRetentionMs ?? 7 * 24 * 60 * 60 * 1000,
      offsetsLog: () => (this.replication.isClustered ? this.offsetsLog : undefined),
      onError: options.onError,
    });
    this.offsetsLog = new ClusterOffsetsLog({
      topics: this.topics,
      producer: this.producer,
      store: groupStore,
      coordinator: this.groups,
      replication: this.replication,
      onError: options.onError,
    });
    this.poller = new MemberPoller(this.groups, this.topics, this.replication);
    const sharePlacement = new SharePlacement({ topics: this.topics, replication: this.replication, admin: this.admin, onError: options.onError });
    this.shareGroups = new ShareCoordinator(this.topics, new ShareStateLog(this.topics, this.producer, sharePlacement), {
      defaults: options.shareDefaults,
      replication: this.replication,
      producer: this.producer,
    });
    this.keys = new KeyManager(new ApiKeyStore(this.store.database), options.adminKey, parts.clusterKeys);
    this.recovery = { partitions: 0, cleanPartitions: 0, recoveredSegments: 0, truncatedBytes: 0, durationMs: 0 };
  }

  /** Recovers every partition log at once, without yielding (tests and tools, before serving). */
  recoverAtOnce(): void {
    const startedMs = Date.now();
    this.topics.loadAll();
    this.finishRecovery(startedMs);
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
    this.shareGroups.load();
    this.logs.start();
    this.disk.start();
    this.groups.start();
    this.offsetsLog.start();
    this.idempotencyTimer = setInterval(() => {
      try {
        this.store.idempotency.expire(Date.now() - limits.idempotencyRetentionMs);
      } catch (error) {
        // A full disk (SQLITE_FULL) must not end the process from a timer.
        this.options.onError?.(error, 'idempotency expiry');
      }
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
    this.disk.close();
    this.groups.close();
    this.shareGroups.close();
    this.offsetsLog.close();
    for (const topic of this.topics.list()) for (const state of topic.partitions) state.notifier.notify();
    await this.logs.close();
    this.store.close();
  }
}
