/**
 * Topic administration in a cluster: the request is validated here and then decided
 * by the active controller, which writes it to the metadata log — the answer comes
 * once this node has applied that decision, so a GET right after sees it.
 */
import { randomBytes } from 'node:crypto';
import type { TopicAdmin } from '../broker/topic-admin.js';
import type { CreateTopicInput, TopicManager } from '../broker/topic-manager.js';
import type { Topic } from '../broker/topic-state.js';
import { RunnelError } from '../errors.js';

/** Asks the cluster's controller (through this node's channel) and waits for the local apply. */
export type ControllerRequest = (operation: 'create-topic' | 'alter-topic' | 'delete-topic', body: unknown) => Promise<unknown>;

export class ClusterTopicAdmin implements TopicAdmin {
  constructor(
    private readonly topics: TopicManager,
    private readonly request: ControllerRequest,
    /** Nodes in the cluster: the default replication factor is min(3, this). */
    private readonly nodeCount: number,
    /** Catches this node's metadata up with the controller's (cluster/metadata-barrier.ts). */
    private readonly sync: () => Promise<void>,
  ) {}

  syncMetadata(): Promise<void> {
    return this.sync();
  }

  async create(input: CreateTopicInput): Promise<Topic> {
    const replicationFactor = input.replicationFactor ?? Math.min(3, this.nodeCount);
    const planned = this.topics.planCreate({ ...input, replicationFactor });
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > this.nodeCount) {
      throw new RunnelError('INVALID_REPLICATION_FACTOR', `replicationFactor ${replicationFactor} is not possible: this cluster has ${this.nodeCount} nodes`);
    }
    // The topic's id is chosen here, once: a retry of this request (its answer lost) is then recognised as ours.
    await this.request('create-topic', { ...planned, replicationFactor, topicId: randomBytes(16).toString('base64url') });
    return this.topics.get(planned.name);
  }

  async alter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): Promise<Topic> {
    const planned = this.topics.planAlter(name, change);
    if (planned.configs !== undefined || planned.partitions !== undefined) await this.request('alter-topic', { name, ...planned });
    return this.topics.get(name);
  }

  async delete(name: string): Promise<void> {
    this.topics.get(name);
    await this.request('delete-topic', { name });
  }
}
