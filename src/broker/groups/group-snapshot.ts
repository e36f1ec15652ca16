/**
 * A consumer group as the store keeps it across restarts: its members (with what each
 * owns and was last told) and the target assignment, as JSON in the group's row.
 * Partition keys are stored as they are (`topic:partition`), so that format is part of
 * the stored state. Sessions are not: a restored member's starts afresh.
 */
import type { StoredGroup } from '../../meta/group-store.js';
import type { PartitionKey } from '../../util/partition-key.js';
import type { AssignorName } from './assignors.js';
import { ConsumerGroup, type AutoOffsetReset, type Member, type Subscription, type TopicMetadata } from './consumer-group.js';
import { topicPatternProblem } from './topic-pattern.js';

interface MemberSnapshot {
  memberId: string;
  clientId: string;
  subscription: Subscription;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  assignor: AssignorName;
  autoOffsetReset: AutoOffsetReset;
  generation: number;
  owned: Array<[PartitionKey, number]>;
  assigned: PartitionKey[];
  joinedAtMs: number;
  /** Absent in rows saved before owners were kept, and for members joined without a key. */
  ownerKeyId?: string;
}

export interface GroupSnapshot {
  members: MemberSnapshot[];
  target: Array<[string, PartitionKey[]]>;
}

export function snapshotOf(group: ConsumerGroup): GroupSnapshot {
  return {
    members: [...group.members.values()].map((member) => ({
      memberId: member.memberId,
      clientId: member.clientId,
      subscription: member.subscription,
      sessionTimeoutMs: member.sessionTimeoutMs,
      rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      assignor: member.assignor,
      autoOffsetReset: member.autoOffsetReset,
      generation: member.generation,
      owned: [...member.owned],
      assigned: [...member.assigned],
      joinedAtMs: member.joinedAtMs,
      ownerKeyId: member.ownerKeyId,
    })),
    target: [...group.targetAssignment].map(([memberId, keys]) => [memberId, [...keys]]),
  };
}

/** The group's row: its snapshot as JSON, with the fields the store keeps in columns. */
export function storedGroupOf(group: ConsumerGroup): StoredGroup {
  return { groupId: group.groupId, createdAtMs: group.createdAtMs, emptySinceMs: group.emptySinceMs, groupEpoch: group.groupEpoch, stateJson: JSON.stringify(snapshotOf(group)) };
}

/**
 * The group of a stored row, after a restart. Sessions start afresh at nowMs; every
 * member is taken to have seen its assignment (it was sent before the restart).
 */
export function restoreGroup(stored: StoredGroup, nowMs: number, topics: TopicMetadata): ConsumerGroup {
  const group = new ConsumerGroup(stored.groupId, stored.createdAtMs, { groupEpoch: stored.groupEpoch, emptySinceMs: stored.emptySinceMs });
  const snapshot = JSON.parse(stored.stateJson) as GroupSnapshot;
  const members = snapshot.members.map((saved): Member => ({
    ...saved,
    subscription: acceptedSubscription(stored.groupId, saved.memberId, saved.subscription),
    owned: new Map(saved.owned),
    assigned: new Set(saved.assigned),
    deliveredGeneration: saved.generation,
    revokingSinceMs: saved.owned.length > saved.assigned.length ? nowMs : null,
    lastSeenMs: nowMs,
    activeCalls: 0,
  }));
  group.restore(members, new Map(snapshot.target.map(([memberId, keys]) => [memberId, new Set(keys)])), topics);
  return group;
}

/**
 * A saved subscription, without a topicPattern this version refuses (saved by an older
 * one: a JavaScript RegExp with lookaround, say): the member keeps its other topics,
 * the pattern is dropped with a warning rather than matched or allowed to stop the start.
 */
function acceptedSubscription(groupId: string, memberId: string, subscription: Subscription): Subscription {
  if (subscription.topicPattern === undefined) return subscription;
  const problem = topicPatternProblem(subscription.topicPattern);
  if (problem === undefined) return subscription;
  process.emitWarning(`group '${groupId}': member ${memberId}'s saved topicPattern is dropped: ${problem}`, { code: 'RUNNEL_TOPIC_PATTERN_DROPPED' });
  const { topicPattern: _dropped, ...rest } = subscription;
  return rest;
}
