/**
 * GroupCoordinator: every consumer group on this node, the one object the broker,
 * the routes and the poller talk to. It owns the timers and puts the parts together:
 *
 * - GroupMetadataManager (group-metadata.ts): the groups, their committed offsets in
 *   memory, and saving them (group-snapshot.ts: the stored form of a group).
 * - GroupMembership (membership.ts): join, heartbeat, leave, the session sweep.
 * - OffsetCommitter (offset-committer.ts): commit, auto-commit, reset, delete, expiry;
 *   in a cluster each through __consumer_offsets first (offsets-log.ts).
 * - group-views.ts: the list, a group described, offsets and lag for the API.
 * - GroupOffsetsSink (offsets-sink.ts): replicated offsets applied on every replica.
 * ConsumerGroup (consumer-group.ts) is the pure state machine under all of them.
 */
import type { GroupSummary } from '../../api/types.js';
import type { CommittedOffset, GroupPersistence } from '../../meta/group-store.js';
import { limits } from '../../limits.js';
import type { PartitionKey } from '../../util/partition-key.js';
import type { TopicManager } from '../topic-manager.js';
import type { Acknowledgement, Member, TopicMetadata } from './consumer-group.js';
import { GroupMetadataManager, type GroupEntry } from './group-metadata.js';
import { describeGroup, listGroups, offsetAnswer, offsetViews, type OffsetAnswer } from './group-views.js';
import { GroupMembership, type JoinRequest, type MemberReply } from './membership.js';
import { OffsetCommitter, type CommitRequest, type OffsetCommitterOptions, type ResetTarget } from './offset-committer.js';
import { GroupOffsetsSink } from './offsets-sink.js';
import { PartitionRanges } from './partition-ranges.js';
import { SingleNodeReplication } from '../replication.js';

// The request types the routes take, where they have always been found.
export type { JoinRequest, MemberReply } from './membership.js';
export type { CommitRequest, OffsetCommitEntry, ResetTarget } from './offset-committer.js';

export interface CoordinatorOptions extends Omit<OffsetCommitterOptions, 'ranges'> {
  nowMs?: () => number;
  /** Ranges of partitions with no replica here (a cluster); a single node's own logs when absent. */
  ranges?: PartitionRanges;
}

export class GroupCoordinator {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly groups: GroupMetadataManager;
  private readonly membership: GroupMembership;
  private readonly committer: OffsetCommitter;
  private readonly sink: GroupOffsetsSink;
  /** Log start and high watermark of the partitions groups read, here or at the nodes holding them. */
  readonly ranges: PartitionRanges;

  constructor(topics: TopicManager, store: GroupPersistence, private readonly options: CoordinatorOptions) {
    this.groups = new GroupMetadataManager(topics, store, options.nowMs ?? Date.now);
    this.ranges = options.ranges ?? new PartitionRanges(topics, new SingleNodeReplication(0));
    this.membership = new GroupMembership(this.groups);
    this.committer = new OffsetCommitter(this.groups, { ...options, ranges: this.ranges });
    this.sink = new GroupOffsetsSink(this.groups);
  }

  /** True on a single node, and in a cluster where this node leads the partition (knows its real high watermark). */
  isLocalLeader(state: { leader: number }): boolean {
    return this.committer.isLocalLeader(state);
  }

  /** Restores groups and offsets from the store; call once the topics are loaded. */
  load(): void {
    this.groups.load();
  }

  /** Starts the session sweep and offset expiry; close() stops them. */
  start(): void {
    // Both write SQLite: on a full disk (SQLITE_FULL) a throw from a timer would end the
    // process; it is reported and the next round tries again.
    const guarded = (task: () => unknown, context: string) => (): void => {
      try {
        task();
      } catch (error) {
        this.options.onError?.(error, context);
      }
    };
    const sweep = setInterval(guarded(() => this.sweep(), 'group session sweep'), limits.groupSweepIntervalMs);
    sweep.unref();
    const expiry = setInterval(guarded(() => this.expireOffsets(), 'offset expiry'), Math.min(60_000, Math.max(1000, this.options.offsetsRetentionMs / 10)));
    expiry.unref();
    this.timers.push(sweep, expiry);
  }

  /** True once the node is stopping: polls answer at once instead of waiting. */
  isClosed = false;

  close(): void {
    this.isClosed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    for (const entry of this.groups.groups.values()) entry.changes.notify();
  }

  /** Each topic's partition count and id, as the groups see them. */
  topicMetadata(): TopicMetadata {
    return this.groups.topicMetadata();
  }

  /** Removes expired members and follows topic changes in every group. */
  sweep(nowMs = this.groups.now()): void {
    this.membership.sweep(nowMs);
  }

  reply(entry: GroupEntry, member: Member): MemberReply {
    return this.membership.reply(entry, member);
  }

  join(groupId: string, request: JoinRequest): MemberReply {
    return this.membership.join(groupId, request);
  }

  /** Renews the member's session, applies its acknowledgement and answers with its assignment. */
  heartbeat(groupId: string, memberId: string, acknowledgement: Acknowledgement): MemberReply {
    return this.membership.heartbeat(groupId, memberId, acknowledgement);
  }

  /** The member and its group entry, untouched (404 when either is unknown). */
  find(groupId: string, memberId: string): { entry: GroupEntry; member: Member } {
    return this.membership.find(groupId, memberId);
  }

  /** For polls: the member, touched and reconciled, plus its group entry (after the auto-commit, if any). */
  async touchForPoll(groupId: string, memberId: string, autoCommit: ReadonlyMap<PartitionKey, number> | undefined): Promise<{ entry: GroupEntry; member: Member }> {
    let { entry, member } = this.find(groupId, memberId);
    if (autoCommit !== undefined && autoCommit.size > 0) {
      await this.committer.autoCommit(entry, member, autoCommit);
      // The append may have waited: the member must still be there.
      ({ entry, member } = this.find(groupId, memberId));
    }
    this.membership.touch(entry, member, { isImplicit: true });
    return { entry, member };
  }

  /** Re-reconciles a member waiting in a poll (its assignment may have grown). */
  refreshMember(entry: GroupEntry, member: Member): void {
    this.membership.touch(entry, member, undefined);
  }

  leave(groupId: string, memberId: string): void {
    this.membership.leave(groupId, memberId);
  }

  committed(entry: GroupEntry, key: PartitionKey): CommittedOffset | undefined {
    return entry.offsets.get(key);
  }

  /** Commits offsets, all or none (see OffsetCommitter.commit). */
  commit(groupId: string, request: CommitRequest): Promise<CommittedOffset[]> {
    return this.committer.commit(groupId, request);
  }

  /** kafka-consumer-groups --reset-offsets, while the group has no live members. */
  reset(groupId: string, topic: string, partitions: number[] | undefined, to: ResetTarget): Promise<CommittedOffset[]> {
    return this.committer.reset(groupId, topic, partitions, to);
  }

  /** Committed offsets with lag, for every partition committed or assigned, as the API answers them. */
  offsets(groupId: string, topic?: string): OffsetAnswer[] {
    return offsetViews(this.groups, this.ranges, groupId, topic).map(offsetAnswer);
  }

  list(): GroupSummary[] {
    return listGroups(this.groups, this.ranges);
  }

  describe(groupId: string): object {
    return describeGroup(this.groups, this.ranges, groupId);
  }

  /**
   * Learns the high watermarks of the partitions a group (every group when none is
   * named) commits or reads that have no replica here, from nodes that hold one; call
   * before list(), describe() or offsets() so their lag is current.
   */
  async refreshRanges(groupId?: string): Promise<void> {
    const keys = new Set<PartitionKey>();
    const entries = groupId === undefined ? [...this.groups.groups.values()] : [this.groups.groups.get(groupId)];
    for (const entry of entries) {
      if (entry === undefined) continue;
      for (const key of entry.offsets.keys()) keys.add(key);
      for (const member of entry.group.members.values()) for (const key of member.owned.keys()) keys.add(key);
    }
    await this.ranges.refresh(keys);
  }

  delete(groupId: string): Promise<void> {
    return this.committer.delete(groupId);
  }

  /** Deletes groups empty for longer than the offsets retention (see OffsetCommitter.expireOffsets). */
  expireOffsets(nowMs = this.groups.now()): string[] {
    return this.committer.expireOffsets(nowMs);
  }

  /** The offsets applier stored (committed: null, deleted) this replicated offset. */
  applyOffset(groupId: string, topic: string, partition: number, committed: CommittedOffset | null): void {
    this.sink.applyOffset(groupId, topic, partition, committed);
  }

  /** The applier met a group tombstone. */
  applyGroupDeleted(groupId: string): void {
    this.sink.applyGroupDeleted(groupId);
  }

  /** This node starts or stops coordinating these groups: their members are dropped (see GroupMembership). */
  dropMembers(isAffected: (groupId: string) => boolean): void {
    this.membership.dropMembers(isAffected);
  }
}
