/**
 * What the API shows of groups: the list, one group described, and per partition
 * its committed offset and lag. Read-only: nothing here changes a group.
 *
 * The lag is the high watermark minus the committed offset (what a consumer can still
 * read). The HTTP answer names the high watermark `logEndOffset`, as it was first
 * published (the OpenAPI document keeps that name); inside, it is highWatermark, and
 * offsetAnswer() maps it where the answer is made. In a cluster, the high watermark of
 * a partition with no replica on this node is the last one learnt from a node that has
 * one (PartitionRanges; the routes refresh it first).
 */
import type { GroupSummary } from '../../api/types.js';
import { parsePartitionKey, type PartitionKey } from '../../util/partition-key.js';
import type { GroupMetadataManager } from './group-metadata.js';
import type { PartitionRanges } from './partition-ranges.js';
import { toTopicAssignments } from './topic-assignment.js';

export interface OffsetView {
  topic: string;
  partition: number;
  /** Null when the group has not committed this partition. */
  offset: number | null;
  metadata: string | null;
  committedAtMs: number | null;
  highWatermark: number;
  /** highWatermark minus the committed offset; null without a commit. */
  lag: number | null;
}

/** An OffsetView as the HTTP API answers it: the high watermark under its published name. */
export interface OffsetAnswer {
  topic: string;
  partition: number;
  offset: number | null;
  metadata: string | null;
  committedAtMs: number | null;
  /** The high watermark. */
  logEndOffset: number;
  lag: number | null;
}

export function offsetAnswer(view: OffsetView): OffsetAnswer {
  return {
    topic: view.topic,
    partition: view.partition,
    offset: view.offset,
    metadata: view.metadata,
    committedAtMs: view.committedAtMs,
    logEndOffset: view.highWatermark,
    lag: view.lag,
  };
}

/** Committed offsets with lag, for every partition committed or assigned. */
export function offsetViews(groups: GroupMetadataManager, ranges: PartitionRanges, groupId: string, topic?: string): OffsetView[] {
  const entry = groups.entry(groupId);
  groups.pruneOffsets(groups.topicMetadata());
  const keys = new Set<PartitionKey>(entry.offsets.keys());
  for (const member of entry.group.members.values()) for (const key of member.owned.keys()) keys.add(key);
  const views: OffsetView[] = [];
  for (const key of [...keys].sort(compareKeys)) {
    const { topic: name, partition } = parsePartitionKey(key);
    if (topic !== undefined && name !== topic) continue;
    let highWatermark: number;
    try {
      highWatermark = ranges.rangeOf(groups.topics.partition(name, partition)).highWatermark;
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
      highWatermark,
      lag: committed === undefined ? null : Math.max(0, highWatermark - committed.offset),
    });
  }
  return views;
}

function totalLag(views: OffsetView[]): number {
  return views.reduce((sum, view) => sum + (view.lag ?? 0), 0);
}

export function listGroups(groups: GroupMetadataManager, ranges: PartitionRanges): GroupSummary[] {
  return [...groups.groups.values()]
    .sort((a, b) => (a.group.groupId < b.group.groupId ? -1 : 1))
    .map((entry) => ({
      groupId: entry.group.groupId,
      state: entry.group.state,
      members: entry.group.members.size,
      lag: totalLag(offsetViews(groups, ranges, entry.group.groupId)),
    }));
}

export function describeGroup(groups: GroupMetadataManager, ranges: PartitionRanges, groupId: string): object {
  const { group } = groups.entry(groupId);
  const nowMs = groups.now();
  const offsets = offsetViews(groups, ranges, groupId);
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
    offsets: offsets.map(offsetAnswer),
    lag: totalLag(offsets),
  };
}

function compareKeys(a: PartitionKey, b: PartitionKey): number {
  const left = parsePartitionKey(a);
  const right = parsePartitionKey(b);
  if (left.topic !== right.topic) return left.topic < right.topic ? -1 : 1;
  return left.partition - right.partition;
}
