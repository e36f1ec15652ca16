/**
 * The records of the internal topic __share_group_state (Kafka's, KIP-932): what a
 * share group must keep across a restart. Keys are JSON arrays as string keys, so
 * `runnel consume __share_group_state` shows them plainly, and the topic is compacted:
 * the latest record of a key is that key's whole state.
 *
 *   ["group", group]                      value {createdAtMs, configs} or null (deleted)
 *   ["partition", group, topic, partition] value a snapshot (below) or null (deleted)
 *
 * A partition's value is a whole snapshot (SharePartition.snapshot: the start offset,
 * the end offset, every in-flight record's state and delivery count, acquired records
 * saved as their lock had run out) plus the topic's id, so a topic deleted and
 * re-created under the same name starts over. Its size is bounded by
 * group.share.partition.max.record.locks. Records are written as
 * `[offset, state, deliveryCount]` triples, state a letter: v available, k acknowledged,
 * a archived; an archived record still to be dead-lettered has a fourth element, the
 * reason (rejected | delivery-limit).
 */
import { partitionForKey } from '../partitioner.js';
import type { ShareSnapshot } from './share-partition.js';

export { SHARE_STATE_TOPIC } from '../internal-topics.js';
export const SHARE_STATE_PARTITIONS = 10;

export interface ShareGroupValue {
  createdAtMs: number;
  configs: Record<string, string>;
}

export interface SharePartitionValue {
  topicId: string;
  snapshot: ShareSnapshot;
}

export type ShareStateRecord =
  | { kind: 'group'; groupId: string; value: ShareGroupValue | null }
  | { kind: 'partition'; groupId: string; topic: string; partition: number; value: SharePartitionValue | null };

const STATE_LETTERS = { available: 'v', acknowledged: 'k', archived: 'a' } as const;
const LETTER_STATES = { v: 'available', k: 'acknowledged', a: 'archived' } as const;

/** The __share_group_state partition of a group: toPositive(murmur2(utf8 group)) % partitions, as for __consumer_offsets. */
export function shareStatePartitionOf(groupId: string, partitionCount = SHARE_STATE_PARTITIONS): number {
  return partitionForKey(Buffer.from(groupId, 'utf8'), partitionCount);
}

export function shareGroupKey(groupId: string): string {
  return JSON.stringify(['group', groupId]);
}

export function sharePartitionKey(groupId: string, topic: string, partition: number): string {
  return JSON.stringify(['partition', groupId, topic, partition]);
}

export function encodePartitionValue(value: SharePartitionValue): object {
  const { snapshot } = value;
  return {
    topicId: value.topicId,
    startOffset: snapshot.startOffset,
    endOffset: snapshot.endOffset,
    records: snapshot.records.map((record) => record.deadLetter === undefined
      ? [record.offset, STATE_LETTERS[record.state], record.deliveryCount]
      : [record.offset, STATE_LETTERS[record.state], record.deliveryCount, record.deadLetter]),
  };
}

function parseJson(buffer: Buffer): unknown {
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Decodes one record; null for one this version does not know (skipped, as Kafka skips unknown key versions). */
export function decodeShareStateRecord(key: Buffer | null, value: Buffer | null): ShareStateRecord | null {
  if (key === null) return null;
  const parsedKey = parseJson(key);
  if (!Array.isArray(parsedKey) || typeof parsedKey[1] !== 'string') return null;
  const groupId = parsedKey[1];
  const parsedValue = value === null ? null : parseJson(value);
  if (parsedKey[0] === 'group' && parsedKey.length === 2) {
    if (parsedValue === null) return { kind: 'group', groupId, value: null };
    return isGroupValue(parsedValue) ? { kind: 'group', groupId, value: parsedValue } : null;
  }
  if (parsedKey[0] !== 'partition' || parsedKey.length !== 4 || typeof parsedKey[2] !== 'string' || !Number.isSafeInteger(parsedKey[3])) return null;
  const base = { kind: 'partition' as const, groupId, topic: parsedKey[2], partition: parsedKey[3] as number };
  if (parsedValue === null) return { ...base, value: null };
  const decoded = decodePartitionValue(parsedValue);
  return decoded === null ? null : { ...base, value: decoded };
}

function isGroupValue(value: unknown): value is ShareGroupValue {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  if (!Number.isSafeInteger(candidate.createdAtMs) || typeof candidate.configs !== 'object' || candidate.configs === null) return false;
  return Object.values(candidate.configs).every((config) => typeof config === 'string');
}

function decodePartitionValue(value: unknown): SharePartitionValue | null {
  if (typeof value !== 'object' || value === null) return null;
  const candidate = value as Record<string, unknown>;
  const { topicId, startOffset, endOffset, records } = candidate;
  if (typeof topicId !== 'string' || !Number.isSafeInteger(startOffset) || !Number.isSafeInteger(endOffset) || !Array.isArray(records)) return null;
  const decoded: ShareSnapshot['records'] = [];
  for (const record of records as unknown[]) {
    if (!Array.isArray(record) || (record.length !== 3 && record.length !== 4)) return null;
    const [offset, letter, deliveryCount, deadLetter] = record as [unknown, unknown, unknown, unknown];
    const state = typeof letter === 'string' ? LETTER_STATES[letter as keyof typeof LETTER_STATES] : undefined;
    if (!Number.isSafeInteger(offset) || state === undefined || !Number.isSafeInteger(deliveryCount)) return null;
    if (deadLetter !== undefined && (state !== 'archived' || (deadLetter !== 'rejected' && deadLetter !== 'delivery-limit'))) return null;
    decoded.push({ offset: offset as number, state, deliveryCount: deliveryCount as number, ...(deadLetter === undefined ? {} : { deadLetter }) });
  }
  return { topicId, snapshot: { startOffset: startOffset as number, endOffset: endOffset as number, records: decoded } };
}
