/**
 * Produce as record batches: a topic's records are split by partition (partitions.ts),
 * each partition's become one RecordBatch v2 (record-batch.ts) sent to that partition's
 * path with its own Idempotency-Key, all partitions at once. Each batch is encoded
 * once, and every retry of it sends the very same bytes, so the node appends it once
 * however often it is retried.
 *
 * The answer names each batch's base offset; record i of a batch landed at
 * baseOffset + i. Its timestamp is the record's own (CreateTime), or the append time the
 * node stamped on the whole batch when the topic uses LogAppendTime (the answer's
 * timestamp is then not the batch's largest record timestamp).
 */
import { randomUUID } from 'node:crypto';
import type { Acks, ProduceRecord, RecordMetadata } from '../api/types.js';
import type { RecordInput } from '../record/encode.js';
import { RunnelApiError } from './client-errors.js';
import { partitionPath } from './paths.js';
import { TopicPartitions } from './partitions.js';
import { encodeRecordBatch, fieldBytes, RECORD_BATCH_MEDIA_TYPE, recordInput, type BatchFormats } from './record-batch.js';
import type { Transport } from './transport.js';

export interface BatchProduceCall {
  topic: string;
  records: readonly ProduceRecord[];
  /** Every record to this partition (a record's own partition still wins). */
  partition?: number;
  formats: BatchFormats;
  acks?: Acks;
  /** Most bytes of one request's body; a partition's batch over it is cut into several (a single record is still sent). */
  batchBytes?: number;
  /** Called once per request sent (retries not counted). */
  onRequest?: () => void;
}

interface BatchAnswer {
  batches: Array<{ partition: number; baseOffset: number; lastOffset: number; timestamp: number }>;
}

/** Where each record landed, or why it did not (an Error), in the order of `call.records`. */
export type RecordOutcome = RecordMetadata | Error;

/** The partition of every record, and the records encoded (an Error for one that cannot be). */
async function place(partitions: TopicPartitions, call: BatchProduceCall): Promise<{ partitionOf: number[]; inputs: Array<RecordInput | Error> }> {
  const { topic, records, formats } = call;
  const needsCount = call.partition === undefined && records.some((record) => record.partition === undefined);
  const count = needsCount ? await partitions.count(topic) : 0;
  let sticky = -1;
  const nowMs = Date.now();
  const partitionOf = new Array<number>(records.length);
  const inputs = new Array<RecordInput | Error>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    try {
      const keyBytes = fieldBytes(record.key, formats.keyFormat, `records[${i}].key`);
      let partition = record.partition ?? call.partition;
      if (partition === undefined && keyBytes !== null) partition = TopicPartitions.forKey(keyBytes, count);
      if (partition === undefined) {
        if (sticky < 0) sticky = partitions.nextSticky(topic, count);
        partition = sticky;
      }
      partitionOf[i] = partition;
      inputs[i] = recordInput(record, keyBytes, formats, nowMs, `records[${i}]`);
    } catch (error) {
      inputs[i] = error as Error;
    }
  }
  return { partitionOf, inputs };
}

/** Sends `call.records` as one batch per partition (more when over batchBytes); never rejects for a record's own failure. */
export async function produceBatches(transport: Transport, partitions: TopicPartitions, call: BatchProduceCall): Promise<RecordOutcome[]> {
  const { partitionOf, inputs } = await place(partitions, call);
  const outcomes = new Array<RecordOutcome>(call.records.length);
  const byPartition = new Map<number, number[]>();
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (input instanceof Error) {
      outcomes[i] = input;
      continue;
    }
    let indexes = byPartition.get(partitionOf[i]);
    if (indexes === undefined) byPartition.set(partitionOf[i], indexes = []);
    indexes.push(i);
  }
  await Promise.all([...byPartition].map(([partition, indexes]) => sendPartition(transport, partitions, call, partition, indexes, inputs as RecordInput[], outcomes)));
  return outcomes;
}

async function sendPartition(
  transport: Transport, partitions: TopicPartitions, call: BatchProduceCall, partition: number, indexes: number[], inputs: RecordInput[], outcomes: RecordOutcome[],
): Promise<void> {
  const body = encodeRecordBatch(indexes.map((i) => inputs[i]), call.formats);
  const batchBytes = call.batchBytes ?? Number.POSITIVE_INFINITY;
  if (body.length <= batchBytes || indexes.length === 1) {
    await sendSlice(transport, partitions, call, partition, indexes, inputs, body, outcomes);
    return;
  }
  const sliceSize = Math.ceil(indexes.length / Math.min(indexes.length, Math.ceil(body.length / batchBytes)));
  for (let start = 0; start < indexes.length; start += sliceSize) {
    const slice = indexes.slice(start, start + sliceSize);
    await sendSlice(transport, partitions, call, partition, slice, inputs, encodeRecordBatch(slice.map((i) => inputs[i]), call.formats), outcomes);
  }
}

async function sendSlice(
  transport: Transport, partitions: TopicPartitions, call: BatchProduceCall, partition: number, indexes: number[], inputs: RecordInput[], body: Buffer, outcomes: RecordOutcome[],
): Promise<void> {
  const { topic } = call;
  try {
    call.onRequest?.();
    const answer = await transport.call<BatchAnswer>({
      method: 'POST',
      path: partitionPath(topic, partition) + '/records',
      query: { acks: call.acks },
      body,
      headers: { 'content-type': RECORD_BATCH_MEDIA_TYPE, 'idempotency-key': randomUUID() },
      isIdempotent: true,
    });
    const batch = answer?.batches?.[0];
    if (answer?.batches?.length !== 1 || batch.lastOffset - batch.baseOffset + 1 !== indexes.length) {
      throw new RunnelApiError('UNEXPECTED_RESPONSE', 200, `produce to partition ${partition} of '${topic}' answered ${JSON.stringify(answer?.batches)} for one batch of ${indexes.length} records`);
    }
    let maxTimestampMs = -1;
    for (const i of indexes) maxTimestampMs = Math.max(maxTimestampMs, inputs[i].timestampMs);
    const isAppendTime = batch.timestamp !== maxTimestampMs;
    for (let j = 0; j < indexes.length; j++) {
      const i = indexes[j];
      outcomes[i] = { partition, offset: batch.baseOffset + j, timestamp: isAppendTime ? batch.timestamp : inputs[i].timestampMs };
    }
  } catch (error) {
    // A partition the topic does not have (it was recreated smaller?): read the count again next time.
    if (error instanceof RunnelApiError && error.status === 404) partitions.forget(topic);
    for (const i of indexes) outcomes[i] = error as Error;
  }
}
