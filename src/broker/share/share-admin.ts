/**
 * Share groups administered: list, describe (per share-partition: start and end
 * offsets, records in flight by state, lag), delete and reset (only while no record
 * is held under a lock, as Kafka wants the group empty), and configs. Each change is
 * written to __share_group_state before it returns.
 */
import { RunnelError } from '../../errors.js';
import type { PartitionState } from '../topic-state.js';
import { isInternalTopic } from '../internal-topics.js';
import { DEAD_LETTER_TOPIC, SHARE_CONFIG_NAMES, describeConfigs, validateShareConfigs } from './share-configs.js';
import type { ShareCoordinator } from './share-coordinator.js';
import type { ShareGroup, SharePartitionEntry } from './share-group.js';
import { SharePartition } from './share-partition.js';
import { shareGroupKey, sharePartitionKey } from './share-state-records.js';
import { partitionKey } from '../../util/partition-key.js';

export interface SharePartitionView {
  topic: string;
  partition: number;
  startOffset: number;
  endOffset: number;
  highWatermark: number | null;
  inFlight: number;
  available: number;
  acquired: number;
  acknowledged: number;
  archived: number;
  /** Records from the start offset to the high watermark not yet acknowledged or archived. */
  lag: number | null;
  consumers: number;
}

export interface ShareGroupDescription {
  groupId: string;
  createdAtMs: number;
  configs: Record<string, string>;
  partitions: SharePartitionView[];
}

export type ResetTarget = 'earliest' | 'latest' | { timestamp: number };

function partitionView(coordinator: ShareCoordinator, entry: SharePartitionEntry, nowMs: number): SharePartitionView {
  const { share } = entry;
  share.expireLocks(nowMs);
  const counts = share.counts();
  const state = coordinator.topics.find(entry.topic, entry.partition);
  const highWatermark = state === undefined ? null : state.log.highWatermark;
  return {
    topic: entry.topic,
    partition: entry.partition,
    startOffset: share.startOffset,
    endOffset: share.endOffset,
    highWatermark,
    inFlight: counts.available + counts.acquired + counts.acknowledged + counts.archived,
    ...counts,
    lag: highWatermark === null ? null : Math.max(0, highWatermark - share.startOffset - counts.acknowledged - counts.archived),
    consumers: share.holders().size,
  };
}

function sortedEntries(group: ShareGroup): SharePartitionEntry[] {
  return [...group.partitions.values()].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** The groups this node coordinates (every group on a single node). */
export function listShareGroups(coordinator: ShareCoordinator): Array<{ groupId: string; partitions: number; acquired: number; lag: number }> {
  const nowMs = coordinator.now();
  return [...coordinator.groups.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : 1)).map((group) => {
    const views = sortedEntries(group).map((entry) => partitionView(coordinator, entry, nowMs));
    return {
      groupId: group.groupId,
      partitions: views.length,
      acquired: views.reduce((sum, view) => sum + view.acquired, 0),
      lag: views.reduce((sum, view) => sum + (view.lag ?? 0), 0),
    };
  });
}

export function describeShareGroup(coordinator: ShareCoordinator, groupId: string): ShareGroupDescription {
  const group = coordinator.group(groupId);
  const nowMs = coordinator.now();
  return {
    groupId,
    createdAtMs: group.createdAtMs,
    configs: describeConfigs(group.settings),
    partitions: sortedEntries(group).map((entry) => partitionView(coordinator, entry, nowMs)),
  };
}

/** 409 SHARE_GROUP_NOT_EMPTY while a record is held under a lock. */
function requireIdle(group: ShareGroup, nowMs: number, action: string): void {
  const acquired = group.acquiredCount(nowMs);
  if (acquired > 0) {
    throw new RunnelError('SHARE_GROUP_NOT_EMPTY', `share group '${group.groupId}' holds ${acquired} records under a lock: it can be ${action} once they are acknowledged, released or their locks run out`);
  }
}

export async function deleteShareGroup(coordinator: ShareCoordinator, groupId: string): Promise<void> {
  const group = coordinator.group(groupId);
  requireIdle(group, coordinator.now(), 'deleted');
  const writes = [...group.partitions.values()].map((entry) => ({ key: sharePartitionKey(groupId, entry.topic, entry.partition), value: null }));
  writes.push({ key: shareGroupKey(groupId), value: null });
  if (coordinator.groups.get(groupId) === group) coordinator.groups.delete(groupId);
  group.changes.notify();
  await coordinator.stateLog.append(groupId, writes);
}

function resetOffset(state: PartitionState, to: ResetTarget): number {
  const { log } = state;
  if (to === 'earliest') return log.logStartOffset;
  if (to === 'latest') return log.highWatermark;
  return log.offsetForTimestamp(to.timestamp)?.offset ?? log.highWatermark;
}

/** Moves the start offset of the group's share-partitions (of one topic: every partition of it) and forgets what was in flight. */
export async function resetShareGroup(coordinator: ShareCoordinator, groupId: string, topic: string | undefined, to: ResetTarget): Promise<Array<{ topic: string; partition: number; startOffset: number }>> {
  const group = coordinator.group(groupId);
  requireIdle(group, coordinator.now(), 'reset');
  const { topics } = coordinator;
  const states = topic === undefined
    ? sortedEntries(group).flatMap((entry) => topics.find(entry.topic, entry.partition) ?? [])
    : topics.get(topic).partitions;
  const changed: SharePartitionEntry[] = [];
  for (const state of states) {
    const offset = resetOffset(state, to);
    const topicId = topics.get(state.topic).record.topicId;
    let entry = group.get(state.topic, state.partition);
    if (entry === undefined || entry.topicId !== topicId) {
      entry = { topic: state.topic, partition: state.partition, topicId, share: new SharePartition(group.settings, offset) };
      group.partitions.set(partitionKey(state.topic, state.partition), entry);
    } else {
      entry.share.reset(offset);
    }
    changed.push(entry);
  }
  group.changes.notify();
  await coordinator.persist(group, changed);
  return changed.map((entry) => ({ topic: entry.topic, partition: entry.partition, startOffset: entry.share.startOffset }));
}

/** Sets configs (a null value removes one), creating the group when it does not exist; returns the description. */
export async function alterShareGroupConfigs(coordinator: ShareCoordinator, groupId: string, changes: Record<string, unknown>): Promise<ShareGroupDescription> {
  await coordinator.stateLog.placement.ensureTopic();
  coordinator.requireCoordinator(groupId);
  const removed = Object.keys(changes).filter((name) => changes[name] === null);
  const set = validateShareConfigs(Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== null)));
  const deadLetterTopic = set[DEAD_LETTER_TOPIC];
  // Created through another node a moment ago: this one may not have applied it yet.
  if (deadLetterTopic !== undefined && coordinator.topics.findTopic(deadLetterTopic) === undefined) await coordinator.stateLog.placement.syncMetadata();
  if (deadLetterTopic !== undefined && (coordinator.topics.findTopic(deadLetterTopic) === undefined || isInternalTopic(deadLetterTopic))) {
    throw new RunnelError('INVALID_CONFIG', `invalid value "${deadLetterTopic}" for config '${DEAD_LETTER_TOPIC}': ${isInternalTopic(deadLetterTopic) ? 'an internal topic takes no records from users' : 'no such topic (create it first)'}`);
  }
  const unknown = removed.find((name) => !SHARE_CONFIG_NAMES.includes(name));
  if (unknown !== undefined) throw new RunnelError('INVALID_CONFIG', `unknown share group config '${unknown}'; known: ${SHARE_CONFIG_NAMES.join(', ')}`);
  const existing = coordinator.groups.get(groupId);
  const configs = { ...(existing?.configs ?? {}), ...set };
  for (const name of removed) delete configs[name];
  if (existing === undefined) {
    await coordinator.ensureGroup(groupId, configs);
  } else {
    existing.setConfigs(configs, coordinator.defaults);
    await coordinator.stateLog.append(groupId, [{ key: shareGroupKey(groupId), value: { createdAtMs: existing.createdAtMs, configs } }]);
  }
  return describeShareGroup(coordinator, groupId);
}
