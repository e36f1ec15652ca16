/**
 * share.dead.letter.topic: a record a share group archives (rejected, or at the
 * delivery limit) is produced to the group's dead-letter topic with its key, value
 * (in the format it was produced in) and headers, plus headers naming where it came
 * from and why:
 *
 *   runnel.dlq.topic, runnel.dlq.partition, runnel.dlq.offset, runnel.dlq.group,
 *   runnel.dlq.reason (rejected | delivery-limit), runnel.dlq.delivery.count
 *
 * acks=all, before the archive is written as done: until then the record stays
 * pending in its share-partition (and in __share_group_state), so the start offset
 * does not pass it, and a failed produce (the topic's leader away, too few in-sync
 * replicas) is tried again at the group's next call. A crash between the produce and
 * the state write produces it again: a dead-letter topic gets each archived record at
 * least once, never none. A record the log no longer holds (retention) has nothing to
 * produce.
 */
import { readBatchHeader } from '../../record/header.js';
import { decodeRecords, type DecodedRecord } from '../../record/decode.js';
import type { ValueFormat } from '../../record/layout.js';
import { limits } from '../../limits.js';
import type { Producer } from '../produce.js';
import type { Replication } from '../replication.js';
import type { TopicManager } from '../topic-manager.js';
import type { ShareGroup, SharePartitionEntry } from './share-group.js';
import type { DeadLetterReason } from './share-partition.js';
import { sourceOf, type RecordSource } from './share-source.js';

/** Dead letters one pass produces per share-partition at most (the rest wait for the next call). */
const DEAD_LETTERS_PER_PASS_MAX = 100;

export interface DeadLetterParts {
  topics: TopicManager;
  replication: Replication;
  producer: Producer;
}

interface Pending {
  offset: number;
  reason: DeadLetterReason;
  deliveryCount: number;
}

/** Produces the group's pending dead letters; returns the share-partitions that changed (their state is to be written). */
export async function deadLetterArchived(parts: DeadLetterParts, group: ShareGroup): Promise<SharePartitionEntry[]> {
  const changed: SharePartitionEntry[] = [];
  for (const entry of [...group.partitions.values()]) {
    const pending = entry.share.deadLetters().slice(0, DEAD_LETTERS_PER_PASS_MAX);
    if (pending.length === 0) continue;
    const topic = group.settings.deadLetterTopic;
    // The config was removed meanwhile: archived is all that is left to do.
    const done = topic === undefined ? pending.map((record) => record.offset) : await produceDeadLetters(parts, group.groupId, entry, topic, pending);
    if (done.length === 0) continue;
    entry.share.deadLettered(done);
    changed.push(entry);
  }
  return changed;
}

/** The offsets produced (or with nothing to produce), in order, up to the first failure. */
async function produceDeadLetters(parts: DeadLetterParts, groupId: string, entry: SharePartitionEntry, deadLetterTopic: string, pending: Pending[]): Promise<number[]> {
  const state = parts.topics.find(entry.topic, entry.partition);
  if (state === undefined || parts.topics.get(entry.topic).record.topicId !== entry.topicId) return pending.map((record) => record.offset);
  const source = await sourceOf(parts.replication, state);
  if (source === null) return [];
  const done: number[] = [];
  for (const record of pending) {
    try {
      const found = await readRecord(source, record.offset);
      if (found !== null) {
        const origin = { topic: entry.topic, partition: entry.partition, groupId, ...record };
        await parts.producer.produce({ topic: deadLetterTopic, records: [deadLetterOf(found.record, origin, found.formats)], keyFormat: found.formats.key, valueFormat: found.formats.value, acks: 'all' });
      }
      done.push(record.offset);
    } catch {
      break; // Tried again at the next call; the record stays pending meanwhile.
    }
  }
  return done;
}

interface FoundRecord {
  record: DecodedRecord;
  formats: { key: ValueFormat; value: ValueFormat };
}

/** The record at `offset`, or null when the log no longer holds it (below its start, or compacted away). */
async function readRecord(source: RecordSource, offset: number): Promise<FoundRecord | null> {
  if (offset < source.logStartOffset) return null;
  const batches = await source.read(offset, limits.fetchBytesDefault, 1);
  if (batches === null) throw new Error(`the record at ${offset} could not be read`);
  for (let at = 0; at < batches.length;) {
    const header = readBatchHeader(batches, at);
    if (!header.isControl && header.baseOffset <= offset && offset <= header.lastOffset) {
      const record = decodeRecords(batches, at).find((candidate) => candidate.offset === offset);
      return record === undefined ? null : { record, formats: { key: header.keyFormat, value: header.valueFormat } };
    }
    if (header.baseOffset > offset) return null;
    at += header.sizeBytes;
  }
  return null;
}

function fieldOf(bytes: Buffer | null, format: ValueFormat): unknown {
  if (bytes === null) return null;
  if (format === 'binary') return bytes.toString('base64');
  if (format === 'json') return JSON.parse(bytes.toString('utf8'));
  return bytes.toString('utf8');
}

function deadLetterOf(record: DecodedRecord, origin: { topic: string; partition: number; offset: number; groupId: string; reason: DeadLetterReason; deliveryCount: number }, formats: { key: ValueFormat; value: ValueFormat }): { key: unknown; value: unknown; headers: Record<string, string | null> } {
  const headers: Record<string, string | null> = {};
  for (const [name, value] of record.headers) headers[name] = value === null ? null : value.toString('utf8');
  headers['runnel.dlq.topic'] = origin.topic;
  headers['runnel.dlq.partition'] = String(origin.partition);
  headers['runnel.dlq.offset'] = String(origin.offset);
  headers['runnel.dlq.group'] = origin.groupId;
  headers['runnel.dlq.reason'] = origin.reason;
  headers['runnel.dlq.delivery.count'] = String(origin.deliveryCount);
  return { key: fieldOf(record.key, formats.key), value: fieldOf(record.value, formats.value), headers };
}
