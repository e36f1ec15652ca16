/**
 * ConsumerGroup: one group's membership and assignment, as a state machine with no
 * I/O and no clock of its own (every call takes nowMs), so a simulation can drive it
 * deterministically. The coordinator persists its snapshot (group-snapshot.ts) and
 * serves HTTP.
 *
 * Protocol (after Kafka's KIP-848, server-side and incremental):
 * - The group epoch rises whenever membership, a subscription or the subscribed
 *   topics change; the target assignment is then recomputed by the group's assignor.
 * - Each member owns a set of partitions (`owned`). Reconciling a member moves its
 *   owned set towards its target: partitions outside the target are revoked (the
 *   member keeps owning them until it acknowledges), partitions in the target are
 *   added only when no other member owns them. Hence the invariant, asserted after
 *   every change: no partition is owned by two members at once.
 * - A member's generation (KIP-848's member epoch) rises each time the assignment
 *   sent to it changes. Each owned partition remembers the generation it was
 *   assigned in; a commit is accepted for a partition the member owns with a
 *   generation between that one and the current one.
 * - A member acknowledges the assignment it was last sent by calling again with that
 *   generation (a poll, or a heartbeat without a body), or exactly by listing the
 *   partitions it still owns in a heartbeat. Acknowledged revocations free the
 *   partitions for their new owners.
 * - A member silent for sessionTimeoutMs is removed; one that has not given up a
 *   revoked partition within rebalanceTimeoutMs is removed too (fenced), so one stuck
 *   consumer cannot stall the group forever.
 */
import { assert } from '../../util/assert.js';
import { assignors, type AssignorName } from './assignors.js';
import { parsePartitionKey, type PartitionKey } from '../../util/partition-key.js';
import { TopicPatternMatcher } from './topic-pattern.js';

export type GroupState = 'Empty' | 'Stable' | 'Reconciling';
export type AutoOffsetReset = 'earliest' | 'latest';

export interface Subscription {
  /** Topic names. */
  topics?: string[];
  /** A regular expression (RE2 syntax, topic-pattern.ts) a whole topic name must match. */
  topicPattern?: string;
  /** A prefix of topic names. */
  topicPrefix?: string;
}

export interface JoinInput {
  memberId: string;
  clientId: string;
  subscription: Subscription;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  assignor: AssignorName;
  autoOffsetReset: AutoOffsetReset;
  /**
   * The API key that joined the member (--auth api-key): it, or a key with admin on
   * the group, may remove the member. Undefined when the node ran without keys.
   */
  ownerKeyId?: string;
}

export interface Member extends JoinInput {
  generation: number;
  /** Partition -> generation it was assigned in. Includes partitions being revoked. */
  owned: Map<PartitionKey, number>;
  /** What the member was last told it owns (owned minus those being revoked). */
  assigned: Set<PartitionKey>;
  /** Generation of the last reply the member was sent. */
  deliveredGeneration: number;
  revokingSinceMs: number | null;
  lastSeenMs: number;
  joinedAtMs: number;
  /** In-flight polls: a member waiting in a long-poll is alive. */
  activeCalls: number;
}

/** Each topic's partition count and id (a re-created topic has a new id). */
export type TopicMetadata = ReadonlyMap<string, { partitionCount: number; topicId: string }>;

export interface Acknowledgement {
  /** Partitions the member still holds (a heartbeat body); exact. */
  ownedPartitions?: PartitionKey[];
  /** The generation the member has seen; releases revocations when it is current. */
  generation?: number;
  /** True for calls without either: acknowledges what was last delivered. */
  isImplicit?: boolean;
}

export class ConsumerGroup {
  readonly members = new Map<string, Member>();
  groupEpoch: number;
  private target = new Map<string, Set<PartitionKey>>();
  private topicIds = new Map<string, string>();
  /** Each topic pattern's matches, so a name is matched once, not on every sweep. */
  private readonly patterns = new TopicPatternMatcher();
  /** Bumped on every change worth persisting (membership, assignment). */
  version = 0;
  /** When the group last became empty; null while it has members. */
  emptySinceMs: number | null;

  constructor(readonly groupId: string, readonly createdAtMs: number, options: { groupEpoch?: number; emptySinceMs?: number | null } = {}) {
    this.groupEpoch = options.groupEpoch ?? 0;
    this.emptySinceMs = options.emptySinceMs === undefined ? createdAtMs : options.emptySinceMs;
  }

  get state(): GroupState {
    if (this.members.size === 0) return 'Empty';
    for (const member of this.members.values()) {
      const target = this.target.get(member.memberId) ?? new Set();
      if (member.owned.size !== target.size || member.assigned.size !== target.size) return 'Reconciling';
      for (const key of target) if (!member.owned.has(key)) return 'Reconciling';
    }
    return 'Stable';
  }

  /** The assignor most members asked for (ties: the earliest joined of them). */
  get assignorName(): AssignorName {
    const votes = new Map<AssignorName, { count: number; firstJoinedMs: number }>();
    for (const member of this.members.values()) {
      const vote = votes.get(member.assignor) ?? { count: 0, firstJoinedMs: member.joinedAtMs };
      vote.count += 1;
      vote.firstJoinedMs = Math.min(vote.firstJoinedMs, member.joinedAtMs);
      votes.set(member.assignor, vote);
    }
    let best: AssignorName = 'sticky';
    let bestVote: { count: number; firstJoinedMs: number } | undefined;
    for (const [name, vote] of votes) {
      if (bestVote === undefined || vote.count > bestVote.count || (vote.count === bestVote.count && vote.firstJoinedMs < bestVote.firstJoinedMs)) {
        best = name;
        bestVote = vote;
      }
    }
    return best;
  }

  /** The target assignment of every member (for snapshots). */
  get targetAssignment(): ReadonlyMap<string, ReadonlySet<PartitionKey>> {
    return this.target;
  }

  targetOf(memberId: string): ReadonlySet<PartitionKey> {
    return this.target.get(memberId) ?? new Set();
  }

  /** The member owning a partition, if any. */
  ownerOf(key: PartitionKey): Member | undefined {
    for (const member of this.members.values()) if (member.owned.has(key)) return member;
    return undefined;
  }

  member(memberId: string): Member | undefined {
    return this.members.get(memberId);
  }

  join(input: JoinInput, nowMs: number, topics: TopicMetadata): Member {
    assert(!this.members.has(input.memberId), () => `member ${input.memberId} already in group ${this.groupId}`);
    const member: Member = {
      ...input,
      generation: 0,
      owned: new Map(),
      assigned: new Set(),
      deliveredGeneration: 0,
      revokingSinceMs: null,
      lastSeenMs: nowMs,
      joinedAtMs: nowMs,
      activeCalls: 0,
    };
    this.members.set(member.memberId, member);
    this.emptySinceMs = null;
    this.rebalance(topics);
    this.reconcile(member, nowMs);
    // A joining member's first assignment is its generation 1 even when empty.
    if (member.generation === 0) member.generation = 1;
    return member;
  }

  /**
   * A member called (heartbeat, poll, commit): renew its session, apply its
   * acknowledgement and move it towards its target.
   */
  touch(member: Member, nowMs: number, acknowledgement: Acknowledgement | undefined, topics: TopicMetadata): void {
    member.lastSeenMs = nowMs;
    this.refreshTopics(topics);
    if (acknowledgement !== undefined) this.acknowledge(member, acknowledgement);
    this.reconcile(member, nowMs);
  }

  /** Records that the member has been sent its current assignment. */
  delivered(member: Member): void {
    member.deliveredGeneration = member.generation;
  }

  leave(memberId: string, nowMs: number, topics: TopicMetadata): boolean {
    if (!this.members.delete(memberId)) return false;
    this.target.delete(memberId);
    if (this.members.size === 0) this.emptySinceMs = nowMs;
    this.rebalance(topics);
    return true;
  }

  /**
   * Removes members whose session expired or who held on to revoked partitions past
   * their rebalance timeout. Returns the ids removed.
   */
  expire(nowMs: number, topics: TopicMetadata): string[] {
    const removed: string[] = [];
    for (const member of this.members.values()) {
      const isSilent = member.activeCalls === 0 && nowMs - member.lastSeenMs > member.sessionTimeoutMs;
      const isStuck = member.revokingSinceMs !== null && nowMs - member.revokingSinceMs > member.rebalanceTimeoutMs;
      if (isSilent || isStuck) removed.push(member.memberId);
    }
    for (const memberId of removed) this.leave(memberId, nowMs, topics);
    if (removed.length === 0) this.refreshTopics(topics);
    return removed;
  }

  /** Commit check: may this member commit this partition with this generation? */
  canCommit(member: Member, key: PartitionKey, generation: number): boolean {
    const assignedIn = member.owned.get(key);
    return assignedIn !== undefined && generation >= assignedIn && generation <= member.generation;
  }

  /**
   * Follows topic changes: deleted or re-created topics leave every owned set at
   * once (nothing to give back); any change recomputes the target.
   */
  refreshTopics(topics: TopicMetadata): void {
    let isChanged = false;
    for (const [topic, topicId] of this.topicIds) {
      const now = topics.get(topic);
      if (now === undefined || now.topicId !== topicId) {
        this.dropTopic(topic);
        isChanged = true;
      }
    }
    for (const member of this.members.values()) {
      for (const key of member.owned.keys()) {
        const { topic, partition } = parsePartitionKey(key);
        const now = topics.get(topic);
        if (now === undefined || partition >= now.partitionCount) {
          member.owned.delete(key);
          member.assigned.delete(key);
          isChanged = true;
        }
      }
    }
    const subscribed = this.subscribedTopics(topics);
    const fingerprint = [...subscribed].sort().map((topic) => `${topic}:${topics.get(topic)!.topicId}:${topics.get(topic)!.partitionCount}`).join(',');
    if (fingerprint !== this.lastFingerprint) isChanged = true;
    if (isChanged) this.rebalance(topics);
  }

  private lastFingerprint = '';

  private dropTopic(topic: string): void {
    for (const member of this.members.values()) {
      for (const key of [...member.owned.keys()]) {
        if (parsePartitionKey(key).topic === topic) {
          member.owned.delete(key);
          member.assigned.delete(key);
        }
      }
    }
    this.topicIds.delete(topic);
  }

  /** Every existing topic some member subscribes to. */
  subscribedTopics(topics: TopicMetadata): Set<string> {
    const result = new Set<string>();
    for (const member of this.members.values()) for (const topic of resolveSubscription(member.subscription, topics, this.patterns)) result.add(topic);
    return result;
  }

  /** Recomputes the target assignment; bumps the group epoch when it changed. */
  private rebalance(topics: TopicMetadata): void {
    const members = [...this.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
    const partitionCounts = new Map<string, number>();
    for (const [topic, { partitionCount, topicId }] of topics) {
      partitionCounts.set(topic, partitionCount);
      if (!this.topicIds.has(topic)) this.topicIds.set(topic, topicId);
    }
    for (const topic of [...this.topicIds.keys()]) if (!topics.has(topic)) this.topicIds.delete(topic);
    const subscribed = this.subscribedTopics(topics);
    this.lastFingerprint = [...subscribed].sort().map((topic) => `${topic}:${topics.get(topic)!.topicId}:${topics.get(topic)!.partitionCount}`).join(',');
    const next = assignors[this.assignorName]({
      members: members.map((member) => ({ memberId: member.memberId, topics: resolveSubscription(member.subscription, topics, this.patterns) })),
      partitionCounts,
      previous: this.target,
    });
    this.patterns.retain(new Set(members.flatMap((member) => member.subscription.topicPattern ?? [])), topics);
    if (!sameAssignment(next, this.target)) {
      this.target = next;
      this.groupEpoch += 1;
    }
    this.version += 1;
    this.checkInvariant();
  }

  private acknowledge(member: Member, acknowledgement: Acknowledgement): void {
    const revoking = [...member.owned.keys()].filter((key) => !member.assigned.has(key));
    if (revoking.length === 0) return;
    let released: PartitionKey[] = [];
    if (acknowledgement.ownedPartitions !== undefined) {
      const stillOwned = new Set(acknowledgement.ownedPartitions);
      released = revoking.filter((key) => !stillOwned.has(key));
    } else if (acknowledgement.generation !== undefined) {
      if (acknowledgement.generation === member.generation) released = revoking;
    } else if (acknowledgement.isImplicit === true && member.deliveredGeneration === member.generation) {
      released = revoking;
    }
    for (const key of released) member.owned.delete(key);
    if (released.length > 0) this.version += 1;
  }

  /** Moves a member's owned set towards its target (see the header). */
  private reconcile(member: Member, nowMs: number): void {
    const target = this.target.get(member.memberId) ?? new Set<PartitionKey>();
    const ownedByOthers = new Set<PartitionKey>();
    for (const other of this.members.values()) {
      if (other !== member) for (const key of other.owned.keys()) ownedByOthers.add(key);
    }
    const nextAssigned = new Set<PartitionKey>();
    const added: PartitionKey[] = [];
    let isRevoking = false;
    for (const key of member.owned.keys()) {
      if (target.has(key)) nextAssigned.add(key);
      else isRevoking = true;
    }
    for (const key of target) {
      if (member.owned.has(key) || ownedByOthers.has(key)) continue;
      nextAssigned.add(key);
      added.push(key);
    }
    if (!sameSet(nextAssigned, member.assigned)) {
      member.generation += 1;
      for (const key of added) member.owned.set(key, member.generation);
      member.assigned = nextAssigned;
      this.version += 1;
    }
    member.revokingSinceMs = isRevoking ? (member.revokingSinceMs ?? nowMs) : null;
    this.checkInvariant();
  }

  /** No partition is owned by two members; assigned is always within owned. */
  checkInvariant(): void {
    const owners = new Map<PartitionKey, string>();
    for (const member of this.members.values()) {
      for (const key of member.owned.keys()) {
        const other = owners.get(key);
        assert(other === undefined, () => `group ${this.groupId}: partition ${key} owned by both ${other} and ${member.memberId}`);
        owners.set(key, member.memberId);
      }
      for (const key of member.assigned) {
        assert(member.owned.has(key), () => `group ${this.groupId}: ${member.memberId} is assigned ${key} without owning it`);
      }
    }
  }

  /**
   * Takes members and their target back after a restart (group-snapshot.ts decodes
   * them), then follows whatever changed in the topics meanwhile.
   */
  restore(members: Member[], target: Map<string, Set<PartitionKey>>, topics: TopicMetadata): void {
    for (const member of members) this.members.set(member.memberId, member);
    this.target = target;
    if (this.members.size > 0) this.emptySinceMs = null;
    for (const [topic, { topicId }] of topics) this.topicIds.set(topic, topicId);
    this.checkInvariant();
    this.refreshTopics(topics);
  }
}

/** The existing topics a subscription covers (`patterns`: whose cache to match a pattern with). */
export function resolveSubscription(subscription: Subscription, topics: TopicMetadata, patterns = new TopicPatternMatcher()): Set<string> {
  const result = new Set<string>();
  for (const topic of subscription.topics ?? []) if (topics.has(topic)) result.add(topic);
  const { topicPrefix, topicPattern } = subscription;
  if (topicPrefix !== undefined || topicPattern !== undefined) {
    for (const topic of topics.keys()) {
      if (topicPrefix !== undefined && topic.startsWith(topicPrefix)) result.add(topic);
      if (topicPattern !== undefined && patterns.matches(topicPattern, topic)) result.add(topic);
    }
  }
  return result;
}

function sameSet(a: ReadonlySet<PartitionKey>, b: ReadonlySet<PartitionKey>): boolean {
  if (a.size !== b.size) return false;
  for (const key of a) if (!b.has(key)) return false;
  return true;
}

function sameAssignment(a: ReadonlyMap<string, ReadonlySet<PartitionKey>>, b: ReadonlyMap<string, ReadonlySet<PartitionKey>>): boolean {
  if (a.size !== b.size) return false;
  for (const [memberId, keys] of a) {
    const other = b.get(memberId);
    if (other === undefined || !sameSet(keys, other)) return false;
  }
  return true;
}

