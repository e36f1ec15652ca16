/**
 * GroupMetadataManager (Kafka's name for it): the groups this node knows, each with
 * its committed offsets in memory, and how they are kept in the store.
 *
 * - A group's snapshot (members, assignment) is saved whenever membership or
 *   assignment changed (its version moved), never for a plain heartbeat.
 * - Committed offsets are kept in memory next to SQLite's rows. SQLite drops a deleted
 *   topic's offsets with it (ON DELETE CASCADE) but the in-memory copies stay:
 *   pruneOffsets() compares the topic ids they were committed under with the topics
 *   now, so a topic deleted and re-created under the same name does not inherit the
 *   old log's offsets (its consumers would skip its first records).
 * Membership, the offset committer, the views and the offsets sink all work on the
 * entries kept here.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { CommittedOffset, GroupPersistence } from '../../meta/group-store.js';
import { parsePartitionKey, partitionKey, type PartitionKey } from '../../util/partition-key.js';
import { AppendNotifier } from '../append-notifier.js';
import type { TopicManager } from '../topic-manager.js';
import { ConsumerGroup, type Member, type TopicMetadata } from './consumer-group.js';
import { restoreGroup, storedGroupOf } from './group-snapshot.js';

export interface GroupEntry {
  group: ConsumerGroup;
  offsets: Map<PartitionKey, CommittedOffset>;
  /** Wakes polls of this group when its assignment changes. */
  changes: AppendNotifier;
  persistedVersion: number;
  lastCommitMs: number;
}

const GROUP_ID_PATTERN = /^[a-zA-Z0-9._:-]+$/;

export function validateGroupId(groupId: string): void {
  if (groupId.length === 0 || groupId.length > limits.groupIdLengthMax || !GROUP_ID_PATTERN.test(groupId)) {
    throw new RunnelError('INVALID_REQUEST', `invalid group id ${JSON.stringify(groupId.slice(0, 300))}: use 1-${limits.groupIdLengthMax} characters of [a-zA-Z0-9._:-]`);
  }
}

/** An entry for a group this node has not seen, not yet in the store. */
export function newEntry(group: ConsumerGroup, lastCommitMs = 0): GroupEntry {
  return { group, offsets: new Map(), changes: new AppendNotifier(limits.waitersPerPartitionMax), persistedVersion: -1, lastCommitMs };
}

export class GroupMetadataManager {
  readonly groups = new Map<string, GroupEntry>();
  /**
   * The id of each topic some group has an offset for in memory, as it was when the
   * offset was committed (see the header).
   */
  private readonly offsetTopicIds = new Map<string, string>();

  constructor(
    readonly topics: TopicManager,
    readonly store: GroupPersistence,
    readonly now: () => number,
  ) {}

  /** Restores groups and offsets from the store; call once the topics are loaded. */
  load(): void {
    const { store } = this;
    const metadata = this.topicMetadata();
    for (const stored of store.listGroups()) {
      const entry = newEntry(restoreGroup(stored, this.now(), metadata));
      for (const offset of store.listOffsets(stored.groupId)) {
        entry.offsets.set(partitionKey(offset.topic, offset.partition), offset);
        const topicId = metadata.get(offset.topic)?.topicId;
        if (topicId !== undefined) this.offsetTopicIds.set(offset.topic, topicId);
        entry.lastCommitMs = Math.max(entry.lastCommitMs, offset.committedAtMs);
      }
      this.groups.set(stored.groupId, entry);
    }
    for (const entry of this.groups.values()) this.persist(entry);
  }

  /** Each topic's partition count and id, as the groups see them. */
  topicMetadata(): TopicMetadata {
    const metadata = new Map<string, { partitionCount: number; topicId: string }>();
    for (const topic of this.topics.list()) metadata.set(topic.record.name, { partitionCount: topic.partitions.length, topicId: topic.record.topicId });
    return metadata;
  }

  /** Forgets in-memory offsets of topics deleted or re-created since (see offsetTopicIds). */
  pruneOffsets(metadata: TopicMetadata): void {
    for (const [topic, topicId] of this.offsetTopicIds) {
      if (metadata.get(topic)?.topicId === topicId) continue;
      this.offsetTopicIds.delete(topic);
      for (const entry of this.groups.values()) {
        for (const key of entry.offsets.keys()) if (parsePartitionKey(key).topic === topic) entry.offsets.delete(key);
      }
    }
  }

  /** Keeps committed offsets in memory, noting their topics' ids for pruneOffsets(). */
  remember(entry: GroupEntry, committed: CommittedOffset[], metadata: TopicMetadata): void {
    for (const offset of committed) {
      entry.offsets.set(partitionKey(offset.topic, offset.partition), offset);
      const topicId = metadata.get(offset.topic)?.topicId;
      if (topicId !== undefined) this.offsetTopicIds.set(offset.topic, topicId);
    }
  }

  /** remember() for one offset, without building every topic's metadata (the applier calls it per record). */
  rememberOne(entry: GroupEntry, committed: CommittedOffset): void {
    const { topic, partition } = committed;
    entry.offsets.set(partitionKey(topic, partition), committed);
    if (this.topics.find(topic, partition) !== undefined) this.offsetTopicIds.set(topic, this.topics.get(topic).record.topicId);
  }

  /** Offsets whose topic still exists: one deleted while an append waited has no row to hold them (foreign key). */
  stillExisting(committed: CommittedOffset[]): CommittedOffset[] {
    return committed.filter((offset) => this.topics.find(offset.topic, offset.partition) !== undefined);
  }

  /** Saves the group's snapshot if it changed since the last save, and wakes its polls. */
  persist(entry: GroupEntry): void {
    const { group } = entry;
    if (group.version === entry.persistedVersion) return;
    this.store.saveGroup(storedGroupOf(group));
    entry.persistedVersion = group.version;
    entry.changes.notify();
  }

  entry(groupId: string): GroupEntry {
    validateGroupId(groupId);
    const entry = this.groups.get(groupId);
    if (entry === undefined) throw new RunnelError('GROUP_NOT_FOUND', `group '${groupId}' does not exist`);
    return entry;
  }

  entryOrNew(groupId: string): GroupEntry {
    validateGroupId(groupId);
    let entry = this.groups.get(groupId);
    if (entry === undefined) {
      if (this.groups.size >= limits.groupCountMax) throw new RunnelError('INVALID_REQUEST', `this node already has ${limits.groupCountMax} groups`);
      entry = newEntry(new ConsumerGroup(groupId, this.now()));
      this.groups.set(groupId, entry);
    }
    return entry;
  }

  member(entry: GroupEntry, memberId: string): Member {
    const member = entry.group.member(memberId);
    if (member === undefined) {
      throw new RunnelError('UNKNOWN_MEMBER', `group '${entry.group.groupId}' has no member '${memberId}': it left or its session expired; join again`);
    }
    return member;
  }

  /** Removes the group here and in the store; its waiting polls wake (and find it gone). */
  remove(groupId: string, entry: GroupEntry | undefined): void {
    this.store.deleteGroup(groupId);
    if (entry === undefined) return;
    this.groups.delete(groupId);
    entry.changes.notify();
  }
}
