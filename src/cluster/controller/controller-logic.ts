/**
 * ControllerLogic: what the active controller decides (KRaft's QuorumController and
 * ReplicationControlManager, without their I/O). Every method reads the current
 * MetadataImage and returns the records to commit, or throws a RunnelError for a
 * request it refuses; it never changes the image. The caller proposes the records to
 * the metadata quorum and applies them once committed, and asks the next question only
 * after that (decisions are taken one at a time, each on the image the last one made),
 * because two decisions taken on the same image would both bump the same epochs.
 *
 * The only state kept here is node liveness (last heartbeats), which a new active
 * controller starts afresh. Pure: the clock is `nowMs`, randomness is `random`.
 */
import { RunnelError } from '../../errors.js';
import { assert } from '../../util/assert.js';
import type { MetadataImage } from '../metadata/metadata-image.js';
import type { MetadataRecord, PartitionAssignment, TopicSpec } from '../metadata/records.js';
import { NodeLiveness, type LastContact } from './node-liveness.js';
import { electLeaderAfterFencing, partitionChange, type PartitionChangeRecord } from './partition-election.js';
import { placeReplicas } from './replica-placement.js';

export interface ControllerLogicOptions {
  /** The static node ids of the cluster (--peers): only these may register. */
  voterIds: readonly number[];
  /** A registered node not heard from for longer than this is fenced. */
  sessionTimeoutMs: number;
  /** In [0, 1), like Math.random: cluster and topic ids, the start of replica placement. */
  random: () => number;
}

export interface NodeHeartbeat {
  nodeId: number;
  url: string;
  incarnationId: string;
  /** The node's rack (--rack); absent when it has none. */
  rack?: string;
}

export interface CreateTopicRequest {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs?: Record<string, string>;
  /**
   * The id the asking node chose for the topic. The node's channel retries a request
   * whose answer it lost; an existing topic with this very id is that request's own
   * doing, and the retry succeeds instead of answering TOPIC_EXISTS.
   */
  topicId?: string;
}

export interface AlterTopicRequest {
  /** The new total count: it may only grow. */
  partitions?: number;
  /** The full new config map (merged and validated by the caller). */
  configs?: Record<string, string>;
}

/** KIP-497 AlterPartition: a partition leader asks to shrink or grow its ISR. */
export interface AlterPartitionRequest {
  nodeId: number;
  topic: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  isr: number[];
}

/** The topic config that allows electing a leader from outside the ISR (losing committed records). */
export const UNCLEAN_LEADER_ELECTION_CONFIG = 'unclean.leader.election.enable';

/** KIP-516 topic ids and the cluster id are 16 random bytes, base64url (22 characters). */
const ID_BYTES = 16;

export class ControllerLogic {
  readonly #voterIds: ReadonlySet<number>;
  readonly #random: () => number;
  readonly #liveness: NodeLiveness;

  constructor(options: ControllerLogicOptions) {
    assert(options.sessionTimeoutMs > 0, () => `sessionTimeoutMs must be positive, got ${options.sessionTimeoutMs}`);
    this.#voterIds = new Set(options.voterIds);
    this.#random = options.random;
    this.#liveness = new NodeLiveness(options.sessionTimeoutMs);
  }

  /**
   * This node just became the active controller (on an image that holds every
   * committed record). Every registered node gets a full session from now; the first
   * controller of a cluster also writes its cluster id. `previousLeader`: the node that
   * led the metadata quorum before and when this node last heard from it (its session
   * counts from then, see NodeLiveness).
   */
  activate(image: MetadataImage, nowMs: number, previousLeader?: LastContact): MetadataRecord[] {
    this.#liveness.reset(image.nodes.keys(), nowMs, previousLeader);
    if (image.clusterId !== null) return [];
    return [{ type: 'cluster-id', clusterId: this.#randomId() }];
  }

  /**
   * A node's heartbeat (KIP-631 BrokerHeartbeat and BrokerRegistration in one): it
   * registers the node when it is new or moved (a new URL or incarnation), unfences it
   * when it was fenced, and makes it the leader of every offline partition it can
   * lead: the ones whose ISR it is in, and those of topics that allow unclean election
   * where no ISR member is alive.
   *
   * A live node heartbeating with a new incarnation restarted within its session: its
   * old incarnation is gone, with whatever it held in memory (follower positions, the
   * high watermark) and possibly the unflushed tail of its logs. It must not go on
   * leading in the same leader epoch, so this heartbeat only fences it (leadership
   * moves, as for a silent node; KRaft likewise refuses a new incarnation until the old
   * one is fenced); its next heartbeat registers the new incarnation and unfences it.
   */
  heartbeat(image: MetadataImage, heartbeat: NodeHeartbeat, nowMs: number): MetadataRecord[] {
    this.#requireActive();
    const { nodeId, url, incarnationId, rack } = heartbeat;
    if (!this.#voterIds.has(nodeId)) {
      throw new RunnelError('INVALID_REQUEST', `node ${nodeId} is not one of this cluster's nodes [${[...this.#voterIds].sort((a, b) => a - b)}]`);
    }
    this.#liveness.recordHeartbeat(nodeId, nowMs);
    const node = image.nodes.get(nodeId);
    if (node !== undefined && !node.isFenced && node.registration.incarnationId !== incarnationId) return this.#fence(image, [nodeId]);
    const records: MetadataRecord[] = [];
    const { registration } = node ?? {};
    if (registration === undefined || registration.url !== url || registration.incarnationId !== incarnationId || registration.rack !== rack) {
      records.push({ type: 'register-node', node: { nodeId, url, incarnationId, ...(rack === undefined ? {} : { rack }) } });
    }
    if (node?.isFenced === true) records.push({ type: 'unfence-node', nodeId });
    for (const { spec, assignment } of image.allPartitions()) {
      if (assignment.leader !== -1 || !assignment.replicas.includes(nodeId)) continue;
      if (assignment.isr.includes(nodeId)) {
        records.push(partitionChange(spec.name, assignment, { leader: nodeId, isr: assignment.isr }));
      } else if (isUncleanElectionEnabled(spec) && !assignment.isr.some((member) => image.isNodeLive(member))) {
        // Unclean election (the topic asked for it): availability over the records only the ISR had.
        records.push(partitionChange(spec.name, assignment, { leader: nodeId, isr: [nodeId] }));
      }
    }
    return records;
  }

  /**
   * This node's Raft heard from `nodeId` at `atMs` (every node votes in the metadata
   * quorum and fetches from its leader several times a second): its process runs and
   * reaches the controller, which is what a heartbeat proves. It extends the session
   * only; registration and unfencing stay the heartbeat's. Heartbeats wait in the
   * controller's queue behind decisions being committed; Raft messages do not, so an
   * overloaded controller does not fence nodes it hears from.
   */
  recordContact(nodeId: number, atMs: number): void {
    if (this.#liveness.isActivated && this.#voterIds.has(nodeId)) this.#liveness.recordHeartbeat(nodeId, atMs);
  }

  /** This controller could not listen for `pauseMs`: see NodeLiveness.forgivePause. */
  forgivePause(pauseMs: number, nowMs: number): void {
    if (this.#liveness.isActivated) this.#liveness.forgivePause(pauseMs, nowMs);
  }

  /**
   * Fences every live node silent longer than the session timeout, and moves what it
   * led: see electLeaderAfterFencing. Nodes fenced together are all treated as gone,
   * so leadership never moves to a node fenced in the same tick, and each partition
   * changes at most once.
   */
  tick(image: MetadataImage, nowMs: number): MetadataRecord[] {
    this.#requireActive();
    const silentNodeIds = image.liveNodeIds().filter((nodeId) => !this.#liveness.hasSession(nodeId, nowMs));
    return silentNodeIds.length === 0 ? [] : this.#fence(image, silentNodeIds);
  }

  /**
   * A node stopping gracefully (Kafka's controlled shutdown): it is fenced now rather
   * than after its session times out, so its leaderships move to in-sync replicas
   * while it still answers, and clients see NOT_LEADER naming the new leader at once.
   */
  controlledShutdown(image: MetadataImage, nodeId: number): MetadataRecord[] {
    this.#requireActive();
    if (!image.isNodeLive(nodeId)) return [];
    return this.#fence(image, [nodeId]);
  }

  #fence(image: MetadataImage, fencedNodeIds: number[]): MetadataRecord[] {
    const records: MetadataRecord[] = fencedNodeIds.map((nodeId) => ({ type: 'fence-node', nodeId }));
    const fenced = new Set(fencedNodeIds);
    const isAlive = (nodeId: number): boolean => image.isNodeLive(nodeId) && !fenced.has(nodeId);
    for (const { spec, assignment } of image.allPartitions()) {
      if (!assignment.replicas.some((nodeId) => fenced.has(nodeId))) continue;
      const change = electLeaderAfterFencing(spec.name, assignment, fencedNodeIds, isAlive, isUncleanElectionEnabled(spec));
      if (change !== null) records.push(change);
    }
    return records;
  }

  createTopic(image: MetadataImage, request: CreateTopicRequest, nowMs: number): MetadataRecord[] {
    const { name, partitions: partitionCount, replicationFactor } = request;
    const existing = image.topic(name);
    if (existing !== undefined) {
      if (request.topicId !== undefined && existing.spec.topicId === request.topicId) return [];
      throw new RunnelError('TOPIC_EXISTS', `topic '${name}' already exists`);
    }
    if (!Number.isInteger(partitionCount) || partitionCount < 1) {
      throw new RunnelError('INVALID_PARTITIONS', `partitions must be a positive integer, got ${partitionCount}`);
    }
    const partitions = this.#placePartitions(image, replicationFactor, 0, partitionCount);
    const topic: TopicSpec = { name, topicId: request.topicId ?? this.#randomId(), replicationFactor, configs: { ...request.configs }, createdAtMs: nowMs };
    return [{ type: 'create-topic', topic, partitions }];
  }

  deleteTopic(image: MetadataImage, name: string): MetadataRecord[] {
    const topic = image.topic(name);
    if (topic === undefined) throw new RunnelError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`);
    return [{ type: 'delete-topic', name, topicId: topic.spec.topicId }];
  }

  /** Grows the partition count (new partitions placed like a new topic's) and/or replaces the configs; unchanged parts write nothing. */
  alterTopic(image: MetadataImage, name: string, change: AlterTopicRequest): MetadataRecord[] {
    const topic = image.topic(name);
    if (topic === undefined) throw new RunnelError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`);
    const records: MetadataRecord[] = [];
    const currentCount = topic.partitions.length;
    if (change.partitions !== undefined && change.partitions !== currentCount) {
      if (!Number.isInteger(change.partitions) || change.partitions < currentCount) {
        throw new RunnelError('INVALID_PARTITIONS', `topic '${name}' has ${currentCount} partitions; the count can only grow, got ${change.partitions}`);
      }
      const partitions = this.#placePartitions(image, topic.spec.replicationFactor, currentCount, change.partitions - currentCount);
      records.push({ type: 'add-partitions', name, partitions });
    }
    if (change.configs !== undefined && !haveSameEntries(change.configs, topic.spec.configs)) {
      records.push({ type: 'set-topic-configs', name, configs: { ...change.configs } });
    }
    return records;
  }

  /**
   * KIP-497 AlterPartition. Only the current leader, in its current leader epoch, may
   * change the ISR, and only from the partition epoch it last saw (so two changes
   * racing cannot both apply). The new ISR keeps the leader; a member it adds must be a
   * live replica that still has a session (KIP-841: never add a node about to be fenced).
   */
  alterPartition(image: MetadataImage, request: AlterPartitionRequest, nowMs: number): MetadataRecord[] {
    const { nodeId, topic: name, partition, isr } = request;
    const topic = image.topic(name);
    if (topic === undefined) throw new RunnelError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`);
    const current = topic.partitions[partition];
    if (current === undefined) throw new RunnelError('PARTITION_NOT_FOUND', `topic '${name}' has no partition ${partition}`);
    const what = `${name}-${partition}`;
    if (current.leader !== nodeId || current.leaderEpoch !== request.leaderEpoch) {
      throw new RunnelError('FENCED_LEADER_EPOCH', `node ${nodeId} in leader epoch ${request.leaderEpoch} does not lead ${what}: node ${current.leader} does, in leader epoch ${current.leaderEpoch}`, {
        leaderId: current.leader, leaderEpoch: current.leaderEpoch,
      });
    }
    if (current.partitionEpoch !== request.partitionEpoch) {
      throw new RunnelError('INVALID_UPDATE_VERSION', `${what} is at partition epoch ${current.partitionEpoch}, the request names ${request.partitionEpoch}`, {
        partitionEpoch: current.partitionEpoch,
      });
    }
    if (!Array.isArray(isr) || isr.length === 0 || new Set(isr).size !== isr.length) {
      throw new RunnelError('INVALID_REQUEST', `the ISR of ${what} must be a non-empty list of distinct node ids, got ${JSON.stringify(isr)}`);
    }
    if (!isr.includes(nodeId)) throw new RunnelError('INVALID_REQUEST', `the ISR of ${what} must keep its leader ${nodeId}, got [${isr}]`);
    for (const member of isr) {
      if (!current.replicas.includes(member)) throw new RunnelError('INVALID_REQUEST', `node ${member} is not a replica of ${what} [${current.replicas}]`);
      const isAdded = !current.isr.includes(member);
      if (!image.isNodeLive(member) || (isAdded && !this.#liveness.hasSession(member, nowMs))) {
        throw new RunnelError('INVALID_REQUEST', `node ${member} is fenced or not heartbeating: it cannot join the ISR of ${what}`);
      }
    }
    if (isr.length === current.isr.length && isr.every((member) => current.isr.includes(member))) return [];
    // Stored in replica order, so the same set always reads the same.
    const ordered = current.replicas.filter((member) => isr.includes(member));
    return [partitionChange(name, current, { leader: current.leader, isr: ordered })];
  }

  /**
   * Kafka's auto leader rebalance (auto.leader.rebalance.enable): leadership returns to
   * the preferred replica, replicas[0], wherever it is live and in the ISR but does not
   * lead, so leaders stay spread as placement spread them.
   */
  preferredLeaderElections(image: MetadataImage): MetadataRecord[] {
    const records: PartitionChangeRecord[] = [];
    for (const { spec, assignment } of image.allPartitions()) {
      const preferred = assignment.replicas[0];
      if (assignment.leader === preferred || !assignment.isr.includes(preferred) || !image.isNodeLive(preferred)) continue;
      records.push(partitionChange(spec.name, assignment, { leader: preferred, isr: assignment.isr }));
    }
    return records;
  }

  #placePartitions(image: MetadataImage, replicationFactor: number, firstPartition: number, partitionCount: number): PartitionAssignment[] {
    const nodeIds = image.liveNodeIds();
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > nodeIds.length) {
      throw new RunnelError(
        'INVALID_REPLICATION_FACTOR',
        `replication factor ${replicationFactor} is not possible: ${nodeIds.length} ${nodeIds.length === 1 ? 'node is' : 'nodes are'} alive`,
        { liveNodeCount: nodeIds.length },
      );
    }
    const startIndex = Math.floor(this.#random() * nodeIds.length) % nodeIds.length;
    return placeReplicas({ nodeIds, replicationFactor, firstPartition, partitionCount, startIndex }).map((replicas, index) => ({
      partition: firstPartition + index,
      replicas,
      isr: [...replicas],
      leader: replicas[0],
      leaderEpoch: 0,
      partitionEpoch: 0,
    }));
  }

  #randomId(): string {
    const bytes = Buffer.alloc(ID_BYTES);
    for (let index = 0; index < ID_BYTES; index++) bytes[index] = Math.floor(this.#random() * 256) & 0xff;
    return bytes.toString('base64url');
  }

  #requireActive(): void {
    // Liveness is meaningless before activate(): every node would look silent since time 0.
    assert(this.#liveness.isActivated, 'ControllerLogic: activate() must come first');
  }
}

function isUncleanElectionEnabled(spec: TopicSpec): boolean {
  return spec.configs[UNCLEAN_LEADER_ELECTION_CONFIG] === 'true';
}

function haveSameEntries(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}
