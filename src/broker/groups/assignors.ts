/**
 * Server-side partition assignors (KIP-848 moves assignment into the coordinator).
 * Each maps the group's members and their resolved subscriptions onto a target
 * assignment; the coordinator then moves partitions towards it without ever letting
 * two members own one partition.
 * - range: per topic, each subscriber takes a contiguous run of partitions
 *   (Kafka's RangeAssignor).
 * - roundrobin: every subscribed partition, in topic then partition order, dealt to
 *   the subscribers in turn (Kafka's RoundRobinAssignor).
 * - sticky: keeps each member's previous partitions where that stays balanced and
 *   gives the rest to the least loaded subscriber (Kafka's UniformAssignor aims), so a
 *   rebalance moves as few partitions as it can.
 * All are deterministic: members are taken in memberId order.
 */
import { parsePartitionKey, partitionKey, type PartitionKey } from '../../util/partition-key.js';

import { ASSIGNOR_NAMES, type AssignorName } from '../../api/group-schemas.js';

export { ASSIGNOR_NAMES, type AssignorName };

export interface AssignorMember {
  memberId: string;
  /** Topics it subscribes to that exist. */
  topics: ReadonlySet<string>;
}

export interface AssignorInput {
  /** Sorted by memberId. */
  members: AssignorMember[];
  /** Partition count of every existing topic. */
  partitionCounts: ReadonlyMap<string, number>;
  /** The previous target assignment (sticky keeps what it can). */
  previous: ReadonlyMap<string, ReadonlySet<PartitionKey>>;
}

export type Assignment = Map<string, Set<PartitionKey>>;

function emptyAssignment(members: AssignorMember[]): Assignment {
  return new Map(members.map((member) => [member.memberId, new Set<PartitionKey>()]));
}

function subscribedTopics(members: AssignorMember[], partitionCounts: ReadonlyMap<string, number>): string[] {
  const topics = new Set<string>();
  for (const member of members) for (const topic of member.topics) if (partitionCounts.has(topic)) topics.add(topic);
  return [...topics].sort();
}

export function assignRange({ members, partitionCounts }: AssignorInput): Assignment {
  const result = emptyAssignment(members);
  for (const topic of subscribedTopics(members, partitionCounts)) {
    const subscribers = members.filter((member) => member.topics.has(topic));
    const count = partitionCounts.get(topic)!;
    const share = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((member, index) => {
      const take = share + (index < extra ? 1 : 0);
      for (let i = 0; i < take; i++) result.get(member.memberId)!.add(partitionKey(topic, next++));
    });
  }
  return result;
}

export function assignRoundRobin({ members, partitionCounts }: AssignorInput): Assignment {
  const result = emptyAssignment(members);
  let turn = 0;
  for (const topic of subscribedTopics(members, partitionCounts)) {
    const count = partitionCounts.get(topic)!;
    for (let partition = 0; partition < count; partition++) {
      // The next member in turn that subscribes to this topic.
      for (let tried = 0; tried < members.length; tried++) {
        const member = members[(turn + tried) % members.length];
        if (member.topics.has(topic)) {
          result.get(member.memberId)!.add(partitionKey(topic, partition));
          turn = (turn + tried + 1) % members.length;
          break;
        }
      }
    }
  }
  return result;
}

export function assignSticky({ members, partitionCounts, previous }: AssignorInput): Assignment {
  const result = emptyAssignment(members);
  const subscribers = new Map<string, AssignorMember[]>();
  const all: PartitionKey[] = [];
  for (const topic of subscribedTopics(members, partitionCounts)) {
    subscribers.set(topic, members.filter((member) => member.topics.has(topic)));
    const count = partitionCounts.get(topic)!;
    for (let partition = 0; partition < count; partition++) all.push(partitionKey(topic, partition));
  }
  // Each member's fair share when everyone could take everything; retained partitions
  // above it are given up so newcomers get theirs.
  const quota = members.length === 0 ? 0 : Math.ceil(all.length / members.length);
  const taken = keepPrevious(members, previous, quota, new Set(all), result);
  for (const key of all) {
    if (taken.has(key)) continue;
    const least = leastLoaded(subscribers.get(topicOf(key)) ?? [], result);
    if (least !== undefined) {
      result.get(least.memberId)!.add(key);
      taken.add(key);
    }
  }
  balance(members, subscribers, all.length, result);
  return result;
}

function topicOf(key: PartitionKey): string {
  return parsePartitionKey(key).topic;
}

/** Sticky's first step: each member keeps what it had (up to quota) of the partitions still valid for it. Returns those kept. */
function keepPrevious(members: AssignorMember[], previous: AssignorInput['previous'], quota: number, valid: ReadonlySet<PartitionKey>, result: Assignment): Set<PartitionKey> {
  const taken = new Set<PartitionKey>();
  for (const member of members) {
    const kept = result.get(member.memberId)!;
    for (const key of [...(previous.get(member.memberId) ?? [])].sort()) {
      if (kept.size >= quota) break;
      if (valid.has(key) && !taken.has(key) && member.topics.has(topicOf(key))) {
        kept.add(key);
        taken.add(key);
      }
    }
  }
  return taken;
}

/**
 * Sticky's last step: moves partitions from a member holding two or more than an
 * eligible member. Each move lowers the spread, so this ends; the bound is a safety net.
 */
function balance(members: AssignorMember[], subscribers: ReadonlyMap<string, AssignorMember[]>, partitionCount: number, result: Assignment): void {
  for (let moves = 0; moves < partitionCount * members.length; moves++) {
    if (!moveOne(members, subscribers, result)) break;
  }
}

/** One move of balance(): false when no partition can move. */
function moveOne(members: AssignorMember[], subscribers: ReadonlyMap<string, AssignorMember[]>, result: Assignment): boolean {
  for (const donor of members) {
    const donorSet = result.get(donor.memberId)!;
    for (const key of [...donorSet].sort().reverse()) {
      const recipients = (subscribers.get(topicOf(key)) ?? []).filter((member) => result.get(member.memberId)!.size + 1 < donorSet.size);
      const recipient = leastLoaded(recipients, result);
      if (recipient !== undefined) {
        donorSet.delete(key);
        result.get(recipient.memberId)!.add(key);
        return true;
      }
    }
  }
  return false;
}

function leastLoaded(candidates: AssignorMember[], result: Assignment): AssignorMember | undefined {
  let best: AssignorMember | undefined;
  for (const member of candidates) {
    if (best === undefined || result.get(member.memberId)!.size < result.get(best.memberId)!.size) best = member;
  }
  return best;
}

export const assignors: Record<AssignorName, (input: AssignorInput) => Assignment> = {
  sticky: assignSticky,
  range: assignRange,
  roundrobin: assignRoundRobin,
};
