/**
 * OffsetCommitter: every change of a group's committed offsets — commit, auto-commit,
 * reset, the group's deletion, expiry — checked, written and kept in memory.
 *
 * - Committed offsets are written before a change is answered.
 * - In a cluster (an OffsetsLog, offsets-log.ts) each change is first a record in the
 *   group's partition of __consumer_offsets, acknowledged by its in-sync replicas, and
 *   only then stored here; a failed append fails the change and stores nothing.
 * - Offsets of a group that has been empty for offsets.retention.minutes (counted from
 *   when it became empty or its last commit, whichever is later) expire, with the
 *   group (Kafka's KIP-211).
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { CommittedOffset } from '../../meta/group-store.js';
import { parsePartitionKey, partitionKey, type PartitionKey } from '../../util/partition-key.js';
import type { Member } from './consumer-group.js';
import { validateGroupId, type GroupEntry, type GroupMetadataManager } from './group-metadata.js';
import { storedGroupOf } from './group-snapshot.js';
import type { PartitionRanges } from './partition-ranges.js';

/** One partition's committed offset to write (null: delete it). */
export interface OffsetChange {
  topic: string;
  partition: number;
  committed: CommittedOffset | null;
}

/** What the committer needs in a cluster (undefined on a single node): ClusterOffsetsLog. */
export interface OffsetsLog {
  readonly nodeId: number;
  /** Resolves once the records are committed (the ISR has them); rejects with the append's error. */
  append(groupId: string, changes: readonly OffsetChange[], isGroupDeleted: boolean): Promise<void>;
  /** This node coordinates the group now (leads its partition and has loaded it). */
  isCoordinating(groupId: string): boolean;
}

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
}

export interface CommitRequest {
  offsets: OffsetCommitEntry[];
  memberId?: string;
  generation?: number;
}

export type ResetTarget = 'earliest' | 'latest' | { timestamp: number } | { offset: number };

export interface OffsetCommitterOptions {
  offsetsRetentionMs: number;
  /** In a cluster: where offset changes go before SQLite. Undefined (or returning it): a single node. */
  offsetsLog?: () => OffsetsLog | undefined;
  /** Where failures of background work (offset expiry in a cluster) go. */
  onError?: (error: unknown, context: string) => void;
  /** Where resets learn a partition's range: this node's replica, else a node holding one. */
  ranges: PartitionRanges;
}

export class OffsetCommitter {
  /** Groups whose expiry is being written to the offsets topic (cluster). */
  private readonly expiring = new Set<string>();

  constructor(
    private readonly metadata: GroupMetadataManager,
    private readonly options: OffsetCommitterOptions,
  ) {}

  /** The offsets topic in a cluster; undefined on a single node. */
  private offsetsLog(): OffsetsLog | undefined {
    return this.options.offsetsLog?.();
  }

  /** True on a single node, and in a cluster where this node leads the partition (knows its real high watermark). */
  isLocalLeader(state: { leader: number }): boolean {
    const log = this.offsetsLog();
    return log === undefined || state.leader === log.nodeId;
  }

  /**
   * Commits the positions a poll delivered, at the member's next poll (Kafka's
   * enable.auto.commit: at-least-once). Only partitions the member still owns are
   * committed, before the poll's acknowledgement releases revoked ones.
   */
  async autoCommit(entry: GroupEntry, member: Member, positions: ReadonlyMap<PartitionKey, number>): Promise<void> {
    const { metadata: groups } = this;
    const metadata = groups.topicMetadata();
    groups.pruneOffsets(metadata);
    const nowMs = groups.now();
    const committed: CommittedOffset[] = [];
    for (const [key, offset] of positions) {
      if (!member.owned.has(key)) continue;
      const previous = entry.offsets.get(key);
      if (previous !== undefined && previous.offset === offset) continue;
      const { topic, partition } = parsePartitionKey(key);
      committed.push({ topic, partition, offset, metadata: '', committedAtMs: nowMs });
    }
    if (committed.length === 0) return;
    const log = this.offsetsLog();
    let stored = committed;
    if (log !== undefined) {
      await log.append(entry.group.groupId, committed.map(toChange), false);
      if (groups.groups.get(entry.group.groupId) !== entry) return; // Deleted meanwhile; the appliers have the records.
      stored = groups.stillExisting(committed);
    }
    groups.store.commitOffsets(entry.group.groupId, stored);
    groups.remember(entry, stored, metadata);
    entry.lastCommitMs = nowMs;
  }

  /**
   * Commits offsets, all or none. From a member (memberId + generation): each
   * partition must be one it owns in that generation. Without a member: only while
   * the group has no live members (manually assigned consumers, tools).
   */
  async commit(groupId: string, request: CommitRequest): Promise<CommittedOffset[]> {
    if (request.offsets.length === 0) throw new RunnelError('INVALID_REQUEST', 'offsets must hold at least one entry');
    if (request.offsets.length > limits.commitOffsetCountMax) throw new RunnelError('INVALID_REQUEST', `a commit may hold at most ${limits.commitOffsetCountMax} offsets`);
    const { metadata: groups } = this;
    const nowMs = groups.now();
    const isNewGroup = !groups.groups.has(groupId);
    let entry = request.memberId === undefined ? this.entryForStandalone(groupId, request) : this.entryForMember(groupId, request.memberId, request, nowMs);
    let committed: CommittedOffset[] = request.offsets.map((offset) => {
      this.checkOffset(offset);
      return { topic: offset.topic, partition: offset.partition, offset: offset.offset, metadata: offset.metadata ?? '', committedAtMs: nowMs };
    });
    const log = this.offsetsLog();
    if (log !== undefined) {
      try {
        await log.append(groupId, committed.map(toChange), false);
      } catch (error) {
        // Nothing was stored: a group this commit created goes again.
        if (isNewGroup && groups.groups.get(groupId) === entry && entry.group.members.size === 0 && entry.offsets.size === 0) groups.groups.delete(groupId);
        throw error;
      }
      // The group may have been deleted (and made again) while the append waited.
      if (groups.groups.get(groupId) !== entry) entry = groups.entryOrNew(groupId);
      committed = groups.stillExisting(committed);
    }
    groups.store.commitOffsets(groupId, committed, entry.persistedVersion === -1 ? storedGroupOf(entry.group) : undefined);
    if (entry.persistedVersion === -1) entry.persistedVersion = entry.group.version;
    const metadata = groups.topicMetadata();
    groups.pruneOffsets(metadata);
    groups.remember(entry, committed, metadata);
    entry.lastCommitMs = nowMs;
    groups.persist(entry);
    return committed;
  }

  /** A member's commit: each partition must be one the member owns in the generation given. */
  private entryForMember(groupId: string, memberId: string, request: CommitRequest, nowMs: number): GroupEntry {
    if (request.generation === undefined) throw new RunnelError('INVALID_REQUEST', 'a commit with memberId must carry generation');
    const { metadata: groups } = this;
    const entry = groups.entry(groupId);
    const member = groups.member(entry, memberId);
    entry.group.touch(member, nowMs, undefined, groups.topicMetadata());
    for (const offset of request.offsets) {
      if (!entry.group.canCommit(member, partitionKey(offset.topic, offset.partition), request.generation)) {
        this.checkOffset(offset);
        throw new RunnelError('STALE_GENERATION', `member '${member.memberId}' does not own ${offset.topic}-${offset.partition} in generation ${request.generation} (current generation ${member.generation}); heartbeat for the current assignment`);
      }
    }
    return entry;
  }

  /** A commit without a member: only while the group has none. */
  private entryForStandalone(groupId: string, request: CommitRequest): GroupEntry {
    if (request.generation !== undefined) throw new RunnelError('INVALID_REQUEST', 'a commit with generation must carry memberId');
    validateGroupId(groupId);
    for (const offset of request.offsets) this.checkOffset(offset);
    const entry = this.metadata.entryOrNew(groupId);
    if (entry.group.members.size > 0) {
      throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' has ${entry.group.members.size} live members: commit with memberId and generation`);
    }
    return entry;
  }

  /**
   * Unknown topic or partition: 404; offset past the high watermark: 400. In a cluster
   * only the partition's leader knows its high watermark (a follower's lags by a
   * fetch), so elsewhere the offset is taken as it comes, as Kafka's coordinator does.
   */
  private checkOffset(offset: OffsetCommitEntry): void {
    const state = this.metadata.topics.partition(offset.topic, offset.partition);
    const highWatermark = this.isLocalLeader(state) ? state.log.highWatermark : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(offset.offset) || offset.offset < 0 || offset.offset > highWatermark) {
      throw new RunnelError('INVALID_OFFSET', `offset ${offset.offset} for ${offset.topic}-${offset.partition} is beyond the log end (${state.log.highWatermark})`);
    }
    if ((offset.metadata?.length ?? 0) > limits.commitMetadataLengthMax) {
      throw new RunnelError('INVALID_REQUEST', `offset metadata may be at most ${limits.commitMetadataLengthMax} characters`);
    }
  }

  /**
   * kafka-consumer-groups --reset-offsets: sets the committed offsets of a topic's
   * partitions (all, or those listed) to earliest, latest, the first offset at a time,
   * or a given offset (clamped to [logStartOffset, highWatermark]). Only while the
   * group has no live members.
   */
  async reset(groupId: string, topic: string, partitions: number[] | undefined, to: ResetTarget): Promise<CommittedOffset[]> {
    validateGroupId(groupId);
    const { topics } = this.metadata;
    this.requireEmpty(groupId);
    const described = topics.get(topic);
    const chosen = partitions ?? described.partitions.map((state) => state.partition);
    const states = chosen.map((partition) => topics.partition(topic, partition));
    // In a cluster a partition may have no replica here: its range comes from one that has.
    const ranges = await Promise.all(states.map((state) => this.options.ranges.lookup(state, typeof to === 'object' && 'timestamp' in to ? to.timestamp : undefined)));
    this.requireEmpty(groupId); // A member may have joined meanwhile.
    const offsets = states.map((state, index) => {
      const range = ranges[index];
      let offset: number;
      if (to === 'earliest') offset = range.logStartOffset;
      else if (to === 'latest') offset = range.highWatermark;
      else if ('timestamp' in to) offset = range.offset ?? range.highWatermark;
      else offset = Math.min(Math.max(to.offset, range.logStartOffset), range.highWatermark);
      return { topic, partition: state.partition, offset };
    });
    return this.commit(groupId, { offsets });
  }

  private requireEmpty(groupId: string): void {
    const existing = this.metadata.groups.get(groupId);
    if (existing !== undefined && existing.group.members.size > 0) {
      throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' has ${existing.group.members.size} live members: offsets can only be reset while it is empty`);
    }
  }

  /** Deletes an empty group and its offsets (in a cluster, by tombstones first). */
  async delete(groupId: string): Promise<void> {
    const { metadata: groups } = this;
    const entry = groups.entry(groupId);
    if (entry.group.members.size > 0) {
      throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' has ${entry.group.members.size} live members; it can be deleted once they leave or time out`);
    }
    const log = this.offsetsLog();
    if (log !== undefined) {
      await log.append(groupId, tombstonesOf(entry), true);
      if (groups.groups.get(groupId) !== entry) return; // Deleted meanwhile.
      if (entry.group.members.size > 0) {
        // A member joined while the tombstones were written: the offsets are gone, the group stays.
        groups.store.deleteOffsets(groupId, [...entry.offsets.values()]);
        entry.offsets.clear();
        throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' got a member while it was being deleted: its offsets were deleted, the group was kept`);
      }
    }
    groups.remove(groupId, entry);
  }

  /**
   * Deletes groups empty for longer than the offsets retention. Returns their ids. In a
   * cluster only the groups this node coordinates, each once its tombstones are
   * committed (in the background: the ids returned are those whose expiry began).
   */
  expireOffsets(nowMs = this.metadata.now()): string[] {
    const { metadata: groups } = this;
    const log = this.offsetsLog();
    const expired: string[] = [];
    for (const entry of groups.groups.values()) {
      const { group } = entry;
      if (group.members.size > 0 || group.emptySinceMs === null) continue;
      if (log !== undefined && (!log.isCoordinating(group.groupId) || this.expiring.has(group.groupId))) continue;
      const idleSinceMs = Math.max(group.emptySinceMs, entry.lastCommitMs);
      if (nowMs - idleSinceMs > this.options.offsetsRetentionMs) expired.push(group.groupId);
    }
    for (const groupId of expired) {
      if (log === undefined) {
        groups.store.deleteGroup(groupId);
        groups.groups.delete(groupId);
        continue;
      }
      this.expiring.add(groupId);
      const entry = groups.groups.get(groupId);
      if (entry === undefined) continue;
      log.append(groupId, tombstonesOf(entry), true)
        .then(() => {
          // Kept if it came back to life while the tombstones were written (the appliers keep it too).
          if (groups.groups.get(groupId) !== entry || entry.group.members.size > 0 || entry.lastCommitMs > nowMs) return;
          groups.store.deleteGroup(groupId);
          groups.groups.delete(groupId);
        })
        .catch((error: unknown) => this.options.onError?.(error, `expiry of group '${groupId}'`))
        .finally(() => this.expiring.delete(groupId));
    }
    return expired;
  }
}

function toChange(committed: CommittedOffset): OffsetChange {
  return { topic: committed.topic, partition: committed.partition, committed };
}

function tombstonesOf(entry: GroupEntry): OffsetChange[] {
  return [...entry.offsets.values()].map(({ topic, partition }) => ({ topic, partition, committed: null }));
}
