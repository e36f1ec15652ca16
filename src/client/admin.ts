/**
 * Administration: topics, consumer groups and API keys, each call typed with the
 * schemas the server validates and documents (src/api/types.ts).
 */
import type {
  AlterTopicBody, CommitBody, CommittedOffsets, CreatedKey, CreateKeyBody, CreateTopicBody, GroupDescription, GroupList,
  GroupSummary, KeyInfo, KeyList, OffsetsView, OwnKey, ResetBody, TopicDescription, TopicList, TopicSummary,
} from '../api/types.js';
import { groupPath, topicPath } from './paths.js';
import type { Transport } from './transport.js';

export class Topics {
  constructor(private readonly transport: Transport) {}

  /** Every topic with its partition count, sorted by name. */
  async list(): Promise<TopicSummary[]> {
    const answer = await this.transport.call<TopicList>({ method: 'GET', path: '/v1/topics', isIdempotent: true });
    return answer.topics;
  }

  /** Creates a topic (409 TOPIC_EXISTS when it exists). */
  create(body: CreateTopicBody): Promise<TopicDescription> {
    return this.transport.call({ method: 'POST', path: '/v1/topics', body: JSON.stringify(body), isIdempotent: false });
  }

  describe(topic: string): Promise<TopicDescription> {
    return this.transport.call({ method: 'GET', path: topicPath(topic), isIdempotent: true });
  }

  /** Adds partitions and sets configs (null removes one). */
  alter(topic: string, body: AlterTopicBody): Promise<TopicDescription> {
    return this.transport.call({ method: 'PATCH', path: topicPath(topic), body: JSON.stringify(body), isIdempotent: true });
  }

  async delete(topic: string): Promise<void> {
    await this.transport.call({ method: 'DELETE', path: topicPath(topic), isIdempotent: false });
  }
}

export class Groups {
  constructor(private readonly transport: Transport) {}

  /** Every group with state, member count and total lag. */
  async list(): Promise<GroupSummary[]> {
    const answer = await this.transport.call<GroupList>({ method: 'GET', path: '/v1/groups', isIdempotent: true });
    return answer.groups;
  }

  describe(group: string): Promise<GroupDescription> {
    return this.transport.call({ method: 'GET', path: groupPath(group), isIdempotent: true });
  }

  /** Committed offsets with lag (only `topic`'s when given). */
  offsets(group: string, options: { topic?: string } = {}): Promise<OffsetsView> {
    return this.transport.call({ method: 'GET', path: groupPath(group) + '/offsets', query: { topic: options.topic }, isIdempotent: true });
  }

  /**
   * Commits offsets (the next offset to read). Without memberId and generation only
   * while the group has no live members (manually assigned consumers, tools).
   */
  commit(group: string, body: CommitBody): Promise<CommittedOffsets> {
    // Committing the same offsets twice leaves the same state: safe to retry.
    return this.transport.call({ method: 'POST', path: groupPath(group) + '/offsets', body: JSON.stringify(body), isIdempotent: true });
  }

  /** Like kafka-consumer-groups --reset-offsets; only while the group is empty. */
  reset(group: string, body: ResetBody): Promise<CommittedOffsets> {
    return this.transport.call({ method: 'POST', path: groupPath(group) + '/offsets/reset', body: JSON.stringify(body), isIdempotent: false });
  }

  /** Deletes an empty group and its offsets. */
  async delete(group: string): Promise<void> {
    await this.transport.call({ method: 'DELETE', path: groupPath(group), isIdempotent: false });
  }
}

export class Keys {
  constructor(private readonly transport: Transport) {}

  async list(): Promise<KeyInfo[]> {
    const answer = await this.transport.call<KeyList>({ method: 'GET', path: '/v1/keys', isIdempotent: true });
    return answer.keys;
  }

  /** The key this client presents, and its grants (404 KEY_NOT_FOUND when the node has authentication off). */
  self(): Promise<OwnKey> {
    return this.transport.call({ method: 'GET', path: '/v1/keys/self', isIdempotent: true });
  }

  /** Makes a key; the answer's `key` is the only time the secret is shown. */
  create(body: CreateKeyBody): Promise<CreatedKey> {
    return this.transport.call({ method: 'POST', path: '/v1/keys', body: JSON.stringify(body), isIdempotent: false });
  }

  async delete(keyId: string): Promise<void> {
    await this.transport.call({ method: 'DELETE', path: '/v1/keys/' + encodeURIComponent(keyId), isIdempotent: false });
  }
}
