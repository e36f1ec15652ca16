/**
 * ActiveController: the controller role of the node that leads the metadata quorum
 * (KRaft's active controller). Requests — heartbeats, topic changes, ISR changes —
 * and the periodic liveness check run one at a time: each asks ControllerLogic for
 * the records to write against the current image, proposes them, and waits until
 * they are committed and applied, so the next decision sees the last one.
 * Anywhere else (a follower of the quorum, a leader whose epoch is not yet committed)
 * every request gets NOT_CONTROLLER, and the asking node retries on the right one.
 */
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { ControllerAnswer, ControllerOperation } from './controller-channel.js';
import { ControllerLogic } from './controller/controller-logic.js';
import type { LastContact } from './controller/node-liveness.js';
import { checkPartitionsPerNode } from './controller/partition-cap.js';
import { apiKeyRecord, apiKeyRemovedRecord } from './metadata/api-keys.js';
import type { MetadataImage } from './metadata/metadata-image.js';
import type { MetadataRecord } from './metadata/records.js';
import type { MetadataQuorum } from './quorum/metadata-quorum.js';
import { NotLeaderError } from './raft/types.js';

export interface ActiveControllerOptions {
  nodeId: number;
  voterIds: number[];
  sessionTimeoutMs: number;
  /** Partitions one node holds at most (user topic creates and partition adds; the offsets topic is exempt). */
  partitionsPerNodeMax?: number;
  quorum: MetadataQuorum;
  image: () => MetadataImage;
  /** The node that led the metadata quorum before this one, and when this node last heard from it. */
  previousLeader?: () => LastContact | undefined;
  /** When this node last received a Raft message from each node (proof of life, see ControllerLogic.recordContact). */
  raftContacts?: () => ReadonlyMap<number, number>;
  onError?: (error: unknown, context: string) => void;
  onInfo?: (message: string, details?: object) => void;
}

/** Kafka's internal topic of committed offsets: the group coordinators write commits there. */
export const OFFSETS_TOPIC = '__consumer_offsets';
/** Kafka's offsets.topic.num.partitions is 50; a small cluster does not need that many. */
export const OFFSETS_TOPIC_PARTITIONS = 10;

/**
 * The offsets topic's configs, as Kafka's: compacted (a commit is keyed by group, topic
 * and partition, so only the last one of each stays, and deleted or expired groups
 * leave tombstones), in segments of offsets.topic.segment.bytes (100 MiB) so the
 * cleaner gets closed segments to clean.
 */
export function offsetsTopicConfigs(replicationFactor: number): Record<string, string> {
  return { 'min.insync.replicas': String(Math.min(2, replicationFactor)), 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) };
}

/**
 * The configs an offsets topic made by an older version (not compacted, retention.ms -1:
 * every commit kept) is given, keeping what it had set otherwise; undefined when it is
 * compacted already.
 */
export function offsetsTopicUpgrade(configs: Readonly<Record<string, string>>, replicationFactor: number): Record<string, string> | undefined {
  if (configs['cleanup.policy'] === 'compact') return undefined;
  const { 'retention.ms': _forever, ...kept } = configs;
  return { ...offsetsTopicConfigs(replicationFactor), ...kept, 'cleanup.policy': 'compact' };
}

export class ActiveController {
  private logic: ControllerLogic | undefined;
  private activeEpoch = -1;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastPreferredCheckMs = 0;
  /** Past every producer-id block this controller proposed (committed or not): a floor for the next one. */
  private nextProducerId = 0;
  private lastTimerMs = 0;
  private isStopped = false;

  constructor(private readonly options: ActiveControllerOptions) {}

  private withinPartitionCap(image: MetadataImage, records: MetadataRecord[]): MetadataRecord[] {
    if (this.options.partitionsPerNodeMax !== undefined) checkPartitionsPerNode(image, records, this.options.partitionsPerNodeMax);
    return records;
  }

  /** The quorum's role changed: become the active controller, or stop being it. */
  onLeadershipChange(): void {
    const { quorum } = this.options;
    if (this.isStopped) return;
    if (quorum.isActiveLeader) {
      const { epoch } = quorum.status();
      if (epoch === this.activeEpoch) return;
      this.activeEpoch = epoch;
      this.logic = new ControllerLogic({ voterIds: this.options.voterIds, sessionTimeoutMs: this.options.sessionTimeoutMs, random: Math.random });
      this.options.onInfo?.('this node is now the active controller', { epoch });
      this.lastPreferredCheckMs = Date.now();
      const previousLeader = this.options.previousLeader?.();
      void this.enqueue(async () => this.commit(this.requireLogic().activate(this.options.image(), Date.now(), previousLeader)), 'activate');
      clearInterval(this.timer);
      this.lastTimerMs = Date.now();
      this.timer = setInterval(() => this.onTimer(), limits.controllerTickIntervalMs);
      this.timer.unref();
    } else if (this.logic !== undefined) {
      this.logic = undefined;
      this.activeEpoch = -1;
      clearInterval(this.timer);
    }
  }

  handle(operation: ControllerOperation, body: unknown): Promise<ControllerAnswer> {
    if (this.logic === undefined || !this.options.quorum.isActiveLeader) return Promise.reject(this.notController());
    // Raft's read index: every decision answered so far is committed below the high
    // watermark; a node that applied up to it knows them all. Nothing to write or queue.
    if (operation === 'metadata-barrier') return Promise.resolve({ appliedOffset: this.options.quorum.status().highWatermark });
    return this.enqueue(async () => {
      const logic = this.requireLogic();
      const image = this.options.image();
      const nowMs = Date.now();
      const input = body as never;
      switch (operation) {
        case 'heartbeat': return this.commit(logic.heartbeat(image, input, nowMs));
        case 'create-topic': {
          const records = logic.createTopic(image, input, nowMs);
          // A retried request whose topic exists already: answer where it stands, so the asking node waits for it.
          if (records.length === 0) return { appliedOffset: this.options.quorum.status().appliedOffset };
          return this.commit(this.withinPartitionCap(image, records));
        }
        case 'alter-topic': {
          const { name, ...change } = body as { name: string; partitions?: number; configs?: Record<string, string> };
          return this.commit(this.withinPartitionCap(image, logic.alterTopic(image, name, change)));
        }
        case 'delete-topic': return this.commit(logic.deleteTopic(image, (body as { name: string }).name));
        case 'alter-partition': return this.commit(logic.alterPartition(image, input, nowMs));
        case 'controlled-shutdown': return this.commit(logic.controlledShutdown(image, (body as { nodeId: number }).nodeId));
        case 'allocate-producer-ids': return this.allocateProducerIds(image, (body as { nodeId: number }).nodeId);
        // The node that made the key sends only its id, name, secret hash, grants and time.
        case 'create-api-key': return this.commit([apiKeyRecord(image.apiKeys, body)]);
        case 'delete-api-key': return this.commit([apiKeyRemovedRecord(image.apiKeys, body)]);
      }
    }, operation);
  }

  stop(): void {
    this.isStopped = true;
    this.logic = undefined;
    clearInterval(this.timer);
  }

  /**
   * Timers run before the poll phase reads sockets: a timer this late means this
   * process did not run for a while (a stalled event loop, SIGSTOP), and the heartbeats
   * of that time are still unread. That time does not count against node sessions.
   */
  private onTimer(): void {
    const nowMs = Date.now();
    const lateMs = nowMs - this.lastTimerMs - limits.controllerTickIntervalMs;
    this.lastTimerMs = nowMs;
    if (lateMs > limits.controllerPauseForgivenMs) this.logic?.forgivePause(lateMs, nowMs);
    void this.enqueue(async () => this.tick(), 'tick').catch(() => undefined);
  }

  private async tick(): Promise<ControllerAnswer> {
    const logic = this.requireLogic();
    const nowMs = Date.now();
    for (const [nodeId, atMs] of this.options.raftContacts?.() ?? []) logic.recordContact(nodeId, Math.min(atMs, nowMs));
    const records = logic.tick(this.options.image(), nowMs);
    if (records.length > 0) {
      this.options.onInfo?.('controller: fencing silent nodes', { records: records.filter((r) => r.type === 'fence-node') });
      return this.commit(records);
    }
    // The offsets topic is created once enough nodes are alive for its replication
    // factor (min(3, voters), Kafka's offsets.topic.replication.factor).
    const image = this.options.image();
    const offsetsReplicationFactor = Math.min(3, this.options.voterIds.length);
    const offsetsTopic = image.topic(OFFSETS_TOPIC);
    if (offsetsTopic === undefined && image.liveNodeIds().length >= offsetsReplicationFactor) {
      return this.commit(logic.createTopic(image, {
        name: OFFSETS_TOPIC,
        partitions: OFFSETS_TOPIC_PARTITIONS,
        replicationFactor: offsetsReplicationFactor,
        configs: offsetsTopicConfigs(offsetsReplicationFactor),
      }, nowMs));
    }
    // Made by an older version, which kept every commit: compacted from now on.
    const upgraded = offsetsTopic === undefined ? undefined : offsetsTopicUpgrade(offsetsTopic.spec.configs, offsetsTopic.spec.replicationFactor);
    if (upgraded !== undefined) return this.commit(logic.alterTopic(image, OFFSETS_TOPIC, { configs: upgraded }));
    if (nowMs - this.lastPreferredCheckMs >= limits.preferredLeaderCheckIntervalMs) {
      this.lastPreferredCheckMs = nowMs;
      return this.commit(logic.preferredLeaderElections(this.options.image()));
    }
    return { appliedOffset: 0 };
  }

  /**
   * KIP-730: the next block of producer ids, to one node. Operations run one at a time,
   * and the block is counted from what this controller proposed as well as from the
   * image, so no two nodes ever get the same ids.
   */
  private async allocateProducerIds(image: MetadataImage, nodeId: number): Promise<ControllerAnswer> {
    const first = Math.max(image.nextProducerId, this.nextProducerId);
    const count = limits.producerIdBlockSize;
    this.nextProducerId = first + count;
    const answer = await this.commit([{ type: 'producer-ids', nodeId, nextProducerId: first + count }]);
    return { ...answer, firstProducerId: first, producerIdCount: count };
  }

  private async commit(records: MetadataRecord[]): Promise<ControllerAnswer> {
    if (records.length === 0) return { appliedOffset: 0 };
    try {
      const offset = await this.options.quorum.propose([JSON.stringify(records)]);
      return { appliedOffset: offset + 1 };
    } catch (error) {
      if (error instanceof NotLeaderError) throw this.notController();
      throw error;
    }
  }

  private enqueue<T>(work: () => Promise<T>, context: string): Promise<T> {
    const run = this.queue.then(() => {
      if (this.logic === undefined || !this.options.quorum.isActiveLeader) throw this.notController();
      return work();
    });
    this.queue = run.catch((error: unknown) => {
      if (!(error instanceof RunnelError)) this.options.onError?.(error, `controller ${context}`);
    });
    return run;
  }

  private requireLogic(): ControllerLogic {
    if (this.logic === undefined) throw this.notController();
    return this.logic;
  }

  private notController(): RunnelError {
    const leaderId = this.options.quorum.leaderId;
    return new RunnelError('NOT_CONTROLLER', leaderId === null || leaderId === this.options.nodeId
      ? 'no controller is active yet; retry shortly'
      : `node ${leaderId} is the active controller`, { controllerId: leaderId === this.options.nodeId ? null : leaderId });
  }
}
