/**
 * Produce of record batches as a client encoded them (application/vnd.runnel.record-batch):
 * the batches of one partition are checked whole (record/produced-batches.ts), then
 * appended as they are, the log stamping baseOffset and the leader epoch into the header
 * only; records are never decoded into objects nor encoded again. Kafka's broker does
 * the same with a ProduceRequest.
 *
 * Everything else is the JSON path's: whole or nothing (a batch refused halfway takes
 * back the ones before it), leadership and min.insync.replicas before the first byte,
 * the disk's free-space floor, acks, an idempotent producer's fields (here: the batch's
 * own producerId, producerEpoch and baseSequence, checked by the partition's producer
 * state), and an Idempotency-Key: its batches get the key's producer id and an epoch
 * from the body's hash, with sequences from 0, so a retry to any leader finds them in
 * the log; the answer is also stored, so a different body under the key is refused.
 * In a cluster the HTTP route hands a request for a partition led elsewhere to its
 * leader as it came, so this runs on the leader only.
 */
import { createHash } from 'node:crypto';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { MetadataStore } from '../meta/metadata-store.js';
import { CorruptBatchError, InvalidBatchError, UnsupportedCompressionError } from '../record/errors.js';
import { checkProducedBatches, stampLogAppendTime, stampProducer, type ProducedBatch } from '../record/produced-batches.js';
import type { DiskSpace } from '../storage/disk-space.js';
import { isDiskFullError } from '../util/disk-full.js';
import { firstKeylessRecord } from '../storage/cleaner/batch-records.js';
import { countRefusal, diskFull, refuseWhenDiskFull } from './produce-disk.js';
import { keyRequired } from './record-input.js';
import { appendOnce, keyProducerId, storedTimestamps } from './produce-sequences.js';
import type { Acks } from './produce-request.js';
import { requireLeader, type Replication } from './replication.js';
import type { TopicManager } from './topic-manager.js';
import type { PartitionState } from './topic-state.js';

export interface RawProduceRequest {
  topic: string;
  partition: number;
  /** One or more RecordBatch v2, back to back; checked and stamped in place. */
  body: Buffer;
  acks?: Acks;
  idempotencyKey?: string;
}

/** Where one batch landed. */
export interface BatchOffsets {
  partition: number;
  baseOffset: number;
  lastOffset: number;
  /** The batch's largest record timestamp; with LogAppendTime, the time of the append. */
  timestamp: number;
}

export interface RawProduceResult {
  batches: BatchOffsets[];
  /** True when the answer was replayed for a repeated Idempotency-Key. */
  isReplay: boolean;
  /** Records and bytes appended now (0 for a replay or a duplicate). */
  recordCount: number;
  appendedBytes: number;
}

export class RawProducer {
  constructor(
    private readonly topics: TopicManager,
    private readonly store: MetadataStore,
    private readonly replication: Replication,
    private readonly disk?: DiskSpace,
  ) {}

  async produce(request: RawProduceRequest): Promise<RawProduceResult> {
    const topic = this.topics.get(request.topic);
    const state = this.topics.partition(request.topic, request.partition);
    const batches = checkBatches(request.body, Number(topic.effective['max.message.bytes']));
    checkProducers(batches, request.idempotencyKey);
    if (topic.effective['cleanup.policy'].includes('compact')) checkKeys(batches);
    const key = request.idempotencyKey;
    const hash = key === undefined ? undefined : createHash('sha256').update(`record-batch\n${request.partition}\n`).update(request.body).digest();
    if (key !== undefined && hash !== undefined) {
      const replay = this.replay(request.topic, key, hash.toString('base64url'));
      if (replay !== undefined) return { batches: replay, isReplay: true, recordCount: 0, appendedBytes: 0 };
      stampKeyProducer(batches, keyProducerId(request.topic, key), hash.readUInt16BE(0) & 0x7fff);
    }
    const acks = request.acks ?? 'all';
    const minInsyncReplicas = Number(topic.effective['min.insync.replicas']);
    requireLeader(this.replication, state);
    if (acks === 'all' && state.isr.length < minInsyncReplicas) {
      throw new RunnelError('NOT_ENOUGH_REPLICAS', `partition ${state.partition} of topic '${request.topic}' has ${state.isr.length} in-sync replicas; min.insync.replicas is ${minInsyncReplicas}`);
    }
    refuseWhenDiskFull(this.disk, request.topic);
    const nowMs = Date.now();
    if (topic.effective['message.timestamp.type'] === 'LogAppendTime') {
      for (const batch of batches) stampLogAppendTime(batch.bytes, nowMs);
    }
    const appended = this.appendAll(state, batches, nowMs);
    this.replication.onAppend(state);
    const flush = state.log.isFlushDue(nowMs) ? state.log.flushUpTo(state.log.logEndOffset) : undefined;
    if (acks === 'none') {
      flush?.catch(() => undefined);
    } else {
      await flush;
      if (acks === 'all') await this.replication.waitForHighWatermark(state, appended.lastOffset, minInsyncReplicas, limits.acksAllTimeoutMs);
    }
    if (key !== undefined && hash !== undefined) this.remember(request.topic, key, hash.toString('base64url'), appended.answers, nowMs);
    return { batches: appended.answers, isReplay: false, recordCount: appended.recordCount, appendedBytes: appended.appendedBytes };
  }

  /** Appends every batch as leader (a duplicate answers its stored offsets); a failure takes them all back. */
  private appendAll(state: PartitionState, batches: ProducedBatch[], nowMs: number): { answers: BatchOffsets[]; lastOffset: number; recordCount: number; appendedBytes: number } {
    const startOffset = state.log.logEndOffset;
    const answers: BatchOffsets[] = [];
    let lastOffset = -1;
    let recordCount = 0;
    let appendedBytes = 0;
    try {
      for (const { bytes } of batches) {
        const placed = appendOnce(state.log, bytes, state.leaderEpoch, nowMs);
        const timestamp = placed.isDuplicate
          ? Math.max(...storedTimestamps(state.log, placed.baseOffset, placed.lastOffset))
          : placed.maxTimestamp!;
        if (!placed.isDuplicate) {
          recordCount += placed.lastOffset - placed.baseOffset + 1;
          appendedBytes += bytes.length;
        }
        answers.push({ partition: state.partition, baseOffset: placed.baseOffset, lastOffset: placed.lastOffset, timestamp });
        lastOffset = Math.max(lastOffset, placed.lastOffset);
      }
    } catch (error) {
      state.log.undoAppendsFrom(startOffset);
      if (!isDiskFullError(error)) throw error;
      this.disk?.onDiskFull();
      countRefusal(this.disk);
      throw diskFull(`a write failed: ${(error as Error).message}; nothing of the request was written`);
    }
    this.disk?.onWritten(appendedBytes);
    return { answers, lastOffset, recordCount, appendedBytes };
  }

  private replay(topic: string, key: string, hash: string): BatchOffsets[] | undefined {
    const stored = this.store.idempotency.get(topic, key);
    if (stored === undefined || stored.createdAtMs < Date.now() - limits.idempotencyRetentionMs) return undefined;
    const parsed = JSON.parse(stored.responseJson) as { hash: string; batches?: BatchOffsets[] };
    if (parsed.hash !== hash || parsed.batches === undefined) {
      throw new RunnelError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key '${key}' was used for a different request`);
    }
    return parsed.batches;
  }

  /**
   * Stores the answer once the records are as durable as acks asked. They are visible
   * already: a full SQLite only costs the stored answer (a retry still finds its batches
   * in the log through the key's producer id).
   */
  private remember(topic: string, key: string, hash: string, batches: BatchOffsets[], nowMs: number): void {
    try {
      this.store.idempotency.put(topic, key, JSON.stringify({ hash, batches }), nowMs);
    } catch (error) {
      if (!isDiskFullError(error)) throw error;
      this.disk?.onDiskFull();
    }
  }
}

/** The record layer's verdicts as the API's codes; a batch over max.message.bytes is 413. */
function checkBatches(body: Buffer, maxMessageBytes: number): ProducedBatch[] {
  let batches: ProducedBatch[];
  try {
    batches = checkProducedBatches(body);
  } catch (error) {
    if (error instanceof CorruptBatchError) throw new RunnelError('CORRUPT_RECORD', `the body is not sound RecordBatch v2 data: ${error.message}; nothing was appended`);
    if (error instanceof UnsupportedCompressionError) throw new RunnelError('UNSUPPORTED_COMPRESSION_TYPE', `${error.message}; send batches with compression none`);
    if (error instanceof InvalidBatchError) throw new RunnelError('INVALID_RECORD', error.message);
    throw error;
  }
  for (let i = 0; i < batches.length; i++) {
    if (batches[i].bytes.length > maxMessageBytes) {
      throw new RunnelError('RECORD_TOO_LARGE', `batch ${i} is ${batches[i].bytes.length} bytes, more than max.message.bytes (${maxMessageBytes})`);
    }
  }
  return batches;
}

/** A compacted topic takes records with keys only (Kafka's rule). */
function checkKeys(batches: ProducedBatch[]): void {
  for (let i = 0; i < batches.length; i++) {
    const record = firstKeylessRecord(batches[i].bytes, 0, batches[i].header);
    if (record >= 0) throw keyRequired(`batch ${i}, record ${record}`);
  }
}

/** An idempotent producer's batches: ids it could have been given, sequences within an int32, and no Idempotency-Key besides. */
function checkProducers(batches: ProducedBatch[], idempotencyKey: string | undefined): void {
  for (let i = 0; i < batches.length; i++) {
    const { producerId, baseSequence, lastOffsetDelta } = batches[i].header;
    if (producerId < 0) continue;
    if (idempotencyKey !== undefined) {
      throw new RunnelError('INVALID_REQUEST', 'give an Idempotency-Key or batches with a producerId, not both: each makes retries safe on its own');
    }
    if (producerId > limits.producerIdMax) {
      throw new RunnelError('INVALID_REQUEST', `batch ${i}: producerId ${producerId} is above ${limits.producerIdMax}; get one from POST /v1/producers`);
    }
    if (baseSequence < 0 || baseSequence + lastOffsetDelta > 0x7fffffff) {
      throw new RunnelError('INVALID_REQUEST', `batch ${i}: sequences ${baseSequence}..${baseSequence + lastOffsetDelta} are not within 0..2147483647`);
    }
  }
}

/** An Idempotency-Key's producer fields: its id, the body's epoch, sequences counting the records from 0. */
function stampKeyProducer(batches: ProducedBatch[], producerId: number, producerEpoch: number): void {
  let sequence = 0;
  for (const { bytes, header } of batches) {
    stampProducer(bytes, producerId, producerEpoch, sequence);
    sequence += header.recordCount;
  }
}
