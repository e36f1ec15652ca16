/**
 * GroupCoordinator: every consumer group on this node. Membership lives here, not in
 * a connection, so a consumer is a series of stateless HTTP calls (join, heartbeat or
 * poll, commit, leave) that may come over any connection.
 *
 * - ConsumerGroup (consumer-group.ts) is the pure state machine; this class adds the
 *   clock, persistence (GroupPersistence: SQLite now), committed offsets, topic
 *   metadata, the session sweep and wake-ups for members waiting in a poll.
 * - A group's snapshot (members, assignment) is saved whenever membership or
 *   assignment changed, never for a plain heartbeat. Committed offsets are written
 *   before a commit is answered.
 * - Offsets of a group that has been empty for offsets.retention.minutes (counted
 *   from when it became empty or its last commit, whichever is later) expire, with
 *   the group (Kafka's KIP-211).
 * - In a cluster (an OffsetsLog, offsets-log.ts) every change of committed offsets —
 *   commit, auto-commit, reset, delete, expiry — is first a record in the group's
 *   partition of __consumer_offsets, acknowledged by its in-sync replicas, and only
 *   then stored here; a failed append fails the change and stores nothing. Every
 *   replica applies those records through applyOffset()/applyGroupDeleted(), so the
 *   next coordinator already holds every acknowledged commit.
 */
import { randomBytes } from 'node:crypto';
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { CommittedOffset, GroupPersistence } from '../../meta/group-store.js';
import type { OffsetChange, OffsetsLog } from './offsets-log.js';
import { AppendNotifier } from '../append-notifier.js';
import type { TopicManager } from '../topic-manager.js';
import type { AssignorName } from './assignors.js';
import { ConsumerGroup, type Acknowledgement, type AutoOffsetReset, type GroupSnapshot, type Member, type Subscription, type TopicMetadata } from './consumer-group.js';
import { parsePartitionKey, partitionKey, type PartitionKey } from '../../util/partition-key.js';
import { toTopicAssignments, type TopicAssignment } from './topic-assignment.js';

export interface JoinRequest {
  subscription: Subscription;
  clientId?: string;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  assignor?: AssignorName;
  autoOffsetReset?: AutoOffsetReset;
}

export interface MemberReply {
  groupId: string;
  memberId: string;
  generation: number;
  assignment: TopicAssignment[];
  heartbeatIntervalMs: number;
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

export interface OffsetView {
  topic: string;
  partition: number;
  /** Null when the group has not committed this partition. */
  offset: number | null;
  metadata: string | null;
  committedAtMs: number | null;
  logEndOffset: number;
  /** highWatermark minus the committed offset; null without a commit. */
  lag: number | null;
}

interface GroupEntry {
  group: ConsumerGroup;
  offsets: Map<PartitionKey, CommittedOffset>;
  /** Wakes polls of this group when its assignment changes. */
  changes: AppendNotifier;
  persistedVersion: number;
  lastCommitMs: number;
}

export interface CoordinatorOptions {
  offsetsRetentionMs: number;
  nowMs?: () => number;
  /** In a cluster: where offset changes go before SQLite. Undefined (or returning it): a single node. */
  offsetsLog?: () => OffsetsLog | undefined;
  /** Where failures of background work (offset expiry in a cluster) go. */
  onError?: (error: unknown, context: string) => void;
}

const GROUP_ID_PATTERN = /^[a-zA-Z0-9._:-]+$/;

export class GroupCoordinator {
  private readonly groups = new Map<string, GroupEntry>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;
  /**
   * The id of each topic some group has an offset for in memory, as it was when the
   * offset was committed. SQLite drops a deleted topic's offsets with it (ON DELETE
   * CASCADE) but the in-memory copies stay: pruneOffsets() compares these ids with
   * the topics now, so a topic deleted and re-created under the same name does not
   * inherit the old log's offsets (its consumers would skip its first records).
   */
  private readonly offsetTopicIds = new Map<string, string>();
  /** Groups whose expiry is being written to the offsets topic (cluster). */
  private readonly expiring = new Set<string>();

  constructor(
    private readonly topics: TopicManager,
    private readonly store: GroupPersistence,
    private readonly options: CoordinatorOptions,
  ) {
    this.now = options.nowMs ?? Date.now;
  }

  /** True on a single node, and in a cluster where this node leads the partition (knows its real high watermark). */
  isLocalLeader(state: { leader: number }): boolean {
    const log = this.offsetsLog();
    return log === undefined || state.leader === log.nodeId;
  }

  /** The offsets topic in a cluster; undefined on a single node. */
  private offsetsLog(): OffsetsLog | undefined {
    return this.options.offsetsLog?.();
  }

  /** Restores groups and offsets from the store; call once the topics are loaded. */
  load(): void {
    const { store } = this;
    const metadata = this.topicMetadata();
    for (const stored of store.listGroups()) {
      const group = new ConsumerGroup(stored.groupId, stored.createdAtMs, { groupEpoch: stored.groupEpoch, emptySinceMs: stored.emptySinceMs });
      group.restore(JSON.parse(stored.stateJson) as GroupSnapshot, this.now(), metadata);
      const offsets = new Map<PartitionKey, CommittedOffset>();
      let lastCommitMs = 0;
      for (const offset of store.listOffsets(stored.groupId)) {
        offsets.set(partitionKey(offset.topic, offset.partition), offset);
        const topicId = metadata.get(offset.topic)?.topicId;
        if (topicId !== undefined) this.offsetTopicIds.set(offset.topic, topicId);
        lastCommitMs = Math.max(lastCommitMs, offset.committedAtMs);
      }
      this.groups.set(stored.groupId, { group, offsets, changes: new AppendNotifier(limits.waitersPerPartitionMax), persistedVersion: -1, lastCommitMs });
    }
    for (const entry of this.groups.values()) this.persist(entry);
  }

  /** Starts the session sweep and offset expiry; close() stops them. */
  start(): void {
    const sweep = setInterval(() => this.sweep(), limits.groupSweepIntervalMs);
    sweep.unref();
    const expiry = setInterval(() => this.expireOffsets(), Math.min(60_000, Math.max(1000, this.options.offsetsRetentionMs / 10)));
    expiry.unref();
    this.timers.push(sweep, expiry);
  }

  /** True once the node is stopping: polls answer at once instead of waiting. */
  isClosed = false;

  close(): void {
    this.isClosed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    for (const entry of this.groups.values()) entry.changes.notify();
  }

  /** Each topic's partition count and id, as the groups see them. */
  topicMetadata(): TopicMetadata {
    const metadata = new Map<string, { partitionCount: number; topicId: string }>();
    for (const topic of this.topics.list()) metadata.set(topic.record.name, { partitionCount: topic.partitions.length, topicId: topic.record.topicId });
    return metadata;
  }

  /** Removes expired members and follows topic changes in every group. */
  sweep(nowMs = this.now()): void {
    const metadata = this.topicMetadata();
    this.pruneOffsets(metadata);
    for (const entry of this.groups.values()) {
      if (entry.group.members.size === 0) continue;
      entry.group.expire(nowMs, metadata);
      this.persist(entry);
    }
  }

  /** Forgets in-memory offsets of topics deleted or re-created since (see offsetTopicIds). */
  private pruneOffsets(metadata: TopicMetadata): void {
    for (const [topic, topicId] of this.offsetTopicIds) {
      if (metadata.get(topic)?.topicId === topicId) continue;
      this.offsetTopicIds.delete(topic);
      for (const entry of this.groups.values()) {
        for (const key of entry.offsets.keys()) if (parsePartitionKey(key).topic === topic) entry.offsets.delete(key);
      }
    }
  }

  /** Keeps committed offsets in memory, noting their topics' ids for pruneOffsets(). */
  private remember(entry: GroupEntry, committed: CommittedOffset[], metadata: TopicMetadata): void {
    for (const offset of committed) {
      entry.offsets.set(partitionKey(offset.topic, offset.partition), offset);
      const topicId = metadata.get(offset.topic)?.topicId;
      if (topicId !== undefined) this.offsetTopicIds.set(offset.topic, topicId);
    }
  }

  private persist(entry: GroupEntry): void {
    const { group } = entry;
    if (group.version === entry.persistedVersion) return;
    this.store.saveGroup({
      groupId: group.groupId,
      createdAtMs: group.createdAtMs,
      emptySinceMs: group.emptySinceMs,
      groupEpoch: group.groupEpoch,
      stateJson: JSON.stringify(group.snapshot()),
    });
    entry.persistedVersion = group.version;
    entry.changes.notify();
  }

  private entry(groupId: string): GroupEntry {
    validateGroupId(groupId);
    const entry = this.groups.get(groupId);
    if (entry === undefined) throw new RunnelError('GROUP_NOT_FOUND', `group '${groupId}' does not exist`);
    return entry;
  }

  private entryOrNew(groupId: string): GroupEntry {
    validateGroupId(groupId);
    let entry = this.groups.get(groupId);
    if (entry === undefined) {
      if (this.groups.size >= limits.groupCountMax) throw new RunnelError('INVALID_REQUEST', `this node already has ${limits.groupCountMax} groups`);
      entry = {
        group: new ConsumerGroup(groupId, this.now()),
        offsets: new Map(),
        changes: new AppendNotifier(limits.waitersPerPartitionMax),
        persistedVersion: -1,
        lastCommitMs: 0,
      };
      this.groups.set(groupId, entry);
    }
    return entry;
  }

  private member(entry: GroupEntry, memberId: string): Member {
    const member = entry.group.member(memberId);
    if (member === undefined) {
      throw new RunnelError('UNKNOWN_MEMBER', `group '${entry.group.groupId}' has no member '${memberId}': it left or its session expired; join again`);
    }
    return member;
  }

  reply(entry: GroupEntry, member: Member): MemberReply {
    entry.group.delivered(member);
    return {
      groupId: entry.group.groupId,
      memberId: member.memberId,
      generation: member.generation,
      assignment: toTopicAssignments(member.assigned),
      heartbeatIntervalMs: heartbeatIntervalMs(member.sessionTimeoutMs),
    };
  }

  join(groupId: string, request: JoinRequest): MemberReply {
    const subscription = validateSubscription(request.subscription);
    const entry = this.entryOrNew(groupId);
    if (entry.group.members.size >= limits.groupMembersMax) {
      throw new RunnelError('INVALID_REQUEST', `group '${groupId}' already has ${limits.groupMembersMax} members`);
    }
    const clientId = request.clientId ?? 'consumer';
    const member = entry.group.join({
      memberId: `${clientId}-${randomBytes(12).toString('base64url')}`,
      clientId,
      subscription,
      sessionTimeoutMs: request.sessionTimeoutMs ?? limits.sessionTimeoutMsDefault,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs ?? limits.rebalanceTimeoutMsDefault,
      assignor: request.assignor ?? 'sticky',
      autoOffsetReset: request.autoOffsetReset ?? 'latest',
    }, this.now(), this.topicMetadata());
    const reply = this.reply(entry, member);
    this.persist(entry);
    return reply;
  }

  /** Renews the member's session, applies its acknowledgement and answers with its assignment. */
  heartbeat(groupId: string, memberId: string, acknowledgement: Acknowledgement): MemberReply {
    const entry = this.entry(groupId);
    const member = this.member(entry, memberId);
    entry.group.touch(member, this.now(), acknowledgement, this.topicMetadata());
    const reply = this.reply(entry, member);
    this.persist(entry);
    return reply;
  }

  /** The member and its group entry, untouched (404 when either is unknown). */
  find(groupId: string, memberId: string): { entry: GroupEntry; member: Member } {
    const entry = this.entry(groupId);
    return { entry, member: this.member(entry, memberId) };
  }

  /** For polls: the member, touched and reconciled, plus its group entry. */
  async touchForPoll(groupId: string, memberId: string, autoCommit: ReadonlyMap<PartitionKey, number> | undefined): Promise<{ entry: GroupEntry; member: Member }> {
    let { entry, member } = this.find(groupId, memberId);
    if (autoCommit !== undefined && autoCommit.size > 0) {
      await this.autoCommit(entry, member, autoCommit);
      // The append may have waited: the member must still be there.
      ({ entry, member } = this.find(groupId, memberId));
    }
    const metadata = this.topicMetadata();
    this.pruneOffsets(metadata);
    entry.group.touch(member, this.now(), { isImplicit: true }, metadata);
    this.persist(entry);
    return { entry, member };
  }

  /**
   * Commits the positions a poll delivered, at the member's next poll (Kafka's
   * enable.auto.commit: at-least-once). Only partitions the member still owns are
   * committed, before the poll's acknowledgement releases revoked ones.
   */
  private async autoCommit(entry: GroupEntry, member: Member, positions: ReadonlyMap<PartitionKey, number>): Promise<void> {
    const metadata = this.topicMetadata();
    this.pruneOffsets(metadata);
    const nowMs = this.now();
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
      if (this.groups.get(entry.group.groupId) !== entry) return; // Deleted meanwhile; the appliers have the records.
      stored = this.stillExisting(committed);
    }
    this.store.commitOffsets(entry.group.groupId, stored);
    this.remember(entry, stored, metadata);
    entry.lastCommitMs = nowMs;
  }

  /** Offsets whose topic still exists: one deleted while an append waited has no row to hold them (foreign key). */
  private stillExisting(committed: CommittedOffset[]): CommittedOffset[] {
    return committed.filter((offset) => this.topics.find(offset.topic, offset.partition) !== undefined);
  }

  /** Re-reconciles a member waiting in a poll (its assignment may have grown). */
  refreshMember(entry: GroupEntry, member: Member): void {
    const metadata = this.topicMetadata();
    this.pruneOffsets(metadata);
    entry.group.touch(member, this.now(), undefined, metadata);
    this.persist(entry);
  }

  leave(groupId: string, memberId: string): void {
    const entry = this.entry(groupId);
    this.member(entry, memberId);
    entry.group.leave(memberId, this.now(), this.topicMetadata());
    this.persist(entry);
  }

  committed(entry: GroupEntry, key: PartitionKey): CommittedOffset | undefined {
    return entry.offsets.get(key);
  }

  /**
   * Commits offsets, all or none. From a member (memberId + generation): each
   * partition must be one it owns in that generation. Without a member: only while
   * the group has no live members (manually assigned consumers, tools).
   */
  async commit(groupId: string, request: CommitRequest): Promise<CommittedOffset[]> {
    if (request.offsets.length === 0) throw new RunnelError('INVALID_REQUEST', 'offsets must hold at least one entry');
    if (request.offsets.length > limits.commitOffsetCountMax) throw new RunnelError('INVALID_REQUEST', `a commit may hold at most ${limits.commitOffsetCountMax} offsets`);
    const nowMs = this.now();
    let entry: GroupEntry;
    const isNewGroup = !this.groups.has(groupId);
    if (request.memberId !== undefined) {
      if (request.generation === undefined) throw new RunnelError('INVALID_REQUEST', 'a commit with memberId must carry generation');
      entry = this.entry(groupId);
      const member = this.member(entry, request.memberId);
      entry.group.touch(member, nowMs, undefined, this.topicMetadata());
      for (const offset of request.offsets) {
        const key = partitionKey(offset.topic, offset.partition);
        if (!entry.group.canCommit(member, key, request.generation)) {
          this.checkOffset(offset);
          throw new RunnelError('STALE_GENERATION', `member '${member.memberId}' does not own ${offset.topic}-${offset.partition} in generation ${request.generation} (current generation ${member.generation}); heartbeat for the current assignment`);
        }
      }
    } else {
      if (request.generation !== undefined) throw new RunnelError('INVALID_REQUEST', 'a commit with generation must carry memberId');
      validateGroupId(groupId);
      for (const offset of request.offsets) this.checkOffset(offset);
      entry = this.entryOrNew(groupId);
      if (entry.group.members.size > 0) {
        throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' has ${entry.group.members.size} live members: commit with memberId and generation`);
      }
    }
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
        if (isNewGroup && this.groups.get(groupId) === entry && entry.group.members.size === 0 && entry.offsets.size === 0) this.groups.delete(groupId);
        throw error;
      }
      // The group may have been deleted (and made again) while the append waited.
      if (this.groups.get(groupId) !== entry) entry = this.entryOrNew(groupId);
      committed = this.stillExisting(committed);
    }
    this.store.commitOffsets(groupId, committed, entry.persistedVersion === -1 ? this.storedGroup(entry) : undefined);
    if (entry.persistedVersion === -1) entry.persistedVersion = entry.group.version;
    const metadata = this.topicMetadata();
    this.pruneOffsets(metadata);
    this.remember(entry, committed, metadata);
    entry.lastCommitMs = nowMs;
    this.persist(entry);
    return committed;
  }

  private storedGroup(entry: GroupEntry): { groupId: string; createdAtMs: number; emptySinceMs: number | null; groupEpoch: number; stateJson: string } {
    const { group } = entry;
    return { groupId: group.groupId, createdAtMs: group.createdAtMs, emptySinceMs: group.emptySinceMs, groupEpoch: group.groupEpoch, stateJson: JSON.stringify(group.snapshot()) };
  }

  /**
   * Unknown topic or partition: 404; offset past the high watermark: 400. In a cluster
   * only the partition's leader knows its high watermark (a follower's lags by a
   * fetch), so elsewhere the offset is taken as it comes, as Kafka's coordinator does.
   */
  private checkOffset(offset: OffsetCommitEntry): void {
    const state = this.topics.partition(offset.topic, offset.partition);
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
  reset(groupId: string, topic: string, partitions: number[] | undefined, to: ResetTarget): Promise<CommittedOffset[]> {
    validateGroupId(groupId);
    const existing = this.groups.get(groupId);
    if (existing !== undefined && existing.group.members.size > 0) {
      throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' has ${existing.group.members.size} live members: offsets can only be reset while it is empty`);
    }
    const described = this.topics.get(topic);
    const chosen = partitions ?? described.partitions.map((state) => state.partition);
    const offsets = chosen.map((partition) => {
      const { log } = this.topics.partition(topic, partition);
      let offset: number;
      if (to === 'earliest') offset = log.logStartOffset;
      else if (to === 'latest') offset = log.highWatermark;
      else if ('timestamp' in to) offset = log.offsetForTimestamp(to.timestamp)?.offset ?? log.highWatermark;
      else offset = Math.min(Math.max(to.offset, log.logStartOffset), log.highWatermark);
      return { topic, partition, offset };
    });
    return this.commit(groupId, { offsets });
  }

  /** Committed offsets with lag, for every partition committed or assigned. */
  offsets(groupId: string, topic?: string): OffsetView[] {
    const entry = this.entry(groupId);
    this.pruneOffsets(this.topicMetadata());
    const keys = new Set<PartitionKey>(entry.offsets.keys());
    for (const member of entry.group.members.values()) for (const key of member.owned.keys()) keys.add(key);
    const views: OffsetView[] = [];
    for (const key of [...keys].sort(compareKeys)) {
      const { topic: name, partition } = parsePartitionKey(key);
      if (topic !== undefined && name !== topic) continue;
      let logEndOffset: number;
      try {
        logEndOffset = this.topics.partition(name, partition).log.highWatermark;
      } catch {
        continue; // The topic went away; its offsets go with it.
      }
      const committed = entry.offsets.get(key);
      views.push({
        topic: name,
        partition,
        offset: committed?.offset ?? null,
        metadata: committed?.metadata ?? null,
        committedAtMs: committed?.committedAtMs ?? null,
        logEndOffset,
        lag: committed === undefined ? null : Math.max(0, logEndOffset - committed.offset),
      });
    }
    return views;
  }

  list(): Array<{ groupId: string; state: string; members: number; lag: number }> {
    return [...this.groups.values()]
      .sort((a, b) => (a.group.groupId < b.group.groupId ? -1 : 1))
      .map((entry) => ({
        groupId: entry.group.groupId,
        state: entry.group.state,
        members: entry.group.members.size,
        lag: this.offsets(entry.group.groupId).reduce((sum, view) => sum + (view.lag ?? 0), 0),
      }));
  }

  describe(groupId: string): object {
    const entry = this.entry(groupId);
    const { group } = entry;
    const nowMs = this.now();
    const offsets = this.offsets(groupId);
    return {
      groupId,
      state: group.state,
      groupEpoch: group.groupEpoch,
      assignor: group.assignorName,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        generation: member.generation,
        subscription: member.subscription,
        assignment: toTopicAssignments(member.assigned),
        targetAssignment: toTopicAssignments(group.targetOf(member.memberId)),
        revoking: toTopicAssignments([...member.owned.keys()].filter((key) => !member.assigned.has(key))),
        sessionTimeoutMs: member.sessionTimeoutMs,
        lastSeenMsAgo: Math.max(0, nowMs - member.lastSeenMs),
      })),
      offsets,
      lag: offsets.reduce((sum, view) => sum + (view.lag ?? 0), 0),
    };
  }

  async delete(groupId: string): Promise<void> {
    const entry = this.entry(groupId);
    if (entry.group.members.size > 0) {
      throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' has ${entry.group.members.size} live members; it can be deleted once they leave or time out`);
    }
    const log = this.offsetsLog();
    if (log !== undefined) {
      await log.append(groupId, tombstonesOf(entry), true);
      if (this.groups.get(groupId) !== entry) return; // Deleted meanwhile.
      if (entry.group.members.size > 0) {
        // A member joined while the tombstones were written: the offsets are gone, the group stays.
        this.store.deleteOffsets(groupId, [...entry.offsets.values()]);
        entry.offsets.clear();
        throw new RunnelError('GROUP_NOT_EMPTY', `group '${groupId}' got a member while it was being deleted: its offsets were deleted, the group was kept`);
      }
    }
    this.store.deleteGroup(groupId);
    this.groups.delete(groupId);
    entry.changes.notify();
  }

  /**
   * Deletes groups empty for longer than the offsets retention. Returns their ids. In a
   * cluster only the groups this node coordinates, each once its tombstones are
   * committed (in the background: the ids returned are those whose expiry began).
   */
  expireOffsets(nowMs = this.now()): string[] {
    const log = this.offsetsLog();
    const expired: string[] = [];
    for (const entry of this.groups.values()) {
      const { group } = entry;
      if (group.members.size > 0 || group.emptySinceMs === null) continue;
      if (log !== undefined && (!log.isCoordinating(group.groupId) || this.expiring.has(group.groupId))) continue;
      const idleSinceMs = Math.max(group.emptySinceMs, entry.lastCommitMs);
      if (nowMs - idleSinceMs > this.options.offsetsRetentionMs) expired.push(group.groupId);
    }
    for (const groupId of expired) {
      if (log === undefined) {
        this.store.deleteGroup(groupId);
        this.groups.delete(groupId);
        continue;
      }
      this.expiring.add(groupId);
      const entry = this.groups.get(groupId);
      if (entry === undefined) continue;
      log.append(groupId, tombstonesOf(entry), true)
        .then(() => {
          // Kept if it came back to life while the tombstones were written (the appliers keep it too).
          if (this.groups.get(groupId) !== entry || entry.group.members.size > 0 || entry.lastCommitMs > nowMs) return;
          this.store.deleteGroup(groupId);
          this.groups.delete(groupId);
        })
        .catch((error: unknown) => this.options.onError?.(error, `expiry of group '${groupId}'`))
        .finally(() => this.expiring.delete(groupId));
    }
    return expired;
  }

  /**
   * The offsets applier stored (committed: null, deleted) this replicated offset:
   * the in-memory view follows, creating the group if this node has not seen it.
   */
  applyOffset(groupId: string, topic: string, partition: number, committed: CommittedOffset | null): void {
    const key = partitionKey(topic, partition);
    let entry = this.groups.get(groupId);
    if (committed === null) {
      this.store.deleteOffsets(groupId, [{ topic, partition }]);
      entry?.offsets.delete(key);
      return;
    }
    if (entry === undefined) {
      entry = {
        group: new ConsumerGroup(groupId, committed.committedAtMs),
        offsets: new Map(),
        changes: new AppendNotifier(limits.waitersPerPartitionMax),
        persistedVersion: -1,
        lastCommitMs: 0,
      };
      this.groups.set(groupId, entry);
    }
    if (entry.persistedVersion === -1) {
      this.store.ensureGroup(groupId, entry.group.createdAtMs);
      entry.persistedVersion = entry.group.version;
    }
    this.store.commitOffsets(groupId, [committed]);
    // remember() for one offset, without building every topic's metadata per record.
    entry.offsets.set(key, committed);
    if (this.topics.find(topic, partition) !== undefined) this.offsetTopicIds.set(topic, this.topics.get(topic).record.topicId);
    entry.lastCommitMs = Math.max(entry.lastCommitMs, committed.committedAtMs);
  }

  /** The applier met a group tombstone: the group goes, unless members joined it here since. */
  applyGroupDeleted(groupId: string): void {
    const entry = this.groups.get(groupId);
    if (entry !== undefined && entry.group.members.size > 0) return;
    this.store.deleteGroup(groupId);
    if (entry === undefined) return;
    this.groups.delete(groupId);
    entry.changes.notify();
  }

  /**
   * This node starts or stops coordinating these groups. Members are not replicated
   * (KIP-848's member records are not kept yet), so they are dropped: their polls end
   * with UNKNOWN_MEMBER and they join again at the coordinator. Offsets stay.
   */
  dropMembers(isAffected: (groupId: string) => boolean): void {
    const nowMs = this.now();
    for (const entry of this.groups.values()) {
      const { group } = entry;
      if (!isAffected(group.groupId) || group.members.size === 0) continue;
      entry.group = new ConsumerGroup(group.groupId, group.createdAtMs, { groupEpoch: group.groupEpoch + 1, emptySinceMs: nowMs });
      entry.persistedVersion = -1;
      this.persist(entry);
    }
  }
}

function toChange(committed: CommittedOffset): OffsetChange {
  return { topic: committed.topic, partition: committed.partition, committed };
}

function tombstonesOf(entry: GroupEntry): OffsetChange[] {
  return [...entry.offsets.values()].map(({ topic, partition }) => ({ topic, partition, committed: null }));
}

export type { GroupEntry };

export function heartbeatIntervalMs(sessionTimeoutMs: number): number {
  return Math.max(100, Math.min(limits.heartbeatIntervalMsMax, Math.floor(sessionTimeoutMs / 3)));
}

function validateGroupId(groupId: string): void {
  if (groupId.length === 0 || groupId.length > limits.groupIdLengthMax || !GROUP_ID_PATTERN.test(groupId)) {
    throw new RunnelError('INVALID_REQUEST', `invalid group id ${JSON.stringify(groupId.slice(0, 300))}: use 1-${limits.groupIdLengthMax} characters of [a-zA-Z0-9._:-]`);
  }
}

function validateSubscription(subscription: Subscription): Subscription {
  const hasAny = (subscription.topics?.length ?? 0) > 0 || subscription.topicPattern !== undefined || subscription.topicPrefix !== undefined;
  if (!hasAny) throw new RunnelError('INVALID_REQUEST', 'a member must subscribe to topics, a topicPrefix or a topicPattern');
  if (subscription.topicPattern !== undefined) {
    try {
      new RegExp(subscription.topicPattern);
    } catch (error) {
      throw new RunnelError('INVALID_REQUEST', `topicPattern is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  return subscription;
}

function compareKeys(a: PartitionKey, b: PartitionKey): number {
  const left = parsePartitionKey(a);
  const right = parsePartitionKey(b);
  if (left.topic !== right.topic) return left.topic < right.topic ? -1 : 1;
  return left.partition - right.partition;
}
