/**
 * The pure parts of a produce: packing one partition's records into batches that fit
 * max.message.bytes, and the hash that tells a retried Idempotency-Key request from a
 * different one.
 */
import { createHash } from 'node:crypto';
import { RunnelError } from '../errors.js';
import { encodeBatch, type RecordInput } from '../record/encode.js';
import { BATCH_HEADER_BYTES, type ValueFormat } from '../record/layout.js';
import { estimatedRecordBytes } from './record-input.js';
import type { ProduceRequest } from './produce-request.js';
import type { BatchProducer } from './produce-sequences.js';

/**
 * Packs one partition's records into as few batches as fit max.message.bytes. A
 * record too large to fit even alone is refused (413) before anything is written.
 */
export function buildBatches(
  members: number[], encoded: RecordInput[], maxMessageBytes: number, leaderEpoch: number,
  isLogAppendTime: boolean, nowMs: number, keyFormat: ValueFormat, valueFormat: ValueFormat, producer?: BatchProducer,
): Buffer[] {
  const options = {
    leaderEpoch,
    timestampType: isLogAppendTime ? 'LogAppendTime' as const : 'CreateTime' as const,
    logAppendTimeMs: nowMs,
    keyFormat,
    valueFormat,
  };
  const batches: Buffer[] = [];
  // With a producer, batches carry its id and epoch, and sequences count the partition's records from 0.
  let sequence = producer?.firstSequence ?? 0;
  const encodeGroup = (records: RecordInput[]): void => {
    const batch = encodeBatch(records, producer === undefined ? options
      : { ...options, producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: sequence });
    if (batch.length <= maxMessageBytes) {
      batches.push(batch);
      sequence += records.length;
    } else if (records.length === 1) {
      throw new RunnelError('RECORD_TOO_LARGE', `a record of ${batch.length} bytes as a batch exceeds max.message.bytes (${maxMessageBytes})`);
    } else {
      const half = records.length >>> 1;
      encodeGroup(records.slice(0, half));
      encodeGroup(records.slice(half));
    }
  };
  let group: RecordInput[] = [];
  // A batch's header (61 bytes) counts against max.message.bytes as well as its records.
  let groupBytes = BATCH_HEADER_BYTES;
  for (const index of members) {
    const record = encoded[index];
    const size = estimatedRecordBytes(record);
    if (group.length > 0 && groupBytes + size > maxMessageBytes) {
      encodeGroup(group);
      group = [];
      groupBytes = BATCH_HEADER_BYTES;
    }
    group.push(record);
    groupBytes += size;
  }
  if (group.length > 0) encodeGroup(group);
  return batches;
}

export function hashRequest(request: ProduceRequest): string {
  return createHash('sha256')
    .update(JSON.stringify([request.partition ?? null, request.keyFormat ?? null, request.valueFormat ?? null, request.records]))
    .digest('base64url');
}
