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
 * Where it reads (KIP-392, as a fetch does): from this node's log when it leads the
 * partition or is an in-sync follower; otherwise (the replication factor is below the
 * cluster's size, or the replica here lags) from an in-sync replica over
 * /internal/v1/read, the leader first, which also resets positions out of its range
 * and long-polls for the member.
 */
import { RunnelError } from '../../errors.js';
import { countRecordsFrom } from '../../storage/cleaner/batch-records.js';
import { limits } from '../../limits.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import type { ReadRoute, RemoteReadRequest, RemoteReadResult, Replication } from '../replication.js';
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
    private readonly replication: Replication,
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
      let partitions = await this.read(entry, member, progress, maxRecords, maxBytes);
      const generation = member.generation;
      // Ends the wait when the assignment changed too: a revoked partition goes to its
      // new owner only once this member confirms with its next call, so a poll waiting
      // on would hold the handover up for the whole waitMs.
      while (partitions.length === 0 && member.generation === generation && !request.signal?.aborted && !this.coordinator.isClosed) {
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0) break;
        await this.waitForChange(entry, member, progress, remainingMs, request.signal);
        if (entry.group.member(memberId) !== member) {
          throw new RunnelError('UNKNOWN_MEMBER', `member '${memberId}' was removed from group '${groupId}' while it waited`);
        }
        this.coordinator.refreshMember(entry, member);
        partitions = await this.read(entry, member, progress, maxRecords, maxBytes);
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

  private async read(entry: GroupEntry, member: Member, progress: MemberProgress, maxRecords: number, maxBytes: number): Promise<PolledPartition[]> {
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
    // Nodes that did not answer in this pass are not asked again in it (a frozen node costs one timeout, not one per partition).
    const unreachable = new Set<number>();
    for (let i = 0; i < keys.length && recordsLeft > 0 && bytesLeft > 0; i++) {
      const key = keys[(progress.cursor + i) % keys.length];
      const state = this.partitionState(key);
      if (state === undefined) continue;
      const route = this.routeOf(state);
      if (route === undefined) continue;
      const read = route.kind === 'local'
        ? this.readLocal(entry, member, progress, key, state, recordsLeft, bytesLeft)
        : await this.readRemote(entry, member, progress, key, state, route.nodeIds.filter((id) => !unreachable.has(id)), recordsLeft, bytesLeft, unreachable);
      if (read instanceof RunnelError) damage ??= read;
      if (read === null || read instanceof RunnelError) continue;
      // Counted record by record where a compacted log has gaps; the position moves past them.
      const { count: recordCount, next } = countRecordsFrom(read.batches, read.position, recordsLeft);
      if (next > read.position) progress.positions.set(key, next);
      if (recordCount <= 0) continue;
      result.push({
        topic: state.topic, partition: state.partition, startOffset: read.position, batches: read.batches, recordCount, highWatermark: read.highWatermark,
      });
      recordsLeft -= recordCount;
      bytesLeft -= read.batches.length;
    }
    // A damaged partition does not hold the member's other partitions up; alone, it is the answer.
    if (result.length === 0 && damage !== undefined) throw damage;
    return result;
  }

  /** Where the partition is read (Replication.readRoute); undefined while no node can serve it. */
  private routeOf(state: PartitionState): ReadRoute | undefined {
    try {
      return this.replication.readRoute(state, false);
    } catch {
      return undefined; // No leader right now: the partition is read again at the next poll.
    }
  }

  private readLocal(
    entry: GroupEntry, member: Member, progress: MemberProgress, key: PartitionKey, state: PartitionState, recordsLeft: number, bytesLeft: number,
  ): PartitionRead | null | RunnelError {
    const { log } = state;
    const position = this.positionOf(entry, member, progress, key, state);
    if (position >= log.highWatermark) return null;
    const batches = readUnlessDamaged(log, position, bytesLeft, recordsLeft);
    if (batches === null || batches instanceof RunnelError) return batches;
    return { position, batches, highWatermark: log.highWatermark };
  }

  /** Reads from the first of `nodeIds` that answers; the serving node resets a position out of its range. */
  private async readRemote(
    entry: GroupEntry, member: Member, progress: MemberProgress, key: PartitionKey, state: PartitionState,
    nodeIds: number[], recordsLeft: number, bytesLeft: number, unreachable: Set<number>,
  ): Promise<PartitionRead | null | RunnelError> {
    const offset = progress.positions.get(key) ?? this.coordinator.committed(entry, key)?.offset ?? null;
    const request = { topic: state.topic, partition: state.partition, offset, reset: member.autoOffsetReset, maxRecords: recordsLeft, maxBytes: bytesLeft, waitMs: 0 };
    const answer = await this.readFromReplicas(nodeIds, request, undefined, unreachable);
    if (answer instanceof RunnelError) return answer.code === 'CORRUPT_LOG' ? answer : null;
    if (answer === undefined) return null;
    this.coordinator.ranges.learn(state, answer);
    progress.positions.set(key, answer.startOffset);
    progress.logs.set(key, state.log);
    if (answer.batches === null) return null;
    return { position: answer.startOffset, batches: answer.batches, highWatermark: answer.highWatermark };
  }

  /** The first answer of `nodeIds` in order; a coded refusal other than NOT_LEADER; undefined when none answered. */
  private async readFromReplicas(
    nodeIds: number[], request: RemoteReadRequest, signal: AbortSignal | undefined, unreachable?: Set<number>,
  ): Promise<RemoteReadResult | RunnelError | undefined> {
    let refusal: RunnelError | undefined;
    for (const nodeId of nodeIds) {
      if (signal?.aborted === true) break;
      try {
        return await this.replication.readRemote(nodeId, request, request.waitMs + limits.remoteReadTimeoutMs, signal);
      } catch (error) {
        if (!(error instanceof RunnelError)) {
          unreachable?.add(nodeId); // Not reachable: the next replica.
          continue;
        }
        if (error.code !== 'NOT_LEADER') return error;
        refusal = error;
      }
    }
    return refusal?.code === 'NOT_LEADER' ? undefined : refusal;
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

  /**
   * Waits for an append on an assigned partition (here, or at the replica a remote
   * partition is read from), a group change, the deadline or an abort.
   */
  private async waitForChange(entry: GroupEntry, member: Member, progress: MemberProgress, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const waits: Array<Promise<unknown>> = [entry.changes.wait(timeoutMs, controller.signal)];
      for (const key of member.assigned) {
        const state = this.partitionState(key);
        const route = state === undefined ? undefined : this.routeOf(state);
        if (state === undefined || route === undefined) continue;
        const position = progress.positions.get(key);
        if (route.kind === 'local') waits.push(state.notifier.wait(timeoutMs, controller.signal));
        else if (position !== undefined) waits.push(this.waitRemotely(state, route.nodeIds, position, member, timeoutMs, controller.signal));
      }
      await Promise.race(waits);
    } finally {
      controller.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A long-poll at the replica: resolves when a record is there at `position` (or the
   * replica moved the position); otherwise (nothing came, no replica answered) only once
   * the other waits end, so a failing replica is not asked again and again.
   */
  private async waitRemotely(state: PartitionState, nodeIds: number[], position: number, member: Member, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const request = { topic: state.topic, partition: state.partition, offset: position, reset: member.autoOffsetReset, maxRecords: 1, maxBytes: 1, waitMs: Math.floor(timeoutMs) };
    const answer = await this.readFromReplicas(nodeIds, request, signal);
    const isNews = answer !== undefined && !(answer instanceof RunnelError) && (answer.batches !== null || answer.startOffset !== position);
    if (isNews || signal.aborted) return;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }
}

/** A partition's batches read for a poll, from `position`. */
interface PartitionRead {
  position: number;
  batches: Buffer;
  highWatermark: number;
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
