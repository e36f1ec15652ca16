/**
 * A member's poll: records from every partition assigned to it, from its positions,
 * in one reply that also carries its assignment and generation (so a consumer that
 * only polls needs no separate heartbeat).
 *
 * Positions: where the member's previous poll left each partition; for a partition it
 * has just been given, the group's committed offset, else auto.offset.reset (earliest
 * or latest, chosen at join). A position outside [logStartOffset, highWatermark] is
 * reset the same way, as Kafka's consumer does (in a cluster, past the high watermark
 * only where this node leads the partition: elsewhere that just means not yet here).
 * autoCommit: the positions a poll delivered are committed when the member polls
 * again (Kafka's enable.auto.commit), so a member that dies mid-batch has its records
 * delivered again to the next owner: at-least-once, never skipped.
 * Long-poll: with nothing to read, the poll waits for an append on any assigned
 * partition, a change of the member's assignment (then it answers at once, even
 * empty, so the member can confirm a revocation), or waitMs.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import { readBatchHeader } from '../../record/header.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import type { TopicManager } from '../topic-manager.js';
import type { PartitionState } from '../topic-state.js';
import type { Member } from './consumer-group.js';
import type { GroupCoordinator } from './group-coordinator.js';
import type { GroupEntry } from './group-metadata.js';
import type { MemberReply } from './membership.js';
import { parsePartitionKey, type PartitionKey } from '../../util/partition-key.js';

export interface PollRequest {
  /**
   * The pollId of the last reply the member received. When it is the latest reply,
   * that reply's positions are confirmed; when it is older (a reply was lost), the
   * positions go back to the last confirmed ones and those records come again.
   * Without it, the previous reply counts as received.
   */
  ack?: number;
  maxRecords?: number;
  maxBytes?: number;
  waitMs?: number;
  autoCommit?: boolean;
  signal?: AbortSignal;
}

export interface PolledPartition {
  topic: string;
  partition: number;
  /** First offset delivered; `batches` may begin before it (whole batches are read). */
  startOffset: number;
  batches: Buffer;
  recordCount: number;
  highWatermark: number;
}

export interface PollResult {
  reply: MemberReply;
  /** Send back as `ack` with the next poll. */
  pollId: number;
  partitions: PolledPartition[];
}

interface MemberProgress {
  /** Next offset to deliver per assigned partition. */
  positions: Map<PartitionKey, number>;
  /** Positions after the last reply, until the member confirms it received them. */
  delivered: Map<PartitionKey, number>;
  /** Positions the member confirmed: what autoCommit commits, where a lost reply rewinds to. */
  confirmed: Map<PartitionKey, number>;
  /** Id of the last reply sent. */
  lastPollId: number;
  /** Rotates the partition read first, so no partition starves. */
  cursor: number;
  /**
   * The log each position was taken on. A topic deleted and re-created under the same
   * name has the same keys but a new log: a position (or an auto-commit) carried over
   * from the old log would skip the new log's first records.
   */
  logs: Map<PartitionKey, PartitionState['log']>;
}

export class MemberPoller {
  private readonly progress = new WeakMap<Member, MemberProgress>();

  constructor(
    private readonly coordinator: GroupCoordinator,
    private readonly topics: TopicManager,
  ) {}

  async poll(groupId: string, memberId: string, request: PollRequest): Promise<PollResult> {
    const maxRecords = Math.min(request.maxRecords ?? limits.fetchRecordCountDefault, limits.fetchRecordCountMax);
    const maxBytes = Math.min(request.maxBytes ?? limits.fetchBytesDefault, limits.fetchBytesMax);
    const waitMs = Math.min(request.waitMs ?? 0, limits.fetchWaitMsMax);
    const deadlineMs = Date.now() + waitMs;
    const progress = this.progressOf(this.coordinator.find(groupId, memberId).member);
    this.forgetReplacedLogs(progress);
    if (request.ack === undefined || request.ack === progress.lastPollId) {
      progress.confirmed = new Map(progress.delivered);
    } else {
      // The member did not get our last reply: deliver those records again.
      progress.positions = new Map(progress.confirmed);
    }
    const { entry, member } = await this.coordinator.touchForPoll(groupId, memberId, request.autoCommit === true ? progress.confirmed : undefined);
    member.activeCalls += 1;
    try {
      let partitions = this.read(entry, member, progress, maxRecords, maxBytes);
      const generation = member.generation;
      // Ends the wait when the assignment changed too: a revoked partition goes to its
      // new owner only once this member confirms with its next call, so a poll waiting
      // on would hold the handover up for the whole waitMs.
      while (partitions.length === 0 && member.generation === generation && !request.signal?.aborted && !this.coordinator.isClosed) {
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0) break;
        await this.waitForChange(entry, member, remainingMs, request.signal);
        if (entry.group.member(memberId) !== member) {
          throw new RunnelError('UNKNOWN_MEMBER', `member '${memberId}' was removed from group '${groupId}' while it waited`);
        }
        this.coordinator.refreshMember(entry, member);
        partitions = this.read(entry, member, progress, maxRecords, maxBytes);
      }
      progress.delivered = new Map(progress.positions);
      progress.lastPollId += 1;
      return { reply: this.coordinator.reply(entry, member), pollId: progress.lastPollId, partitions };
    } finally {
      member.activeCalls -= 1;
      member.lastSeenMs = Date.now();
    }
  }

  private progressOf(member: Member): MemberProgress {
    let progress = this.progress.get(member);
    if (progress === undefined) {
      progress = { positions: new Map(), delivered: new Map(), confirmed: new Map(), lastPollId: 0, cursor: 0, logs: new Map() };
      this.progress.set(member, progress);
    }
    return progress;
  }

  /** Drops positions on logs that are gone (their topic was deleted, maybe re-created). */
  private forgetReplacedLogs(progress: MemberProgress): void {
    for (const [key, log] of progress.logs) {
      if (this.partitionState(key)?.log === log) continue;
      progress.logs.delete(key);
      progress.positions.delete(key);
      progress.delivered.delete(key);
      progress.confirmed.delete(key);
    }
  }

  private read(entry: GroupEntry, member: Member, progress: MemberProgress, maxRecords: number, maxBytes: number): PolledPartition[] {
    this.forgetReplacedLogs(progress);
    for (const key of progress.positions.keys()) {
      if (!member.assigned.has(key)) {
        progress.positions.delete(key);
        progress.logs.delete(key);
      }
    }
    const keys = [...member.assigned].sort();
    const result: PolledPartition[] = [];
    let damage: RunnelError | undefined;
    let recordsLeft = maxRecords;
    let bytesLeft = maxBytes;
    progress.cursor = keys.length === 0 ? 0 : (progress.cursor + 1) % keys.length;
    for (let i = 0; i < keys.length && recordsLeft > 0 && bytesLeft > 0; i++) {
      const key = keys[(progress.cursor + i) % keys.length];
      const state = this.partitionState(key);
      if (state === undefined) continue;
      const { log } = state;
      const position = this.positionOf(entry, member, progress, key, state);
      if (position >= log.highWatermark) continue;
      const batches = readUnlessDamaged(log, position, bytesLeft, recordsLeft);
      if (batches instanceof RunnelError) damage ??= batches;
      if (batches === null || batches instanceof RunnelError) continue;
      let lastOffset = position - 1;
      for (let at = 0; at < batches.length;) {
        const header = readBatchHeader(batches, at);
        lastOffset = header.lastOffset;
        at += header.sizeBytes;
      }
      const recordCount = Math.min(lastOffset + 1 - position, recordsLeft);
      if (recordCount <= 0) continue;
      result.push({ topic: state.topic, partition: state.partition, startOffset: position, batches, recordCount, highWatermark: log.highWatermark });
      progress.positions.set(key, position + recordCount);
      recordsLeft -= recordCount;
      bytesLeft -= batches.length;
    }
    // A damaged partition does not hold the member's other partitions up; alone, it is the answer.
    if (result.length === 0 && damage !== undefined) throw damage;
    return result;
  }

  private partitionState(key: PartitionKey): PartitionState | undefined {
    const { topic, partition } = parsePartitionKey(key);
    try {
      return this.topics.partition(topic, partition);
    } catch {
      return undefined; // Deleted since the assignment was made; the next refresh drops it.
    }
  }

  private positionOf(entry: GroupEntry, member: Member, progress: MemberProgress, key: PartitionKey, state: PartitionState): number {
    const { log } = state;
    let position = progress.positions.get(key) ?? this.coordinator.committed(entry, key)?.offset;
    // A follower's high watermark trails its leader's by a fetch, so in a cluster a
    // position past it is only early: it waits there. Resetting it would rewind the
    // member (earliest) and an auto-commit would then move the group's offset back.
    const isPastEnd = position !== undefined && position > log.highWatermark && this.coordinator.isLocalLeader(state);
    if (position === undefined || position < log.logStartOffset || isPastEnd) {
      position = member.autoOffsetReset === 'earliest' ? log.logStartOffset : log.highWatermark;
    }
    progress.positions.set(key, position);
    progress.logs.set(key, log);
    return position;
  }

  /** Waits for an append on an assigned partition, a group change, the deadline or an abort. */
  private async waitForChange(entry: GroupEntry, member: Member, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const waits: Array<Promise<boolean>> = [entry.changes.wait(timeoutMs, controller.signal)];
      for (const key of member.assigned) {
        const state = this.partitionState(key);
        if (state !== undefined) waits.push(state.notifier.wait(timeoutMs, controller.signal));
      }
      await Promise.race(waits);
    } finally {
      controller.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** The batches from `position`, or the CORRUPT_LOG error when a damaged batch is in the way. */
function readUnlessDamaged(log: PartitionLog, position: number, bytesLeft: number, recordsLeft: number): Buffer | null | RunnelError {
  try {
    return log.read(position, bytesLeft, log.highWatermark, recordsLeft);
  } catch (error) {
    if (error instanceof RunnelError && error.code === 'CORRUPT_LOG') return error;
    throw error;
  }
}
