/**
 * MetadataImage: the cluster's metadata as the committed metadata log builds it
 * (KIP-631's MetadataImage). Every node holds one and applies each committed entry's
 * records to it, in log order; the active controller reads it to decide what to write
 * next. Applying the same log always gives the same image, and `apply` says what
 * changed (a MetadataDelta) so the node can act on it: open or delete partition logs,
 * become leader or follower, reload configs.
 *
 * A record that cannot apply (an unknown topic, a leader epoch that goes back, a
 * leader that is fenced) means the metadata log is corrupt or the controller has a
 * bug: that is a broken invariant, so `apply` asserts rather than skipping it. A
 * batch is checked whole before any of it is applied, so a failed apply leaves the
 * image as it was.
 *
 * Values handed out (registrations, topic specs, partition assignments) are never
 * mutated afterwards: a change replaces the object, so a caller may keep a reference
 * as a consistent view of one moment.
 *
 * Pure: no I/O, no clock.
 */
import { assert } from '../../util/assert.js';
import { apiKeyProblem, normalApiKey } from './api-keys.js';
import { checkAssignment, checkNodeRegistration, checkTopicSpec, type NodeLookup } from './metadata-checks.js';
import { imageFromSnapshot, imageToSnapshot } from './metadata-snapshot.js';
import type { MetadataView, NodeState, TopicState } from './metadata-state.js';
import type { ApiKeySpec, MetadataRecord, PartitionAssignment, TopicSpec } from './records.js';

export interface PartitionRef {
  topic: string;
  partition: number;
}

/** What one `apply` changed; each list in the order the records first named it, without repeats. */
export interface MetadataDelta {
  /** The cluster id a cluster-id record set, else null. */
  clusterId: string | null;
  createdTopics: string[];
  /** The node deletes these topics' logs (by topicId, so a topic re-created under the same name is another one). */
  deletedTopics: { name: string; topicId: string }[];
  /** Partitions that are new, or whose leader, epochs, ISR or replicas changed (not those of deleted topics). */
  changedPartitions: PartitionRef[];
  /** Topics whose configs were set (not created or deleted ones). */
  changedConfigs: string[];
  /** Nodes registered, re-registered, fenced or unfenced. */
  changedNodes: number[];
}

export class MetadataImage implements NodeLookup, MetadataView {
  #clusterId: string | null = null;
  /** The first producer id no node has been given yet (KIP-730 blocks). */
  #nextProducerId = 0;
  readonly #nodes = new Map<number, NodeState>();
  readonly #topics = new Map<string, TopicState>();
  /** API keys by id: every node authenticates with these (never a secret, only its SHA-256). */
  readonly #apiKeys = new Map<string, ApiKeySpec>();

  get clusterId(): string | null {
    return this.#clusterId;
  }

  get nextProducerId(): number {
    return this.#nextProducerId;
  }

  get nodes(): ReadonlyMap<number, NodeState> {
    return this.#nodes;
  }

  get topics(): ReadonlyMap<string, TopicState> {
    return this.#topics;
  }

  get apiKeys(): ReadonlyMap<string, ApiKeySpec> {
    return this.#apiKeys;
  }

  /**
   * Applies the records of one committed entry, in order, and returns what changed.
   * The batch is first applied to a copy, so a record that cannot apply throws
   * (InvariantError) and leaves this image untouched.
   */
  apply(records: readonly MetadataRecord[]): MetadataDelta {
    const next = this.#copy();
    const delta = new DeltaBuilder();
    for (const record of records) next.#applyOne(record, delta);
    this.#clusterId = next.#clusterId;
    this.#nextProducerId = next.#nextProducerId;
    replaceMap(this.#nodes, next.#nodes);
    replaceMap(this.#topics, next.#topics);
    replaceMap(this.#apiKeys, next.#apiKeys);
    return delta.build();
  }

  // --- Read helpers for the node and the HTTP layer ---------------------------------

  topic(name: string): TopicState | undefined {
    return this.#topics.get(name);
  }

  partition(topic: string, partition: number): PartitionAssignment | undefined {
    return this.#topics.get(topic)?.partitions[partition];
  }

  isNodeLive(nodeId: number): boolean {
    const node = this.#nodes.get(nodeId);
    return node !== undefined && !node.isFenced;
  }

  isNodeRegistered(nodeId: number): boolean {
    return this.#nodes.has(nodeId);
  }

  /** Registered and not fenced, ascending. */
  liveNodeIds(): number[] {
    return [...this.#nodes.values()].filter((node) => !node.isFenced).map((node) => node.registration.nodeId).sort(byNumber);
  }

  nodeUrl(nodeId: number): string | undefined {
    return this.#nodes.get(nodeId)?.registration.url;
  }

  /** The partitions this node leads, by topic name then partition. */
  partitionsLedBy(nodeId: number): PartitionRef[] {
    return this.#partitionsWhere((assignment) => assignment.leader === nodeId);
  }

  /** The partitions this node holds a replica of (leading or following), by topic name then partition. */
  partitionsWithReplica(nodeId: number): PartitionRef[] {
    return this.#partitionsWhere((assignment) => assignment.replicas.includes(nodeId));
  }

  /** Every partition of every topic, by topic name then partition: the controller walks them in this order. */
  *allPartitions(): Generator<{ spec: TopicSpec; assignment: PartitionAssignment }> {
    for (const name of [...this.#topics.keys()].sort()) {
      const topic = this.#topics.get(name) as TopicState;
      for (const assignment of topic.partitions) yield { spec: topic.spec, assignment };
    }
  }

  // --- Snapshots ---------------------------------------------------------------------

  /** JSON with a stable order (nodes by id, topics by name, config keys sorted): equal images give equal text. */
  toSnapshot(): string {
    return imageToSnapshot(this);
  }

  /** Rebuilds an image by applying the records the snapshot describes, so it is checked like the log. */
  static fromSnapshot(text: string): MetadataImage {
    const image = new MetadataImage();
    image.apply(imageFromSnapshot(text));
    return image;
  }

  // --- Applying one record -----------------------------------------------------------

  #applyOne(record: MetadataRecord, delta: DeltaBuilder): void {
    switch (record.type) {
      case 'cluster-id': {
        assert(typeof record.clusterId === 'string' && record.clusterId.length > 0, 'cluster-id: the cluster id must be a non-empty string');
        // KIP-631: the first controller writes it once; a second one means two clusters' logs met.
        assert(this.#clusterId === null, () => `cluster-id: the cluster id is already ${this.#clusterId}, the log says ${record.clusterId}`);
        this.#clusterId = record.clusterId;
        delta.clusterId = record.clusterId;
        return;
      }
      case 'producer-ids': {
        // KIP-730: a block of producer ids went to a node; ids below nextProducerId are never given again.
        assert(Number.isSafeInteger(record.nextProducerId) && record.nextProducerId > this.#nextProducerId,
          () => `producer-ids: nextProducerId ${record.nextProducerId} does not move past ${this.#nextProducerId}`);
        this.#nextProducerId = record.nextProducerId;
        return;
      }
      case 'register-node': {
        checkNodeRegistration(record.node);
        const existing = this.#nodes.get(record.node.nodeId);
        // A re-registration (new URL or incarnation) keeps the fenced state: the controller unfences explicitly.
        this.#nodes.set(record.node.nodeId, { registration: { ...record.node }, isFenced: existing?.isFenced ?? false });
        delta.node(record.node.nodeId);
        return;
      }
      case 'fence-node':
      case 'unfence-node': {
        const isFencing = record.type === 'fence-node';
        const node = this.#nodes.get(record.nodeId);
        assert(node !== undefined, () => `${record.type}: node ${record.nodeId} is not registered`);
        assert(node.isFenced !== isFencing, () => `${record.type}: node ${record.nodeId} is already ${isFencing ? 'fenced' : 'unfenced'}`);
        this.#nodes.set(record.nodeId, { registration: node.registration, isFenced: isFencing });
        delta.node(record.nodeId);
        return;
      }
      case 'create-topic': {
        checkTopicSpec(record.topic);
        assert(!this.#topics.has(record.topic.name), () => `create-topic: topic '${record.topic.name}' already exists`);
        assert(record.partitions.length > 0, () => `create-topic: topic '${record.topic.name}' has no partitions`);
        const partitions = this.#checkedNewPartitions('create-topic', record.topic, 0, record.partitions);
        this.#topics.set(record.topic.name, { spec: { ...record.topic, configs: { ...record.topic.configs } }, partitions });
        delta.createdTopic(record.topic.name, partitions.length);
        return;
      }
      case 'delete-topic': {
        const topic = this.#requireTopic(record.type, record.name);
        assert(topic.spec.topicId === record.topicId, () => `delete-topic: topic '${record.name}' has id ${topic.spec.topicId}, the record names ${record.topicId}`);
        this.#topics.delete(record.name);
        delta.deletedTopic(record.name, record.topicId);
        return;
      }
      case 'add-partitions': {
        const topic = this.#requireTopic(record.type, record.name);
        assert(record.partitions.length > 0, () => `add-partitions: no partitions for topic '${record.name}'`);
        const added = this.#checkedNewPartitions('add-partitions', topic.spec, topic.partitions.length, record.partitions);
        this.#topics.set(record.name, { spec: topic.spec, partitions: [...topic.partitions, ...added] });
        for (const assignment of added) delta.partition(record.name, assignment.partition);
        return;
      }
      case 'set-topic-configs': {
        const topic = this.#requireTopic(record.type, record.name);
        assert(Object.values(record.configs).every((value) => typeof value === 'string'), () => `set-topic-configs: a config value of '${record.name}' is not text`);
        this.#topics.set(record.name, { spec: { ...topic.spec, configs: { ...record.configs } }, partitions: topic.partitions });
        delta.configs(record.name);
        return;
      }
      case 'partition-change': {
        this.#applyPartitionChange(record, delta);
        return;
      }
      case 'api-key':
      case 'api-key-removed':
        return this.#applyApiKey(record);
      default: {
        const unknown: never = record;
        assert(false, `unknown metadata record type ${JSON.stringify((unknown as { type: unknown }).type)}`);
      }
    }
  }

  #applyPartitionChange(record: Extract<MetadataRecord, { type: 'partition-change' }>, delta: DeltaBuilder): void {
    const what = `partition-change of ${record.topic}-${record.partition}`;
    const topic = this.#requireTopic('partition-change', record.topic);
    const current = topic.partitions[record.partition];
    assert(current !== undefined, () => `${what}: topic '${record.topic}' has ${topic.partitions.length} partitions`);
    // KIP-497: every change of leader or ISR bumps the partition epoch; a leader change
    // also bumps the leader epoch (KIP-101/279: replicas truncate at epoch boundaries,
    // so an epoch that goes back or repeats for another leader would let logs diverge).
    assert(record.partitionEpoch > current.partitionEpoch, () => `${what}: partition epoch ${record.partitionEpoch} does not follow ${current.partitionEpoch}`);
    const isLeaderChange = record.leader !== current.leader;
    assert(
      isLeaderChange ? record.leaderEpoch > current.leaderEpoch : record.leaderEpoch >= current.leaderEpoch,
      () => `${what}: leader epoch ${record.leaderEpoch} (leader ${record.leader}) does not follow ${current.leaderEpoch} (leader ${current.leader})`,
    );
    const next: PartitionAssignment = {
      partition: current.partition,
      replicas: current.replicas,
      isr: [...record.isr],
      leader: record.leader,
      leaderEpoch: record.leaderEpoch,
      partitionEpoch: record.partitionEpoch,
    };
    checkAssignment(what, next, topic.spec.replicationFactor, this);
    const partitions = [...topic.partitions];
    partitions[record.partition] = next;
    this.#topics.set(record.topic, { spec: topic.spec, partitions });
    delta.partition(record.topic, record.partition);
  }

  #applyApiKey(record: Extract<MetadataRecord, { type: 'api-key' | 'api-key-removed' }>): void {
    if (record.type === 'api-key-removed') {
      assert(this.#apiKeys.has(record.keyId), () => `api-key-removed: there is no key ${record.keyId}`);
      this.#apiKeys.delete(record.keyId);
      return;
    }
    const problem = apiKeyProblem(record.key);
    assert(problem === undefined, () => `api-key: ${problem}`);
    assert(!this.#apiKeys.has(record.key.keyId), () => `api-key: key ${record.key.keyId} already exists`);
    this.#apiKeys.set(record.key.keyId, normalApiKey(record.key));
  }

  #checkedNewPartitions(type: string, spec: TopicSpec, firstPartition: number, partitions: readonly PartitionAssignment[]): PartitionAssignment[] {
    return partitions.map((assignment, index) => {
      const what = `${type} of ${spec.name}-${firstPartition + index}`;
      assert(assignment.partition === firstPartition + index, () => `${what}: the record numbers it ${assignment.partition}`);
      const copy: PartitionAssignment = { ...assignment, replicas: [...assignment.replicas], isr: [...assignment.isr] };
      checkAssignment(what, copy, spec.replicationFactor, this);
      return copy;
    });
  }

  #requireTopic(type: string, name: string): TopicState {
    const topic = this.#topics.get(name);
    assert(topic !== undefined, () => `${type}: topic '${name}' does not exist`);
    return topic;
  }

  #partitionsWhere(matches: (assignment: PartitionAssignment) => boolean): PartitionRef[] {
    const refs: PartitionRef[] = [];
    for (const { spec, assignment } of this.allPartitions()) {
      if (matches(assignment)) refs.push({ topic: spec.name, partition: assignment.partition });
    }
    return refs;
  }

  /** A shallow copy: the values are immutable, so sharing them is safe. */
  #copy(): MetadataImage {
    const copy = new MetadataImage();
    copy.#clusterId = this.#clusterId;
    copy.#nextProducerId = this.#nextProducerId;
    replaceMap(copy.#nodes, this.#nodes);
    replaceMap(copy.#topics, this.#topics);
    replaceMap(copy.#apiKeys, this.#apiKeys);
    return copy;
  }
}

class DeltaBuilder {
  clusterId: string | null = null;
  readonly #createdTopics = new Set<string>();
  readonly #deletedTopics: { name: string; topicId: string }[] = [];
  readonly #changedPartitions = new Map<string, PartitionRef>();
  readonly #changedConfigs = new Set<string>();
  readonly #changedNodes = new Set<number>();

  node(nodeId: number): void {
    this.#changedNodes.add(nodeId);
  }

  createdTopic(name: string, partitionCount: number): void {
    this.#createdTopics.add(name);
    for (let partition = 0; partition < partitionCount; partition++) this.partition(name, partition);
  }

  deletedTopic(name: string, topicId: string): void {
    // Whatever else this batch did to the topic no longer matters: it is gone.
    this.#createdTopics.delete(name);
    this.#changedConfigs.delete(name);
    for (const [key, ref] of this.#changedPartitions) if (ref.topic === name) this.#changedPartitions.delete(key);
    this.#deletedTopics.push({ name, topicId });
  }

  partition(topic: string, partition: number): void {
    const key = `${topic}\u0000${partition}`;
    if (!this.#changedPartitions.has(key)) this.#changedPartitions.set(key, { topic, partition });
  }

  configs(name: string): void {
    if (!this.#createdTopics.has(name)) this.#changedConfigs.add(name);
  }

  build(): MetadataDelta {
    return {
      clusterId: this.clusterId,
      createdTopics: [...this.#createdTopics],
      deletedTopics: this.#deletedTopics,
      changedPartitions: [...this.#changedPartitions.values()],
      changedConfigs: [...this.#changedConfigs],
      changedNodes: [...this.#changedNodes],
    };
  }
}

function replaceMap<K, V>(target: Map<K, V>, source: ReadonlyMap<K, V>): void {
  target.clear();
  for (const [key, value] of source) target.set(key, value);
}

function byNumber(a: number, b: number): number {
  return a - b;
}
