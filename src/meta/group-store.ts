/**
 * GroupStore: consumer groups and their committed offsets in SQLite (the same meta.db
 * as topics). The group coordinator talks to it through the GroupPersistence
 * interface only, so committed offsets can later move to a replicated internal topic
 * (like Kafka's __consumer_offsets) without touching the coordinator.
 *
 * A commit of several partitions is one transaction: all or nothing. Deleting a topic
 * removes its committed offsets (foreign key, ON DELETE CASCADE).
 *
 * In a cluster the same tables are this node's view of __consumer_offsets: the
 * offsets applier (broker/groups/offsets-applier.ts) writes what the offsets topic
 * committed, and offsets_applied says how far it got in each partition.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata: string;
  committedAtMs: number;
}

export interface StoredGroup {
  groupId: string;
  createdAtMs: number;
  /** When the group last became empty (null while it has members). */
  emptySinceMs: number | null;
  groupEpoch: number;
  /** The coordinator's snapshot of members and target assignment. */
  stateJson: string;
}

export interface GroupPersistence {
  listGroups(): StoredGroup[];
  saveGroup(group: StoredGroup): void;
  deleteGroup(groupId: string): void;
  listOffsets(groupId: string): CommittedOffset[];
  /** Stores every offset or none; creates the group row first when `group` is given. */
  commitOffsets(groupId: string, offsets: CommittedOffset[], group?: StoredGroup): void;
  /** Creates an empty group row unless the group exists (the applier meets a group it has not seen). */
  ensureGroup(groupId: string, createdAtMs: number): void;
  /** Removes these partitions' committed offsets of the group (absent ones are ignored). */
  deleteOffsets(groupId: string, partitions: ReadonlyArray<{ topic: string; partition: number }>): void;
}

/** Where the offsets applier stands in each partition of __consumer_offsets. */
export interface AppliedPosition {
  topicId: string;
  /** The next offset to apply. */
  appliedOffset: number;
}

/** An empty group's snapshot: no members, no target assignment. */
export const EMPTY_GROUP_STATE_JSON = '{"members":[],"target":[]}';

interface GroupRow { group_id: string; created_at_ms: number; empty_since_ms: number | null; group_epoch: number; state_json: string }
interface OffsetRow { topic: string; partition: number; committed_offset: number; metadata: string; committed_at_ms: number }

export class GroupStore implements GroupPersistence {
  private readonly statements: Record<string, Statement>;

  constructor(private readonly db: SqliteDatabase) {
    const s = (sql: string): Statement => db.prepare(sql);
    this.statements = {
      groupsList: s('SELECT * FROM consumer_groups ORDER BY group_id'),
      groupUpsert: s(`INSERT INTO consumer_groups (group_id, created_at_ms, empty_since_ms, group_epoch, state_json)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (group_id) DO UPDATE SET empty_since_ms = excluded.empty_since_ms,
          group_epoch = excluded.group_epoch, state_json = excluded.state_json`),
      groupDelete: s('DELETE FROM consumer_groups WHERE group_id = ?'),
      offsetsList: s('SELECT topic, partition, committed_offset, metadata, committed_at_ms FROM committed_offsets WHERE group_id = ? ORDER BY topic, partition'),
      offsetUpsert: s(`INSERT INTO committed_offsets (group_id, topic, partition, committed_offset, metadata, committed_at_ms)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (group_id, topic, partition) DO UPDATE SET committed_offset = excluded.committed_offset,
          metadata = excluded.metadata, committed_at_ms = excluded.committed_at_ms`),
      offsetDelete: s('DELETE FROM committed_offsets WHERE group_id = ? AND topic = ? AND partition = ?'),
      groupInsertIfMissing: s(`INSERT INTO consumer_groups (group_id, created_at_ms, empty_since_ms, group_epoch, state_json)
        VALUES (?, ?, ?, 0, '${EMPTY_GROUP_STATE_JSON}') ON CONFLICT (group_id) DO NOTHING`),
      appliedGet: s('SELECT topic_id, applied_offset FROM offsets_applied WHERE partition = ?'),
      appliedSet: s(`INSERT INTO offsets_applied (partition, topic_id, applied_offset) VALUES (?, ?, ?)
        ON CONFLICT (partition) DO UPDATE SET topic_id = excluded.topic_id, applied_offset = excluded.applied_offset`),
    };
  }

  listGroups(): StoredGroup[] {
    return (this.statements.groupsList.all() as GroupRow[]).map((row) => ({
      groupId: row.group_id,
      createdAtMs: row.created_at_ms,
      emptySinceMs: row.empty_since_ms,
      groupEpoch: row.group_epoch,
      stateJson: row.state_json,
    }));
  }

  saveGroup(group: StoredGroup): void {
    this.statements.groupUpsert.run(group.groupId, group.createdAtMs, group.emptySinceMs, group.groupEpoch, group.stateJson);
  }

  deleteGroup(groupId: string): void {
    this.statements.groupDelete.run(groupId);
  }

  listOffsets(groupId: string): CommittedOffset[] {
    return (this.statements.offsetsList.all(groupId) as OffsetRow[]).map((row) => ({
      topic: row.topic,
      partition: row.partition,
      offset: row.committed_offset,
      metadata: row.metadata,
      committedAtMs: row.committed_at_ms,
    }));
  }

  deleteOffsets(groupId: string, partitions: ReadonlyArray<{ topic: string; partition: number }>): void {
    this.db.transaction(() => {
      for (const { topic, partition } of partitions) this.statements.offsetDelete.run(groupId, topic, partition);
    })();
  }

  ensureGroup(groupId: string, createdAtMs: number): void {
    this.statements.groupInsertIfMissing.run(groupId, createdAtMs, createdAtMs);
  }

  appliedPosition(partition: number): AppliedPosition | undefined {
    const row = this.statements.appliedGet.get(partition) as { topic_id: string; applied_offset: number } | undefined;
    return row === undefined ? undefined : { topicId: row.topic_id, appliedOffset: row.applied_offset };
  }

  setAppliedPosition(partition: number, position: AppliedPosition): void {
    this.statements.appliedSet.run(partition, position.topicId, position.appliedOffset);
  }

  /** Runs `work` in one transaction (a batch of applied records and the new position). */
  transaction(work: () => void): void {
    this.db.transaction(work)();
  }

  commitOffsets(groupId: string, offsets: CommittedOffset[], group?: StoredGroup): void {
    this.db.transaction(() => {
      if (group !== undefined) this.saveGroup(group);
      for (const entry of offsets) {
        this.statements.offsetUpsert.run(groupId, entry.topic, entry.partition, entry.offset, entry.metadata, entry.committedAtMs);
      }
    })();
  }
}
