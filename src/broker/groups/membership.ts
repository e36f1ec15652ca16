/**
 * GroupMembership: members joining, calling (heartbeat or poll) and leaving, and the
 * sweep that removes those whose session expired. Membership lives here, not in a
 * connection, so a consumer is a series of stateless HTTP calls that may come over
 * any connection. ConsumerGroup (consumer-group.ts) decides; this adds the clock,
 * the topics, ids and limits, and saves the group when it changed.
 */
import { randomBytes } from 'node:crypto';
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { AssignorName } from './assignors.js';
import { ConsumerGroup, type Acknowledgement, type AutoOffsetReset, type Member, type Subscription } from './consumer-group.js';
import type { GroupEntry, GroupMetadataManager } from './group-metadata.js';
import { toTopicAssignments, type TopicAssignment } from './topic-assignment.js';
import { compileTopicPattern } from './topic-pattern.js';

export interface JoinRequest {
  subscription: Subscription;
  clientId?: string;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  assignor?: AssignorName;
  autoOffsetReset?: AutoOffsetReset;
  /** The API key making the call (kept as the member's owner). */
  ownerKeyId?: string;
}

export interface MemberReply {
  groupId: string;
  memberId: string;
  generation: number;
  assignment: TopicAssignment[];
  heartbeatIntervalMs: number;
}

export function heartbeatIntervalMs(sessionTimeoutMs: number): number {
  return Math.max(100, Math.min(limits.heartbeatIntervalMsMax, Math.floor(sessionTimeoutMs / 3)));
}

export class GroupMembership {
  constructor(private readonly groups: GroupMetadataManager) {}

  /** The member's reply (its assignment), noted as delivered. */
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
    const { groups } = this;
    const subscription = validateSubscription(request.subscription);
    const entry = groups.entryOrNew(groupId);
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
      ownerKeyId: request.ownerKeyId,
    }, groups.now(), groups.topicMetadata());
    const reply = this.reply(entry, member);
    groups.persist(entry);
    return reply;
  }

  /** Renews the member's session, applies its acknowledgement and answers with its assignment. */
  heartbeat(groupId: string, memberId: string, acknowledgement: Acknowledgement): MemberReply {
    const { groups } = this;
    const entry = groups.entry(groupId);
    const member = groups.member(entry, memberId);
    entry.group.touch(member, groups.now(), acknowledgement, groups.topicMetadata());
    const reply = this.reply(entry, member);
    groups.persist(entry);
    return reply;
  }

  /** The member and its group entry, untouched (404 when either is unknown). */
  find(groupId: string, memberId: string): { entry: GroupEntry; member: Member } {
    const entry = this.groups.entry(groupId);
    return { entry, member: this.groups.member(entry, memberId) };
  }

  /**
   * Reconciles a member (touched by a poll, or waiting in one: its assignment may
   * have grown). `acknowledgement` undefined: nothing is acknowledged.
   */
  touch(entry: GroupEntry, member: Member, acknowledgement: Acknowledgement | undefined): void {
    const { groups } = this;
    const metadata = groups.topicMetadata();
    groups.pruneOffsets(metadata);
    entry.group.touch(member, groups.now(), acknowledgement, metadata);
    groups.persist(entry);
  }

  leave(groupId: string, memberId: string): void {
    const { groups } = this;
    const entry = groups.entry(groupId);
    groups.member(entry, memberId);
    entry.group.leave(memberId, groups.now(), groups.topicMetadata());
    groups.persist(entry);
  }

  /** Removes expired members and follows topic changes in every group. */
  sweep(nowMs: number): void {
    const { groups } = this;
    const metadata = groups.topicMetadata();
    groups.pruneOffsets(metadata);
    for (const entry of groups.groups.values()) {
      if (entry.group.members.size === 0) continue;
      entry.group.expire(nowMs, metadata);
      groups.persist(entry);
    }
  }

  /**
   * This node starts or stops coordinating these groups. Members are not replicated
   * (KIP-848's member records are not kept yet), so they are dropped: their polls end
   * with UNKNOWN_MEMBER and they join again at the coordinator. Offsets stay.
   */
  dropMembers(isAffected: (groupId: string) => boolean): void {
    const { groups } = this;
    const nowMs = groups.now();
    for (const entry of groups.groups.values()) {
      const { group } = entry;
      if (!isAffected(group.groupId) || group.members.size === 0) continue;
      entry.group = new ConsumerGroup(group.groupId, group.createdAtMs, { groupEpoch: group.groupEpoch + 1, emptySinceMs: nowMs });
      entry.persistedVersion = -1;
      groups.persist(entry);
    }
  }
}

function validateSubscription(subscription: Subscription): Subscription {
  const hasAny = (subscription.topics?.length ?? 0) > 0 || subscription.topicPattern !== undefined || subscription.topicPrefix !== undefined;
  if (!hasAny) throw new RunnelError('INVALID_REQUEST', 'a member must subscribe to topics, a topicPrefix or a topicPattern');
  if (subscription.topicPattern !== undefined) compileTopicPattern(subscription.topicPattern);
  return subscription;
}
