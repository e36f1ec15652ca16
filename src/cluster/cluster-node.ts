/**
 * ClusterNode: one node's part in the cluster. It runs the metadata quorum (Raft over
 * HTTP), applies the committed metadata log to this node's image and, through the
 * host, to its topics and SQLite view; it heartbeats the controller, becomes the
 * active controller when it leads the quorum, and runs partition replication.
 *
 * Applying is the one path every metadata change takes, on every node, the
 * controller's included: entry -> image -> (meta.db: image + topics, one transaction)
 * -> partition logs -> replica manager (become leader / follower).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { limits } from '../limits.js';
import type { MetadataStore } from '../meta/metadata-store.js';
import { ActiveController } from './active-controller.js';
import { ControllerChannel, type ControllerAnswer, type ControllerOperation } from './controller-channel.js';
import { MetadataImage } from './metadata/metadata-image.js';
import type { TopicState } from './metadata/metadata-state.js';
import type { MetadataRecord } from './metadata/records.js';
import { PeerClient } from './peer-client.js';
import { MetadataQuorum } from './quorum/metadata-quorum.js';
import { RaftStore } from './quorum/raft-store.js';
import type { LogEntry, RaftMessage, Snapshot } from './raft/types.js';
import { ReplicaManager } from './replication/replica-manager.js';
import { MetadataBarrier } from './metadata-barrier.js';
import type { ReplicaPartition } from './replication/replica-partition.js';

export interface ClusterPeer {
  nodeId: number;
  url: string;
}

/** What the node's broker does for the cluster (implemented over TopicManager). */
export interface ClusterHost {
  /** Makes local topics match the image; returns partitions whose leadership changed and removed ones. */
  reconcile(topics: ReadonlyMap<string, TopicState>, beforeRemove: (partition: ReplicaPartition) => void): { changed: ReplicaPartition[]; removed: ReplicaPartition[] };
  lookup(topic: string, partition: number): ReplicaPartition | undefined;
  /** Every partition this node holds a log for. */
  all(): ReplicaPartition[];
}

export interface ClusterNodeOptions {
  nodeId: number;
  peers: readonly ClusterPeer[];
  dataDir: string;
  store: MetadataStore;
  host: ClusterHost;
  clusterSecret?: string;
  nodeSessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  raftElectionTimeoutMs: number;
  /** Partitions one node holds at most: topic creates and partition adds that would place more are refused. */
  partitionsPerNodeMax?: number;
  /** This node's rack (--rack), registered with the controller; clients in the same rack read from it. */
  rack?: string;
  /** Runs after each applied batch or restored snapshot, once the image is this node's (API keys follow it). */
  onApplied?: () => void;
  onError?: (error: unknown, context: string) => void;
  /** A refusal expected in normal operation (the controller refusing an ISR change naming a fenced node); default onError. */
  onRefusal?: (error: unknown, context: string) => void;
  onInfo?: (message: string, details?: object) => void;
}

export interface ClusterStatus {
  clusterId: string | null;
  controller: number | null;
  nodes: Array<{ nodeId: number; url: string; rack: string | null; state: 'online' | 'fenced' | 'unknown' }>;
  metadata: { leaderId: number | null; epoch: number; highWatermark: number; logEndOffset: number; appliedOffset: number };
}

export class ClusterNode {
  readonly incarnationId = randomBytes(8).toString('base64url');
  readonly peers: PeerClient;
  readonly quorum: MetadataQuorum;
  readonly replicas: ReplicaManager;
  readonly channel: ControllerChannel;
  private readonly barrier: MetadataBarrier;
  private image = new MetadataImage();
  private appliedOffset = 0;
  private readonly raftStore: RaftStore;
  private readonly controller: ActiveController;
  private readonly appliedWaiters = new Set<{ offset: number; resolve: (isApplied: boolean) => void }>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private isHeartbeating = false;
  private hasCaughtUp = false;
  private isStopped = false;
  /** When a Raft message last came from each peer, and the last other node seen leading the quorum. */
  private readonly raftHeardMs = new Map<number, number>();
  private lastOtherQuorumLeader: number | undefined;

  constructor(private readonly options: ClusterNodeOptions) {
    this.peers = new PeerClient({ urls: new Map(options.peers.map((peer) => [peer.nodeId, peer.url])), clusterSecret: options.clusterSecret });
    this.raftStore = RaftStore.open(path.join(options.dataDir, 'metadata-log.db'));
    const saved = options.store.getMetadataImage();
    if (saved !== undefined) {
      this.image = MetadataImage.fromSnapshot(saved.imageJson);
      this.appliedOffset = saved.appliedOffset;
    }
    const appliedOffset = (): number => this.appliedOffset;
    this.quorum = new MetadataQuorum({
      nodeId: options.nodeId,
      voters: options.peers.map((peer) => peer.nodeId),
      store: this.raftStore,
      peers: this.peers,
      electionTimeoutMs: options.raftElectionTimeoutMs,
      stateMachine: {
        get appliedOffset() { return appliedOffset(); },
        apply: (entries) => this.apply(entries),
        snapshotData: () => this.image.toSnapshot(),
        restore: (snapshot) => this.restore(snapshot),
      },
      onLeadershipChange: () => {
        const leaderId = this.quorum.leaderId;
        if (leaderId !== null && leaderId !== options.nodeId) this.lastOtherQuorumLeader = leaderId;
        this.controller.onLeadershipChange();
      },
      onError: options.onError,
    });
    this.controller = new ActiveController({
      nodeId: options.nodeId,
      voterIds: options.peers.map((peer) => peer.nodeId),
      sessionTimeoutMs: options.nodeSessionTimeoutMs,
      partitionsPerNodeMax: options.partitionsPerNodeMax,
      quorum: this.quorum,
      image: () => this.image,
      previousLeader: () => {
        const nodeId = this.lastOtherQuorumLeader;
        const atMs = nodeId === undefined ? undefined : this.raftHeardMs.get(nodeId);
        return nodeId === undefined || atMs === undefined ? undefined : { nodeId, atMs };
      },
      raftContacts: () => this.raftHeardMs,
      onError: options.onError,
      onInfo: options.onInfo,
    });
    this.channel = new ControllerChannel({
      nodeId: options.nodeId,
      peers: this.peers,
      leaderId: () => this.quorum.leaderId,
      local: (operation, body) => this.controller.handle(operation, body),
      appliedOffset: () => this.appliedOffset,
      waitForApplied: (offset, timeoutMs) => this.waitForApplied(offset, timeoutMs),
    });
    this.barrier = new MetadataBarrier(() => this.channel.request('metadata-barrier', {}, limits.metadataBarrierTimeoutMs));
    this.replicas = new ReplicaManager({
      nodeId: options.nodeId,
      peerUrl: (nodeId) => this.peers.url(nodeId),
      advertisedUrl: (nodeId) => this.nodeUrl(nodeId),
      clusterSecret: options.clusterSecret,
      replicaLagTimeMaxMs: options.replicaLagTimeMaxMs,
      fetchMaxWaitMs: limits.replicaFetchWaitMs,
      fetchMaxBytes: limits.replicaFetchBytesMax,
      alterIsr: async (request) => {
        await this.channel.request('alter-partition', { ...request, nodeId: options.nodeId }, limits.alterPartitionRequestTimeoutMs);
      },
      lookup: (topic, partition) => options.host.lookup(topic, partition),
      onError: options.onError,
      onRefusal: options.onRefusal,
    });
  }

  get nodeId(): number {
    return this.options.nodeId;
  }

  /** The URL this node advertises (its own --peers entry). */
  get url(): string {
    return this.options.peers.find((peer) => peer.nodeId === this.options.nodeId)?.url ?? '';
  }

  /** Starts after the broker recovered its logs: takes the saved image, then joins the quorum. */
  start(): void {
    this.options.host.reconcile(this.image.topics, (partition) => this.replicas.onPartitionRemoved(partition));
    // Every partition, not only those the saved image changed: after a restart the logs
    // and meta.db already agree with the image, and a follower must still start fetching.
    for (const partition of this.options.host.all()) this.replicas.onLeadershipChange(partition);
    this.quorum.start();
    const intervalMs = Math.max(50, Math.floor(this.options.nodeSessionTimeoutMs / 6));
    this.heartbeatTimer = setInterval(() => this.heartbeat(), intervalMs);
    this.heartbeatTimer.unref();
    this.heartbeat();
  }

  /** Messages from a peer's quorum. */
  receiveRaft(messages: RaftMessage[]): void {
    const nowMs = Date.now();
    for (const message of messages) this.raftHeardMs.set(message.from, nowMs);
    this.quorum.receive(messages);
  }

  /** Handles POST /internal/v1/controller/<operation> (NOT_CONTROLLER unless active). */
  handleControllerRequest(operation: ControllerOperation, body: unknown): Promise<ControllerAnswer> {
    return this.controller.handle(operation, body);
  }

  /** Resolves once this node applied every metadata decision the controller made before the call (or after limits.metadataBarrierTimeoutMs). */
  syncMetadata(): Promise<void> {
    return this.barrier.sync();
  }

  /** Asks the controller and waits until this node applied the decision. */
  requestController(operation: ControllerOperation, body: unknown): Promise<ControllerAnswer> {
    return this.channel.request(operation, body, limits.controllerRequestTimeoutMs);
  }

  get metadata(): MetadataImage {
    return this.image;
  }

  /** The URL a node advertises to clients: its registration, else this node's --peers entry. */
  nodeUrl(nodeId: number): string | null {
    return this.image.nodeUrl(nodeId) ?? this.peers.url(nodeId) ?? null;
  }

  /** Caught up with the metadata log once since start (readiness). */
  get isCaughtUp(): boolean {
    if (this.hasCaughtUp) return true;
    const status = this.quorum.status();
    this.hasCaughtUp = status.leaderId !== null && status.highWatermark > 0 && this.appliedOffset >= status.highWatermark;
    return this.hasCaughtUp;
  }

  status(): ClusterStatus {
    const quorum = this.quorum.status();
    return {
      clusterId: this.image.clusterId,
      controller: quorum.leaderId,
      nodes: this.options.peers.map((peer) => {
        const node = this.image.nodes.get(peer.nodeId);
        return {
          nodeId: peer.nodeId,
          url: node?.registration.url ?? peer.url,
          // Until its registration is applied, a node knows its own rack only.
          rack: node?.registration.rack ?? (peer.nodeId === this.options.nodeId ? this.options.rack : undefined) ?? null,
          state: node === undefined ? 'unknown' as const : node.isFenced ? 'fenced' as const : 'online' as const,
        };
      }),
      metadata: {
        leaderId: quorum.leaderId,
        epoch: quorum.epoch,
        highWatermark: quorum.highWatermark,
        logEndOffset: quorum.logEndOffset,
        appliedOffset: this.appliedOffset,
      },
    };
  }

  async stop(): Promise<void> {
    if (this.isStopped) return;
    this.isStopped = true;
    clearInterval(this.heartbeatTimer);
    // Controlled shutdown: leaderships move now, not a session timeout from now. Bounded:
    // without a controller the node stops anyway and is fenced when its session ends.
    await this.channel.request('controlled-shutdown', { nodeId: this.options.nodeId }, limits.controlledShutdownTimeoutMs).catch(() => undefined);
    this.controller.stop();
    this.channel.close();
    this.quorum.stop();
    for (const waiter of this.appliedWaiters) waiter.resolve(false);
    this.appliedWaiters.clear();
    await this.replicas.close();
    await this.peers.close();
    this.raftStore.close();
  }

  private heartbeat(): void {
    if (this.isHeartbeating || this.isStopped) return;
    this.isHeartbeating = true;
    const { rack } = this.options;
    // Without a rack the heartbeat is as before racks existed, so a controller of an earlier version takes it.
    const body = { nodeId: this.options.nodeId, url: this.url, incarnationId: this.incarnationId, ...(rack === undefined ? {} : { rack }) };
    this.channel.request('heartbeat', body, Math.max(200, Math.floor(this.options.nodeSessionTimeoutMs / 3)), false)
      .catch(() => undefined)
      .finally(() => { this.isHeartbeating = false; });
  }

  private apply(entries: LogEntry[]): void {
    for (const entry of entries) {
      if (entry.offset !== this.appliedOffset) {
        throw new Error(`metadata entry ${entry.offset} applied out of order (applied up to ${this.appliedOffset})`);
      }
      if (entry.isControl !== true) this.image.apply(JSON.parse(entry.data) as MetadataRecord[]);
      this.appliedOffset = entry.offset + 1;
    }
    this.publish();
  }

  private restore(snapshot: Snapshot): void {
    this.image = MetadataImage.fromSnapshot(snapshot.data);
    this.appliedOffset = snapshot.id.endOffset;
    this.publish();
  }

  /** The image as of appliedOffset becomes this node's: SQLite view, logs, replication. */
  private publish(): void {
    let result: { changed: ReplicaPartition[]; removed: ReplicaPartition[] } = { changed: [], removed: [] };
    this.options.store.transaction(() => {
      result = this.options.host.reconcile(this.image.topics, (partition) => this.replicas.onPartitionRemoved(partition));
      this.options.store.setMetadataImage(this.appliedOffset, this.image.toSnapshot());
    });
    for (const partition of result.changed) this.replicas.onLeadershipChange(partition);
    this.options.onApplied?.();
    for (const waiter of [...this.appliedWaiters]) {
      if (waiter.offset <= this.appliedOffset) {
        this.appliedWaiters.delete(waiter);
        waiter.resolve(true);
      }
    }
  }

  private waitForApplied(offset: number, timeoutMs: number): Promise<boolean> {
    if (offset <= this.appliedOffset) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        offset,
        resolve: (isApplied: boolean) => {
          clearTimeout(timer);
          resolve(isApplied);
        },
      };
      const timer = setTimeout(() => {
        this.appliedWaiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      this.appliedWaiters.add(waiter);
    });
  }
}
