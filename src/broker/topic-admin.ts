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
  /** Resolves once this node knows every topic change made before the call: at once on a single node; in a cluster, once its metadata caught up with the controller's (or gave up). */
  syncMetadata(): Promise<void>;
}

/** One topic change at a time: a create of thousands of partitions yields to the event loop, and nothing may change topics meanwhile. */
export class LocalTopicAdmin implements TopicAdmin {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly topics: TopicManager) {}

  create(input: CreateTopicInput): Promise<Topic> {
    return this.inTurn(() => this.topics.createGradually(input));
  }

  alter(name: string, change: { partitions?: number; configs?: Record<string, unknown> }): Promise<Topic> {
    return this.inTurn(async () => this.topics.alter(name, change));
  }

  delete(name: string): Promise<void> {
    return this.inTurn(async () => this.topics.delete(name));
  }

  async syncMetadata(): Promise<void> {
    // One node: every change is applied before it is answered.
  }

  private inTurn<T>(change: () => Promise<T>): Promise<T> {
    const result = this.queue.then(change);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
