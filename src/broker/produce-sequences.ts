/**
 * Exactly-once appends (KIP-98): the producer fields a produce stamps into its batches,
 * and the leader's check of each batch against the partition's producer state before
 * it is appended.
 *
 * An Idempotency-Key is a one-request producer: its id comes from the topic and the
 * key (keyProducerId), its epoch from the records the request sends to the partition
 * (so a different body under the same key is told apart on any node), and its
 * sequences count those records from 0. Every replica remembers the batches, so a retry
 * that reaches any leader, old or new, after any failure gets the original offsets
 * (and timestamps, read back from the log) and appends nothing. Keyless records of such
 * a request go to a partition chosen from the key, so a retry through another node
 * picks the same one.
 */
import { createHash } from 'node:crypto';
import { RunnelError } from '../errors.js';
import { decodeRecords } from '../record/decode.js';
import { readBatchHeader, type BatchHeader } from '../record/header.js';
import { KEY_PRODUCER_ID_BASE, type SequenceCheck } from '../storage/producer-state.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { ProduceRecord } from './record-input.js';
import { recordCount, type ProduceRequest } from './produce-request.js';
import { PRODUCER_ID_OFFSET, type ValueFormat } from '../record/layout.js';

/** The producer fields of one partition's batches; sequences count on from firstSequence (0 for a key). */
export interface BatchProducer {
  producerId: number;
  producerEpoch: number;
  firstSequence: number;
}

/** The producer of one partition's share of a request: its own (POST /v1/producers), its key's, or none. */
export function batchProducer(request: ProduceRequest, topic: string, members: number[], keyFormat: ValueFormat, valueFormat: ValueFormat): BatchProducer | undefined {
  if (request.producer !== undefined) {
    return { producerId: request.producer.producerId, producerEpoch: request.producer.producerEpoch, firstSequence: request.producer.baseSequence };
  }
  const key = request.idempotencyKey;
  if (key === undefined) return undefined;
  return { producerId: keyProducerId(topic, key), producerEpoch: keyProducerEpoch(request.records, members, keyFormat, valueFormat), firstSequence: 0 };
}

/** An idempotent producer's batch names one partition and no Idempotency-Key, and its sequences fit an int32. */
export function checkProducerFields(request: ProduceRequest): void {
  const { producer } = request;
  if (producer === undefined) return;
  if (request.partition === undefined) {
    throw new RunnelError('INVALID_REQUEST', 'producerId needs one partition: produce to /v1/topics/{topic}/partitions/{partition}/records (sequences count per partition)');
  }
  if (request.idempotencyKey !== undefined) {
    throw new RunnelError('INVALID_REQUEST', 'give an Idempotency-Key or producerId, not both: each makes retries safe on its own');
  }
  const count = recordCount(request);
  if (producer.baseSequence + count - 1 > 0x7fffffff) {
    throw new RunnelError('INVALID_REQUEST', `sequences ${producer.baseSequence}.. of ${count} records pass 2147483647`);
  }
}

/** Where one batch's records are: appended now, or found in the log from an earlier attempt. */
export interface PlacedBatch {
  baseOffset: number;
  lastOffset: number;
  /** The batch's maxTimestamp as appended (LogAppendTime answers it for every record); duplicates read theirs back (storedTimestamps). */
  maxTimestamp?: number;
  isDuplicate: boolean;
}

const READ_BACK_BYTES = 1 << 20;

/** The producer id of an Idempotency-Key on a topic: 52 bits of a hash, above every allocated id. */
export function keyProducerId(topic: string, key: string): number {
  const digest = createHash('sha256').update(topic).update('\n').update(key).digest();
  return KEY_PRODUCER_ID_BASE + digest.readUIntBE(0, 6) * 16 + (digest[6] >>> 4);
}

/** The epoch of a key's batches in one partition: 15 bits of a hash of what the request sends there. */
export function keyProducerEpoch(records: ProduceRecord[], members: number[], keyFormat: ValueFormat, valueFormat: ValueFormat): number {
  const hash = createHash('sha256').update(keyFormat).update('\n').update(valueFormat);
  // The record as sent, without the partition a forwarding node adds to it.
  for (const index of members) {
    const { key, value, headers, timestamp } = records[index];
    hash.update('\n').update(JSON.stringify([key, value, headers, timestamp]));
  }
  return hash.digest().readUInt16BE(0) & 0x7fff;
}

/** The partition of an Idempotency-Key request's keyless records: the same on every node and every retry. */
export function keylessPartitionForKey(topic: string, key: string, partitionCount: number): number {
  const digest = createHash('sha256').update(topic).update('\n').update(key).digest();
  return digest.readUInt32BE(8) % partitionCount;
}

/**
 * Appends one stamped batch as leader unless the partition already holds its records
 * (then nothing is appended and their offsets are answered); a batch out of sequence
 * or from a fenced producer is refused with its code.
 */
export function appendOnce(log: PartitionLog, batch: Buffer, leaderEpoch: number, nowMs: number): PlacedBatch {
  const producerId = batch.readBigInt64BE(PRODUCER_ID_OFFSET);
  if (producerId >= 0n) {
    const header = readBatchHeader(batch, 0);
    const check = log.producers.check(header.producerId, header.producerEpoch, header.baseSequence, header.baseSequence + header.lastOffsetDelta, nowMs);
    if (check.kind === 'refused') throw refusal(check);
    if (check.kind === 'duplicate') return { baseOffset: check.firstOffset, lastOffset: check.lastOffset, isDuplicate: true };
  }
  const header: BatchHeader = log.appendAsLeader(batch, leaderEpoch, nowMs);
  return { baseOffset: header.baseOffset, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp, isDuplicate: false };
}

/** The timestamps of the stored records firstOffset..lastOffset, in offset order (an earlier attempt's answer). */
export function storedTimestamps(log: PartitionLog, firstOffset: number, lastOffset: number): number[] {
  const timestamps: number[] = [];
  let offset = firstOffset;
  while (offset <= lastOffset) {
    const bytes = log.read(offset, READ_BACK_BYTES, log.logEndOffset);
    if (bytes === null) break;
    for (let position = 0; position < bytes.length && offset <= lastOffset;) {
      const header = readBatchHeader(bytes, position);
      for (const record of decodeRecords(bytes, position)) {
        if (record.offset < offset || record.offset > lastOffset) continue;
        timestamps.push(header.timestampType === 'LogAppendTime' ? header.maxTimestamp : record.timestampMs);
        offset = record.offset + 1;
      }
      offset = Math.max(offset, header.lastOffset + 1);
      position += header.sizeBytes;
    }
  }
  if (timestamps.length !== lastOffset - firstOffset + 1) {
    throw new Error(`reading back offsets ${firstOffset}..${lastOffset} found ${timestamps.length} records`);
  }
  return timestamps;
}

function refusal(check: Extract<SequenceCheck, { kind: 'refused' }>): RunnelError {
  return new RunnelError(check.code, check.message);
}
