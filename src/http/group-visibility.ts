/**
 * What an API key sees of a consumer group (--auth api-key). A key with read on a
 * group may describe it, but a group's members may consume topics the key cannot
 * read: their names, committed offsets and lag are not the key's to see. So the
 * group's answers keep only the topics the key may read (Kafka's OffsetFetch answers
 * likewise only for topics the caller may describe), and every lag is summed over
 * those alone.
 */
import { canReadPrefix, isAllowed, type Principal } from '../broker/access-control.js';
import type { Broker } from '../broker/broker.js';
import { RunnelError } from '../errors.js';

interface TopicAssignmentView { topic: string; partitions: number[] }
interface OffsetLike { topic: string; lag: number | null }
interface SubscriptionView { topics?: string[]; topicPrefix?: string; topicPattern?: string }
interface MemberView {
  subscription: SubscriptionView;
  assignment: TopicAssignmentView[];
  targetAssignment: TopicAssignmentView[];
  revoking: TopicAssignmentView[];
}
interface GroupView { members: MemberView[]; offsets: OffsetLike[]; lag: number }
interface GroupSummaryView { groupId: string; lag: number }

type Readable = (topic: string) => boolean;

function readableBy(principal: Principal): Readable {
  return (topic) => isAllowed(principal, 'topic', topic, 'read');
}

function totalLag(offsets: OffsetLike[]): number {
  return offsets.reduce((sum, offset) => sum + (offset.lag ?? 0), 0);
}

/** A member's subscription as the key may see it: a prefix or pattern only when the key reads all it can match. */
function visibleSubscription(principal: Principal, isReadable: Readable, subscription: SubscriptionView): SubscriptionView {
  const visible: SubscriptionView = {};
  if (subscription.topics !== undefined) visible.topics = subscription.topics.filter(isReadable);
  if (subscription.topicPrefix !== undefined && canReadPrefix(principal, subscription.topicPrefix)) visible.topicPrefix = subscription.topicPrefix;
  if (subscription.topicPattern !== undefined && canReadPrefix(principal, '')) visible.topicPattern = subscription.topicPattern;
  return visible;
}

/** GET /v1/groups/{group}: members' subscriptions and assignments, offsets and lag, of readable topics only. */
export function visibleGroup(principal: Principal, payload: unknown): unknown {
  const group = payload as GroupView;
  const isReadable = readableBy(principal);
  const only = (assignments: TopicAssignmentView[]): TopicAssignmentView[] => assignments.filter((entry) => isReadable(entry.topic));
  const offsets = group.offsets.filter((offset) => isReadable(offset.topic));
  return {
    ...group,
    members: group.members.map((member) => ({
      ...member,
      subscription: visibleSubscription(principal, isReadable, member.subscription),
      assignment: only(member.assignment),
      targetAssignment: only(member.targetAssignment),
      revoking: only(member.revoking),
    })),
    offsets,
    lag: totalLag(offsets),
  };
}

/** GET /v1/groups/{group}/offsets: readable topics only. */
export function visibleOffsets(principal: Principal, payload: unknown): unknown {
  const answer = payload as { offsets: OffsetLike[] };
  const isReadable = readableBy(principal);
  return { ...answer, offsets: answer.offsets.filter((offset) => isReadable(offset.topic)) };
}

/**
 * GET /v1/groups: each group's lag over the topics the key may read (the list itself
 * is filtered to the groups the key has a grant on first).
 */
export function visibleGroupLags(broker: Broker) {
  return (principal: Principal, groups: GroupSummaryView[]): GroupSummaryView[] => {
    if (canReadPrefix(principal, '')) return groups;
    const isReadable = readableBy(principal);
    return groups.map((group) => {
      let offsets: OffsetLike[];
      try {
        offsets = broker.groups.offsets(group.groupId);
      } catch (error) {
        if (error instanceof RunnelError && error.code === 'GROUP_NOT_FOUND') return { ...group, lag: 0 }; // Deleted since the list was made.
        throw error;
      }
      return { ...group, lag: totalLag(offsets.filter((offset) => isReadable(offset.topic))) };
    });
  };
}
