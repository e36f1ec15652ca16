/**
 * Topic administration as the HTTP API asks for it. On a single node it changes the
 * local TopicManager; in a cluster node/cluster-topic-admin.ts sends it to the
 * active controller instead.
 */
import type { CreateTopicInput, TopicManager } from './topic-manager.js';
import type { Topic } from './topic-state.js';

export interface TopicAdmin {
  create(input: CreateTopicInput): Promise<Topic>;
  alter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): Promise<Topic>;
  delete(name: string): Promise<void>;
}

export class LocalTopicAdmin implements TopicAdmin {
  constructor(private readonly topics: TopicManager) {}

  async create(input: CreateTopicInput): Promise<Topic> {
    return this.topics.create(input);
  }

  async alter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): Promise<Topic> {
    return this.topics.alter(name, change);
  }

  async delete(name: string): Promise<void> {
    this.topics.delete(name);
  }
}
