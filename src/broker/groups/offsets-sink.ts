/**
 * GroupOffsetsSink: where the offsets applier (offsets-applier.ts) delivers the
 * records of __consumer_offsets it applied on this node, so the in-memory groups
 * follow SQLite. Every replica applies them, so the next coordinator already holds
 * every acknowledged commit.
 */
import type { CommittedOffset } from '../../meta/group-store.js';
import { partitionKey } from '../../util/partition-key.js';
import { ConsumerGroup } from './consumer-group.js';
import { newEntry, type GroupMetadataManager } from './group-metadata.js';
import type { AppliedOffsetsSink } from './offsets-applier.js';

export class GroupOffsetsSink implements AppliedOffsetsSink {
  constructor(private readonly groups: GroupMetadataManager) {}

  /**
   * The applier stored (committed: null, deleted) this replicated offset: the
   * in-memory view follows, creating the group if this node has not seen it.
   */
  applyOffset(groupId: string, topic: string, partition: number, committed: CommittedOffset | null): void {
    const { groups } = this;
    let entry = groups.groups.get(groupId);
    if (committed === null) {
      groups.store.deleteOffsets(groupId, [{ topic, partition }]);
      entry?.offsets.delete(partitionKey(topic, partition));
      return;
    }
    if (entry === undefined) {
      entry = newEntry(new ConsumerGroup(groupId, committed.committedAtMs));
      groups.groups.set(groupId, entry);
    }
    if (entry.persistedVersion === -1) {
      groups.store.ensureGroup(groupId, entry.group.createdAtMs);
      entry.persistedVersion = entry.group.version;
    }
    groups.store.commitOffsets(groupId, [committed]);
    groups.rememberOne(entry, committed);
    entry.lastCommitMs = Math.max(entry.lastCommitMs, committed.committedAtMs);
  }

  /** The applier met a group tombstone: the group goes, unless members joined it here since. */
  applyGroupDeleted(groupId: string): void {
    const entry = this.groups.groups.get(groupId);
    if (entry !== undefined && entry.group.members.size > 0) return;
    this.groups.remove(groupId, entry);
  }
}
