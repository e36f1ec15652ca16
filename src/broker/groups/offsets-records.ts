/**
 * The records of the internal topic __consumer_offsets, and which of its partitions
 * holds a group (that partition's leader is the group's coordinator, as in Kafka).
 *
 * Key: a JSON array as a string key, so `runnel consume __consumer_offsets` shows it
 * plainly. Kafka versions its keys by a leading short; ours lead with the record kind:
 *   ["offset", group, topic, partition]  value {offset, metadata, committedAtMs, topicId}
 *                                         or null (a tombstone: the offset was deleted)
 *   ["group", group]                      value null only: the group was deleted or expired
 * Values are JSON (valueFormat json). topicId is the committed topic's id at commit
 * time: a topic deleted and re-created under the same name must not inherit the old
 * log's offsets (its consumers would skip the new log's first records).
 * Records of one commit go in one produce request, so one batch: they apply together.
 * The topic is compacted (offsetsTopicConfigs): the cleaner keeps the last record of
 * each key, so the last commit of every (group, topic, partition); tombstones (null
 * values) go after delete.retention.ms (1 day): as in Kafka, a replica away for longer
 * than that may miss a deletion and keep the deleted group's last offsets.
 */
import { partitionForKey } from '../partitioner.js';
import { OFFSETS_TOPIC_PARTITIONS } from '../../cluster/active-controller.js';

export { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, offsetsTopicConfigs, offsetsTopicUpgrade } from '../../cluster/active-controller.js';

export interface OffsetValue {
  offset: number;
  metadata: string;
  committedAtMs: number;
  /** Absent in records that predate it; then the topic's current id is trusted. */
  topicId?: string;
}

export type OffsetsRecord =
  | { kind: 'offset'; groupId: string; topic: string; partition: number; value: OffsetValue | null }
  | { kind: 'group'; groupId: string };

/** The __consumer_offsets partition of a group: toPositive(murmur2(utf8 group)) % partitions. */
export function offsetsPartitionOf(groupId: string, partitionCount = OFFSETS_TOPIC_PARTITIONS): number {
  return partitionForKey(Buffer.from(groupId, 'utf8'), partitionCount);
}

export function offsetKey(groupId: string, topic: string, partition: number): string {
  return JSON.stringify(['offset', groupId, topic, partition]);
}

export function groupKey(groupId: string): string {
  return JSON.stringify(['group', groupId]);
}

/**
 * Decodes one record of the offsets topic; null for one this version does not know
 * (a newer node's record kind, or a user's stray record): skipped, as Kafka's
 * coordinator skips unknown key versions.
 */
export function decodeOffsetsRecord(key: Buffer | null, value: Buffer | null): OffsetsRecord | null {
  if (key === null) return null;
  let parsedKey: unknown;
  try {
    parsedKey = JSON.parse(key.toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsedKey) || typeof parsedKey[1] !== 'string') return null;
  const groupId = parsedKey[1];
  if (parsedKey[0] === 'group' && parsedKey.length === 2) return value === null ? { kind: 'group', groupId } : null;
  if (parsedKey[0] !== 'offset' || parsedKey.length !== 4 || typeof parsedKey[2] !== 'string' || !Number.isSafeInteger(parsedKey[3])) return null;
  const topic = parsedKey[2];
  const partition = parsedKey[3] as number;
  if (value === null) return { kind: 'offset', groupId, topic, partition, value: null };
  let parsedValue: unknown;
  try {
    parsedValue = JSON.parse(value.toString('utf8'));
  } catch {
    return null;
  }
  if (!isOffsetValue(parsedValue)) return null;
  return { kind: 'offset', groupId, topic, partition, value: parsedValue };
}

function isOffsetValue(value: unknown): value is OffsetValue {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return Number.isSafeInteger(candidate.offset) && (candidate.offset as number) >= 0 &&
    typeof candidate.metadata === 'string' && Number.isSafeInteger(candidate.committedAtMs) &&
    (candidate.topicId === undefined || typeof candidate.topicId === 'string');
}
