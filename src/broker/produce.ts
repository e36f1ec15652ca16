/**
 * Produce: validate a whole request, encode one batch per partition (more only when a
 * partition's records exceed max.message.bytes), append, then answer with each
 * record's partition, offset and timestamp in request order.
 *
 * Whole or nothing: every record is validated and encoded before the first byte is
 * appended, so bad input writes nothing; appends are synchronous: nothing interleaves.
 * Partitioning follows Kafka's Java client: an explicit partition wins; a keyed record
 * goes to toPositive(murmur2(keyBytes)) % partitions; keyless records of one request
 * share one partition (sticky per batch), chosen round-robin per request.
 * Idempotency-Key: the first answer is stored with a hash of the request; a retry
 * with the same key and body gets that answer and appends nothing.
 *
 * A failed request leaves nothing visible: the batches are appended, on a single node
 * the answer is stored (with a key), and only then does the high watermark move (in a
 * cluster it moves once the ISR has the records, and the answer is stored after that).
 * A write that fails on the way (a full disk: ENOSPC in a segment, an index, a roll or
 * an epoch file; SQLITE_FULL storing the answer) takes every batch of the request back
 * before the 507 DISK_FULL answer, so a retry appends exactly one copy. Before any of
 * that, a disk at or below its free-space floor refuses the request (DiskSpace).
 */
import { randomUUID } from 'node:crypto';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { MetadataStore } from '../meta/metadata-store.js';
import type { DiskSpace } from '../storage/disk-space.js';
import { isDiskFullError } from '../util/disk-full.js';
import type { RecordInput } from '../record/encode.js';
import type { ValueFormat } from '../record/layout.js';
import { buildBatches, hashRequest } from './produce-batches.js';
import { countRefusal, diskFull, refuseWhenDiskFull } from './produce-disk.js';
import { forwardShare, takeForwards, type SendShare } from './produce-forward.js';
import { RawProducer } from './produce-raw.js';
import { appendOnce, batchProducer, checkProducerFields, keylessPartitionForKey, storedTimestamps } from './produce-sequences.js';
import { partitionForKey } from './partitioner.js';
import { checkJsonDepth, checkKeysForPolicy } from './record-input.js';
import { checkScannedKeysForPolicy, encodeRequestRecord, requestedPartition } from './scanned-input.js';
import type { TopicManager } from './topic-manager.js';
import type { PartitionState, Topic } from './topic-state.js';
import { requireLeader, type Replication } from './replication.js';
import { recordCount, type Acks, type ProduceRequest, type ProduceResult, type RecordOffset } from './produce-request.js';

/** One request's append, worked out before the first byte is written. */
interface AppendPlan {
  readonly topic: Topic;
  readonly request: ProduceRequest;
  readonly replication: Replication;
  readonly keyFormat: ValueFormat;
  readonly valueFormat: ValueFormat;
  readonly acks: Acks;
  readonly nowMs: number;
  readonly isLogAppendTime: boolean;
  readonly minInsyncReplicas: number;
  /** Every record validated and encoded, in request order. */
  readonly encoded: RecordInput[];
  /** The partition of each record, in request order. */
  readonly partitionOf: Int32Array;
  /** Record indexes by partition led here, in request order. */
  readonly byPartition: Map<number, number[]>;
  /** Record indexes by the node that leads their partition, for the others. */
  readonly forwards: Map<number, number[]>;
}

/** One partition's share of a request: its batches and the records they hold, in order. */
interface PartitionAppend {
  state: PartitionState;
  batches: Buffer[];
  members: number[];
}

/** What the local appends left to wait for. */
interface LocalAppends {
  appendedBytes: number;
  flushes: Array<Promise<void>>;
  lastOffsets: Array<{ state: PartitionState; lastOffset: number }>;
  /** Each appended partition's log end before the request: where a failure takes it back to. */
  startOffsets: Array<{ state: PartitionState; startOffset: number }>;
}

export class Producer {
  /** Requests with an Idempotency-Key still waiting for their answer, by topic and key. */
  private readonly running = new Map<string, { hash: string; promise: Promise<ProduceResult> }>();
  /** Record batches as a client encoded them, to one partition (produce-raw.ts). */
  readonly raw: RawProducer;

  constructor(
    private readonly topics: TopicManager,
    private readonly store: MetadataStore,
    private readonly replication: Replication,
    /** The data directory's free space against its floor; absent in tools that do not watch it. */
    private readonly disk?: DiskSpace,
  ) {
    this.raw = new RawProducer(topics, store, replication, disk);
  }

  async produce(request: ProduceRequest): Promise<ProduceResult> {
    const topic = this.topics.get(request.topic);
    const count = recordCount(request);
    if (count === 0) throw new RunnelError('INVALID_REQUEST', 'records must hold at least one record');
    if (count > limits.produceRecordCountMax) {
      throw new RunnelError('INVALID_REQUEST', `a request may hold at most ${limits.produceRecordCountMax} records`);
    }
    checkProducerFields(request);
    if (request.scanned === undefined) {
      // Before anything recursive (hashing, encoding) touches a key or value.
      checkJsonDepth(request.records);
      checkKeysForPolicy(request.records, topic.effective['cleanup.policy']);
    } else {
      // The scan took no key or value nesting deeper than limits.jsonDepthMax.
      checkScannedKeysForPolicy(request.scanned, topic.effective['cleanup.policy']);
    }
    // A forwarded share of a request relies on the partitions' producer state alone: its
    // body is not the request the key was first sent with, so the stored answers do not apply.
    if (request.idempotencyKey === undefined || request.isForwarded === true) return this.append(topic, request, undefined);
    const requestHash = hashRequest(request);
    const id = `${request.topic}\n${request.idempotencyKey}`;
    // On a single node the answer is stored with the append, before the records become
    // visible, and removed again if the request then fails (durability); a retry that
    // arrives while the first attempt is still running waits for it and replays its answer.
    for (;;) {
      const running = this.running.get(id);
      if (running === undefined) {
        const replay = this.replay(request.topic, request.idempotencyKey, requestHash);
        if (replay !== undefined) return { offsets: replay, isReplay: true, appendedBytes: 0 };
        break;
      }
      if (running.hash !== requestHash) {
        throw new RunnelError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key '${request.idempotencyKey}' was used for a different request`);
      }
      try {
        const result = await running.promise;
        return { offsets: result.offsets, isReplay: true, appendedBytes: 0 };
      } catch {
        // The first attempt failed (nothing stored): one of its waiters appends now.
      }
    }
    const promise = this.append(topic, request, requestHash);
    this.running.set(id, { hash: requestHash, promise });
    try {
      return await promise;
    } finally {
      if (this.running.get(id)?.promise === promise) this.running.delete(id);
    }
  }

  private async append(topic: Topic, request: ProduceRequest, requestHash: string | undefined): Promise<ProduceResult> {
    // 1. Validate and encode everything, choose partitions and plan the batches: bad
    // input fails here, before anything is written.
    const plan = this.plan(topic, request);
    const appends = planBatches(plan, Number(topic.effective['max.message.bytes']));
    if (plan.byPartition.size > 0) refuseWhenDiskFull(this.disk, request.topic);
    // 2. Send the other leaders their records, then append every local batch and store
    // the answer (synchronous: no other request interleaves, no reader sees the records
    // until published).
    const offsets: RecordOffset[] = new Array(recordCount(request));
    const forwarded = this.forwardRecords(plan, offsets);
    // On a single node the high watermark moves at publish, so the answer is stored
    // before it; in a cluster it moves once the ISR has the records, and storing the
    // answer before that could replay offsets a leader change then truncated away.
    const remember = requestHash === undefined ? undefined : (): void => this.remember(request, requestHash, offsets, plan.nowMs);
    const isRememberedFirst = !plan.replication.isClustered;
    const local = this.appendLocal(plan, appends, offsets, isRememberedFirst ? remember : undefined);
    publish(plan, local);
    // 3. Durability, then the answer. Failing here, the records are visible: a stored
    // answer goes again (a retry appends again).
    try {
      await awaitDurability(plan, local, forwarded);
    } catch (error) {
      if (isRememberedFirst && local.startOffsets.length > 0) this.forget(request);
      throw error;
    }
    if (!isRememberedFirst && remember !== undefined) this.rememberCommitted(remember);
    return { offsets, isReplay: false, appendedBytes: local.appendedBytes };
  }

  /**
   * Sends each other leader its share, each under the request's Idempotency-Key (or one
   * made for it) so the share can be sent again safely (produce-forward.ts); each answer
   * fills in its records' offsets.
   */
  private forwardRecords(plan: AppendPlan, offsets: RecordOffset[]): Array<Promise<void>> {
    const { request, partitionOf, replication } = plan;
    // A producer's own fields make a share safe to send again; else a key does.
    const idempotencyKey = request.producer !== undefined ? undefined : request.idempotencyKey ?? randomUUID();
    const currentTopic = (): Topic => this.topics.get(request.topic);
    const send: SendShare = async (leaderId, share, timeoutMs, signal) => leaderId === replication.nodeId
      ? (await this.append(currentTopic(), { ...share, isForwarded: true }, undefined)).offsets
      : replication.forwardProduce(leaderId, share, timeoutMs, signal);
    const shares = [...plan.forwards].map(async ([leader, members]) => {
      const share = {
        topic: request.topic,
        records: members.map((index) => ({ ...request.records[index], partition: partitionOf[index] })),
        keyFormat: plan.keyFormat,
        valueFormat: plan.valueFormat,
        acks: plan.acks,
        idempotencyKey,
        partition: request.partition,
        producer: request.producer,
      };
      const answer = await forwardShare(currentTopic, leader, share, send);
      for (let i = 0; i < members.length; i++) offsets[members[i]] = answer[i];
    });
    // A local append that fails first leaves these unawaited: their failure is the request's only if it gets that far.
    for (const share of shares) share.catch(() => undefined);
    return shares;
  }

  private remember(request: ProduceRequest, requestHash: string, offsets: RecordOffset[], nowMs: number): void {
    if (request.idempotencyKey === undefined) return;
    this.store.idempotency.put(request.topic, request.idempotencyKey, JSON.stringify({ hash: requestHash, offsets }), nowMs);
  }

  /**
   * A cluster's answer, stored once the ISR has the records. They are committed and
   * visible: answering 507 for a full SQLite now would only invite a duplicate, so the
   * offsets are answered and the key is not remembered.
   */
  private rememberCommitted(remember: () => void): void {
    try {
      remember();
    } catch (error) {
      if (!isDiskFullError(error)) throw error;
      this.disk?.onDiskFull();
    }
  }

  /**
   * Appends every local batch, then (on a single node) stores the answer; if either
   * fails, every batch of the request is taken back (nothing was visible yet) and a
   * full disk is answered 507 DISK_FULL.
   */
  private appendLocal(plan: AppendPlan, appends: PartitionAppend[], offsets: RecordOffset[], remember: (() => void) | undefined): LocalAppends {
    const local: LocalAppends = { appendedBytes: 0, flushes: [], lastOffsets: [], startOffsets: [] };
    try {
      appendLocally(plan, appends, offsets, local);
      if (remember !== undefined && local.startOffsets.length > 0) remember();
    } catch (error) {
      for (const { state, startOffset } of local.startOffsets) state.log.undoAppendsFrom(startOffset);
      if (!isDiskFullError(error)) throw error;
      this.disk?.onDiskFull();
      countRefusal(this.disk);
      throw diskFull(`a write failed: ${(error as Error).message}; nothing of the request was written`);
    }
    this.disk?.onWritten(local.appendedBytes);
    return local;
  }

  /** Removes a stored answer whose request failed after all; a failure to remove is a full disk, and then the answer stays. */
  private forget(request: ProduceRequest): void {
    if (request.idempotencyKey === undefined) return;
    try {
      this.store.idempotency.remove(request.topic, request.idempotencyKey);
    } catch (error) {
      if (!isDiskFullError(error)) throw error;
    }
  }

  /** Encodes every record and groups them by partition: led here, or by the node that leads it. */
  private plan(topic: Topic, request: ProduceRequest): AppendPlan {
    const keyFormat = request.keyFormat ?? 'string';
    const valueFormat = request.valueFormat ?? 'json';
    const nowMs = Date.now();
    const replication = this.replication;
    const stickyPartition = request.idempotencyKey === undefined
      ? this.stickyPartition(topic, replication)
      : keylessPartitionForKey(topic.record.name, request.idempotencyKey, topic.partitions.length);
    const count = recordCount(request);
    const encoded: RecordInput[] = new Array(count);
    const partitionOf = new Int32Array(count);
    const byPartition = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      const input = encodeRequestRecord(request, i, keyFormat, valueFormat, nowMs);
      const partition = this.choosePartition(topic, requestedPartition(request, i), input, stickyPartition, i);
      encoded[i] = input;
      partitionOf[i] = partition;
      let members = byPartition.get(partition);
      if (members === undefined) byPartition.set(partition, (members = []));
      members.push(i);
    }
    return {
      topic, request, replication, keyFormat, valueFormat, nowMs, encoded, partitionOf, byPartition,
      acks: request.acks ?? 'all',
      isLogAppendTime: topic.effective['message.timestamp.type'] === 'LogAppendTime',
      minInsyncReplicas: Number(topic.effective['min.insync.replicas']),
      forwards: takeForwards(topic, request, replication, byPartition),
    };
  }

  /**
   * The partition for a request's keyless records: round-robin over all partitions on a
   * single node; in a cluster, over the partitions this node leads (so any node can take
   * keyless records), falling back to all of them when it leads none (NOT_LEADER follows).
   */
  private stickyPartition(topic: Topic, replication: Replication): number {
    if (!replication.isClustered) return topic.sticky.next(topic.partitions.length);
    const led = topic.partitions.filter((state) => state.leader === replication.nodeId);
    if (led.length === 0) return topic.sticky.next(topic.partitions.length);
    return led[topic.sticky.next(led.length)].partition;
  }

  private choosePartition(topic: Topic, explicit: number | undefined, input: RecordInput, sticky: number, index: number): number {
    if (explicit !== undefined) {
      if (!Number.isInteger(explicit) || explicit < 0 || explicit >= topic.partitions.length) {
        throw new RunnelError('PARTITION_NOT_FOUND', `records[${index}]: topic '${topic.record.name}' has no partition ${explicit} (it has ${topic.partitions.length})`);
      }
      return explicit;
    }
    if (input.key !== null) return partitionForKey(input.key, topic.partitions.length);
    return sticky;
  }

  private replay(topic: string, key: string, hash: string): RecordOffset[] | undefined {
    const stored = this.store.idempotency.get(topic, key);
    if (stored === undefined || stored.createdAtMs < Date.now() - limits.idempotencyRetentionMs) return undefined;
    const parsed = JSON.parse(stored.responseJson) as { hash: string; offsets: RecordOffset[] };
    if (parsed.hash !== hash) {
      throw new RunnelError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key '${key}' was used for a different request`);
    }
    return parsed.offsets;
  }
}

/** Checks each local partition's leadership and ISR, then packs its records into batches. */
function planBatches(plan: AppendPlan, maxMessageBytes: number): PartitionAppend[] {
  const { topic, acks, minInsyncReplicas } = plan;
  const appends: PartitionAppend[] = [];
  for (const [partition, members] of plan.byPartition) {
    const state = topic.partitions[partition];
    requireLeader(plan.replication, state);
    // Kafka refuses acks=all before appending when the ISR is too small (NOT_ENOUGH_REPLICAS).
    if (acks === 'all' && state.isr.length < minInsyncReplicas) {
      throw new RunnelError('NOT_ENOUGH_REPLICAS', `partition ${partition} of topic '${topic.record.name}' has ${state.isr.length} in-sync replicas; min.insync.replicas is ${minInsyncReplicas}`);
    }
    const batches = buildBatches(members, plan.encoded, maxMessageBytes, state.leaderEpoch, plan.isLogAppendTime, plan.nowMs, plan.keyFormat, plan.valueFormat,
      batchProducer(plan.request, topic.record.name, members, plan.keyFormat, plan.valueFormat));
    appends.push({ state, batches, members });
  }
  return appends;
}

/** Appends every local batch as leader and fills in its records' offsets; nothing is visible yet (see publish). */
function appendLocally(plan: AppendPlan, appends: PartitionAppend[], offsets: RecordOffset[], local: LocalAppends): void {
  const { encoded, isLogAppendTime, nowMs } = plan;
  for (const { state, batches, members } of appends) {
    local.startOffsets.push({ state, startOffset: state.log.logEndOffset });
    let memberIndex = 0;
    let lastOffset = -1;
    for (const batch of batches) {
      const placed = appendOnce(state.log, batch, state.leaderEpoch, nowMs);
      // A duplicate (a retry of records an earlier attempt wrote) answers their stored timestamps.
      const timestamps = placed.isDuplicate ? storedTimestamps(state.log, placed.baseOffset, placed.lastOffset) : undefined;
      if (!placed.isDuplicate) local.appendedBytes += batch.length;
      for (let offset = placed.baseOffset; offset <= placed.lastOffset; offset++) {
        const recordIndex = members[memberIndex++];
        offsets[recordIndex] = {
          partition: state.partition,
          offset,
          timestamp: timestamps?.[offset - placed.baseOffset] ?? (isLogAppendTime ? placed.maxTimestamp! : encoded[recordIndex].timestampMs),
        };
      }
      lastOffset = Math.max(lastOffset, placed.lastOffset);
    }
    local.lastOffsets.push({ state, lastOffset });
  }
}

/** The request's batches are all written and its answer stored: readers may see them, fsyncs begin. */
function publish(plan: AppendPlan, local: LocalAppends): void {
  for (const { state } of local.lastOffsets) {
    plan.replication.onAppend(state);
    if (state.log.isFlushDue(plan.nowMs)) local.flushes.push(state.log.flushUpTo(state.log.logEndOffset));
  }
}

/**
 * acks=leader|all wait for the fsync that flush.messages/flush.ms asked for; acks=all
 * also for the in-sync replicas (the high watermark passing the records). Forwarded
 * parts answer after their leader's own wait. A request spanning several leaders is
 * whole on each leader, not across them: one failing fails the request.
 */
async function awaitDurability(plan: AppendPlan, local: LocalAppends, forwarded: Array<Promise<void>>): Promise<void> {
  const forwardedAll = Promise.all(forwarded);
  forwardedAll.catch(() => undefined);
  if (plan.acks === 'none') {
    for (const flush of local.flushes) flush.catch(() => undefined);
  } else {
    await Promise.all(local.flushes);
    if (plan.acks === 'all') {
      await Promise.all(local.lastOffsets.map(({ state, lastOffset }) =>
        plan.replication.waitForHighWatermark(state, lastOffset, plan.minInsyncReplicas, limits.acksAllTimeoutMs)));
    }
  }
  await forwardedAll;
}
