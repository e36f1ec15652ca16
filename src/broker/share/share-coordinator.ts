/**
 * ShareCoordinator: every share group of this node (Kafka's share coordinator and
 * share-partition leader in one, KIP-932), the one object the routes talk to.
 *
 * - acquire(): hands out available records of the group's topics, across their
 *   partitions, each under a lock (share-acquire.ts); long-polls when none is there,
 *   waking on an append, on records made available again, or when a lock runs out.
 *   The first call creates the group; a share-partition starts at
 *   share.auto.offset.reset when first read.
 * - acknowledge(): accept, release, reject or renew records, per entry and offset.
 * - Every change that must survive (a group created, configured or deleted; records
 *   acquired, settled, archived; a start offset moved) is written to
 *   __share_group_state and acknowledged there before the call returns
 *   (share-state-log.ts); load() rebuilds every group from it at start, a record
 *   held at the crash coming back available (its delivery counted).
 * - Lock expiry is lazy (every call expires what ran out first); long-polls wait no
 *   longer than the next expiry.
 * - In a cluster the node leading a group's __share_group_state partition
 *   coordinates it (share-placement.ts): it loads the groups of a state partition
 *   when it becomes its leader and forgets them when it stops, and reads partitions
 *   it holds no in-sync replica of from one that does (share-source.ts).
 * Admin calls (list, describe, delete, reset, configs) are in share-admin.ts.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { Producer } from '../produce.js';
import type { Replication } from '../replication.js';
import type { PartitionState } from '../topic-state.js';
import type { TopicManager } from '../topic-manager.js';
import { isInternalTopic } from '../internal-topics.js';
import { acquireFromLog, type AcquiredRecords } from './share-acquire.js';
import { deadLetterArchived } from './share-dead-letter.js';
import { SHARE_DEFAULTS, type ShareDefaults } from './share-configs.js';
import { ShareCounters, ShareGroup, type SharePartitionEntry } from './share-group.js';
import { SharePartition, type AcknowledgeRefusal, type AcknowledgeType } from './share-partition.js';
import type { PlacedGroups } from './share-placement.js';
import { sourceOf, type RecordSource } from './share-source.js';
import type { ShareStateLog } from './share-state-log.js';
import { SHARE_STATE_TOPIC, shareGroupKey, shareStatePartitionOf, type ShareStateRecord } from './share-state-records.js';
import { partitionKey } from '../../util/partition-key.js';

export interface ShareCoordinatorOptions {
  defaults?: Partial<ShareDefaults>;
  replication: Replication;
  /** Produces dead letters (share.dead.letter.topic). */
  producer: Producer;
  nowMs?: () => number;
}

export interface AcquireRequest {
  topics?: string[];
  topicPrefix?: string;
  consumerId: string;
  maxRecords?: number;
  maxBytes?: number;
  waitMs?: number;
  signal?: AbortSignal;
}

export interface AcknowledgeEntry {
  topic: string;
  partition: number;
  offsets?: number[];
  firstOffset?: number;
  lastOffset?: number;
  type: AcknowledgeType;
  acquisitionId?: number;
}

export interface AcknowledgeResult {
  topic: string;
  partition: number;
  type: AcknowledgeType;
  /** null: the entry was applied offset by offset (see records); else why none of it was. */
  errorCode: 'TOPIC_NOT_FOUND' | 'PARTITION_NOT_FOUND' | null;
  records: Array<{ offset: number; errorCode: AcknowledgeRefusal | null; lockExpiresAtMs?: number }>;
}

/** Offsets one acknowledgement request may name at most. */
export const ACKNOWLEDGE_OFFSETS_MAX = 10_000;
/** A long-poll on partitions read at another node looks again this often (their appends do not wake it). */
const REMOTE_RECHECK_MS = 250;

export class ShareCoordinator implements PlacedGroups {
  readonly groups = new Map<string, ShareGroup>();
  readonly counters = new ShareCounters();
  readonly defaults: ShareDefaults;
  readonly now: () => number;
  isClosed = false;
  /** The dead-letter pass under way per group: passes run one after another, so no record is produced twice by two calls. */
  private readonly deadLettering = new Map<ShareGroup, Promise<unknown>>();

  constructor(readonly topics: TopicManager, readonly stateLog: ShareStateLog, private readonly options: ShareCoordinatorOptions) {
    this.defaults = { ...SHARE_DEFAULTS, ...options.defaults };
    this.now = options.nowMs ?? Date.now;
  }

  /** Rebuilds every group from the state topic (a single node; in a cluster, per state partition as this node comes to lead it); call once the logs are recovered. */
  load(): void {
    const { placement } = this.stateLog;
    if (!placement.isClustered) this.apply(this.stateLog.readAll());
    placement.start(this);
  }

  loadStatePartition(partition: number): void {
    this.dropStatePartition(partition);
    this.apply(this.stateLog.readAll([partition]));
  }

  dropStatePartition(partition: number): void {
    const count = this.topics.findTopic(SHARE_STATE_TOPIC)?.partitions.length;
    for (const group of [...this.groups.values()]) {
      if (count !== undefined && shareStatePartitionOf(group.groupId, count) !== partition) continue;
      this.groups.delete(group.groupId);
      group.changes.notify(); // Its long-polls end; the consumers find the new coordinator.
    }
  }

  private apply(records: readonly ShareStateRecord[]): void {
    for (const record of records) {
      if (record.kind === 'group') {
        if (record.value === null) this.groups.delete(record.groupId);
        else this.groups.set(record.groupId, new ShareGroup(record.groupId, record.value.createdAtMs, record.value.configs, this.defaults));
        continue;
      }
      const group = this.groups.get(record.groupId);
      const key = partitionKey(record.topic, record.partition);
      if (group === undefined) continue;
      const state = this.topics.find(record.topic, record.partition);
      // A deleted topic's state, or an older topic's of the same name: it starts over.
      if (record.value === null || state === undefined || this.topics.get(record.topic).record.topicId !== record.value.topicId) {
        group.partitions.delete(key);
        continue;
      }
      const share = SharePartition.restore(group.settings, record.value.snapshot);
      group.partitions.set(key, { topic: record.topic, partition: record.partition, topicId: record.value.topicId, share });
    }
  }

  close(): void {
    this.isClosed = true;
    this.stateLog.placement.close();
    for (const group of this.groups.values()) group.changes.notify();
  }

  /** 503 unless this node coordinates the group (share-placement.ts); a no-op on a single node. */
  requireCoordinator(groupId: string): void {
    this.stateLog.placement.requireCoordinator(groupId);
  }

  /** The group, or 404 SHARE_GROUP_NOT_FOUND. */
  group(groupId: string): ShareGroup {
    this.requireCoordinator(groupId);
    const group = this.groups.get(groupId);
    if (group === undefined) throw new RunnelError('SHARE_GROUP_NOT_FOUND', `share group '${groupId}' does not exist`);
    return group;
  }

  /** The group, created (and its record written) when it does not exist yet. */
  async ensureGroup(groupId: string, configs: Record<string, string> = {}): Promise<ShareGroup> {
    await this.stateLog.placement.ensureTopic();
    this.requireCoordinator(groupId);
    let group = this.groups.get(groupId);
    if (group !== undefined) return group;
    group = new ShareGroup(groupId, this.now(), configs, this.defaults);
    this.groups.set(groupId, group);
    await this.stateLog.append(groupId, [{ key: shareGroupKey(groupId), value: { createdAtMs: group.createdAtMs, configs } }]);
    return group;
  }

  /** Writes the state of these share-partitions (each coalesced with writes under way). */
  async persist(group: ShareGroup, entries: Iterable<SharePartitionEntry>): Promise<void> {
    const writes = [...new Set(entries)].map((entry) => this.stateLog.persist(group.groupId, group.stateOf(entry).key, () => group.stateOf(entry).value));
    await Promise.all(writes);
  }

  /** The share-partition of the group, created at share.auto.offset.reset when first read. */
  private shareOf(group: ShareGroup, state: PartitionState, source: RecordSource): { entry: SharePartitionEntry; isNew: boolean } {
    const topicId = this.topics.get(state.topic).record.topicId;
    const existing = group.get(state.topic, state.partition);
    if (existing !== undefined && existing.topicId === topicId) return { entry: existing, isNew: false };
    const start = group.settings.autoOffsetReset === 'earliest' ? source.logStartOffset : source.highWatermark;
    const entry = { topic: state.topic, partition: state.partition, topicId, share: new SharePartition(group.settings, start) };
    group.partitions.set(partitionKey(state.topic, state.partition), entry);
    return { entry, isNew: true };
  }

  /** The partitions of the named topics (404 for one that does not exist) and of those starting with the prefix. */
  private partitionsOf(request: Pick<AcquireRequest, 'topics' | 'topicPrefix'>): PartitionState[] {
    const names = new Set(request.topics ?? []);
    if (request.topicPrefix !== undefined) {
      for (const topic of this.topics.list()) {
        if (topic.record.name.startsWith(request.topicPrefix) && !isInternalTopic(topic.record.name)) names.add(topic.record.name);
      }
    }
    const partitions: PartitionState[] = [];
    for (const name of [...names].sort()) partitions.push(...this.topics.get(name).partitions);
    return partitions;
  }

  /** Produces the group's archived records to its dead-letter topic (share-dead-letter.ts); returns the share-partitions changed. */
  private async deadLetter(group: ShareGroup): Promise<SharePartitionEntry[]> {
    const previous = this.deadLettering.get(group) ?? Promise.resolve();
    const pass = previous.then(async () => deadLetterArchived({ topics: this.topics, replication: this.options.replication, producer: this.options.producer }, group));
    const settled = pass.catch(() => undefined);
    this.deadLettering.set(group, settled);
    void settled.then(() => {
      if (this.deadLettering.get(group) === settled) this.deadLettering.delete(group);
    });
    return pass;
  }

  /** Counts lock expirations (and what they archived) before a call looks at the records. */
  private expire(group: ShareGroup, nowMs: number): void {
    for (const { share } of group.partitions.values()) {
      const expired = share.expireLocks(nowMs);
      if (expired.length === 0) continue;
      this.counters.lockExpirations += expired.length;
      for (const offset of expired) if (share.stateOf(offset) !== 'available') this.counters.archived += 1;
      group.changes.notify();
    }
  }

  async acquire(groupId: string, request: AcquireRequest): Promise<AcquiredRecords[]> {
    if (request.topics === undefined && request.topicPrefix === undefined) {
      throw new RunnelError('INVALID_REQUEST', 'name the topics to read: topics=a,b or topicPrefix=...');
    }
    this.partitionsOf(request); // 404 for a topic that does not exist, before the group is made.
    const group = await this.ensureGroup(groupId);
    const maxRecords = Math.min(request.maxRecords ?? limits.fetchRecordCountDefault, limits.fetchRecordCountMax);
    const maxBytes = Math.min(request.maxBytes ?? limits.fetchBytesDefault, limits.fetchBytesMax);
    const deadlineMs = Date.now() + Math.min(request.waitMs ?? 0, limits.fetchWaitMsMax);
    for (;;) {
      // Looked up again each round: a topic may have been deleted or grown while this call waited.
      const partitions = this.partitionsOf(request);
      const acquired = await this.acquireOnce(group, partitions, request.consumerId, maxRecords, maxBytes);
      const remainingMs = deadlineMs - Date.now();
      if (acquired.length > 0 || remainingMs <= 0 || request.signal?.aborted === true || this.isClosed || this.groups.get(groupId) !== group) return acquired;
      await this.waitForRecords(group, partitions, remainingMs, request.signal);
    }
  }

  private async acquireOnce(group: ShareGroup, partitions: PartitionState[], consumer: string, maxRecords: number, maxBytes: number): Promise<AcquiredRecords[]> {
    const nowMs = this.now();
    this.expire(group, nowMs);
    const changed: SharePartitionEntry[] = await this.deadLetter(group);
    const result: AcquiredRecords[] = [];
    let recordsLeft = maxRecords;
    let bytesLeft = maxBytes;
    for (const state of partitions) {
      if (recordsLeft <= 0 || bytesLeft <= 0) break;
      const source = await sourceOf(this.options.replication, state);
      if (source === null || this.groups.get(group.groupId) !== group) continue;
      const { entry, isNew } = this.shareOf(group, state, source);
      if (isNew) changed.push(entry);
      const acquired = await acquireFromLog(source, state, entry.share, { consumer, recordsMax: recordsLeft, bytesMax: bytesLeft, nowMs });
      if (acquired === null) continue;
      changed.push(entry);
      result.push(acquired);
      recordsLeft -= acquired.acquisitions.length;
      bytesLeft -= acquired.bytesRead;
    }
    if (changed.length === 0) return result;
    try {
      await this.persist(group, changed);
    } catch (error) {
      // Not durable: the records go back (their delivery counted), the caller gets the error.
      for (const acquired of result) {
        group.get(acquired.topic, acquired.partition)?.share.acknowledge(consumer, acquired.acquisitions.map((a) => a.offset), 'release', this.now());
      }
      group.changes.notify();
      throw error;
    }
    for (const acquired of result) {
      this.counters.acquired += acquired.acquisitions.length;
      for (const acquisition of acquired.acquisitions) if (acquisition.deliveryCount > 1) this.counters.redeliveries += 1;
    }
    return result;
  }

  /** Waits for an append on a partition, records made available in the group, the next lock expiry, the deadline or an abort. */
  private async waitForRecords(group: ShareGroup, partitions: PartitionState[], remainingMs: number, signal: AbortSignal | undefined): Promise<void> {
    const nextExpiry = group.nextLockExpiryMs();
    let timeoutMs = Math.max(1, Math.min(remainingMs, nextExpiry === undefined ? remainingMs : nextExpiry - this.now() + 1));
    const { replication } = this.options;
    if (replication.isClustered && partitions.some((state) => !isReadHere(replication, state))) timeoutMs = Math.min(timeoutMs, REMOTE_RECHECK_MS);
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([group.changes.wait(timeoutMs, controller.signal), ...partitions.map((state) => state.notifier.wait(timeoutMs, controller.signal))]);
    } finally {
      controller.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Applies acknowledgements entry by entry; the changed share-partitions are written before it returns. */
  async acknowledge(groupId: string, consumer: string, entries: readonly AcknowledgeEntry[]): Promise<AcknowledgeResult[]> {
    const group = this.group(groupId);
    const offsetLists = entries.map(offsetsOf);
    const total = offsetLists.reduce((sum, offsets) => sum + offsets.length, 0);
    if (total > ACKNOWLEDGE_OFFSETS_MAX) throw new RunnelError('INVALID_REQUEST', `an acknowledgement request may name at most ${ACKNOWLEDGE_OFFSETS_MAX} offsets, got ${total}`);
    const nowMs = this.now();
    this.expire(group, nowMs);
    const changed: SharePartitionEntry[] = [];
    const results = entries.map((entry, index): AcknowledgeResult => {
      const base = { topic: entry.topic, partition: entry.partition, type: entry.type };
      const offsets = offsetLists[index];
      if (this.topics.findTopic(entry.topic) === undefined) return { ...base, errorCode: 'TOPIC_NOT_FOUND', records: [] };
      if (this.topics.find(entry.topic, entry.partition) === undefined) return { ...base, errorCode: 'PARTITION_NOT_FOUND', records: [] };
      const shareEntry = group.get(entry.topic, entry.partition);
      if (shareEntry === undefined || shareEntry.topicId !== this.topics.get(entry.topic).record.topicId) {
        return { ...base, errorCode: null, records: offsets.map((offset) => ({ offset, errorCode: 'RECORD_NOT_IN_FLIGHT' as const })) };
      }
      const outcomes = shareEntry.share.acknowledge(consumer, offsets, entry.type, nowMs, entry.acquisitionId);
      let applied = 0;
      for (const outcome of outcomes) {
        if (outcome.refusal !== undefined) continue;
        applied += 1;
        if (outcome.state === 'archived') this.counters.archived += 1;
      }
      this.counters.acknowledged[entry.type] += applied;
      if (applied > 0 && entry.type !== 'renew') changed.push(shareEntry);
      return { ...base, errorCode: null, records: outcomes.map((outcome) => ({ offset: outcome.offset, errorCode: outcome.refusal ?? null, ...(outcome.lockExpiresAtMs === undefined ? {} : { lockExpiresAtMs: outcome.lockExpiresAtMs }) })) };
    });
    changed.push(...await this.deadLetter(group));
    if (changed.length > 0) {
      group.changes.notify();
      await this.persist(group, changed);
    }
    return results;
  }
}

function isReadHere(replication: Replication, state: PartitionState): boolean {
  try {
    return replication.readRoute(state, false).kind === 'local';
  } catch {
    return false;
  }
}

/** The offsets an entry names: a list, or a range firstOffset..lastOffset (400 when neither or both, or a range too long). */
function offsetsOf(entry: AcknowledgeEntry): number[] {
  const hasRange = entry.firstOffset !== undefined || entry.lastOffset !== undefined;
  if (entry.offsets !== undefined && hasRange) throw new RunnelError('INVALID_REQUEST', `${entry.topic}-${entry.partition}: give offsets or firstOffset/lastOffset, not both`);
  if (entry.offsets !== undefined) return entry.offsets;
  if (entry.firstOffset === undefined || entry.lastOffset === undefined) {
    throw new RunnelError('INVALID_REQUEST', `${entry.topic}-${entry.partition}: give offsets, or both firstOffset and lastOffset`);
  }
  if (entry.lastOffset < entry.firstOffset || entry.lastOffset - entry.firstOffset >= ACKNOWLEDGE_OFFSETS_MAX) {
    throw new RunnelError('INVALID_REQUEST', `${entry.topic}-${entry.partition}: lastOffset must be at or after firstOffset, and the range at most ${ACKNOWLEDGE_OFFSETS_MAX} offsets`);
  }
  const offsets: number[] = [];
  for (let offset = entry.firstOffset; offset <= entry.lastOffset; offset++) offsets.push(offset);
  return offsets;
}
