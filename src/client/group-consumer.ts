/**
 * GroupConsumer: `for await (const record of consumer)` over a consumer group
 * membership (server-side assignment, KIP-848 style; see README "Consumer groups").
 *
 * The loop: join; poll the member's partitions with `ack=<last pollId>` (a reply lost
 * on the way is delivered again, not skipped); yield the records one by one; poll again
 * when they are done. A record counts as processed when the loop asks for the next one;
 * the record the loop body was on when it exits (break or throw) is not, and is
 * delivered again to whoever owns its partition next (at-least-once).
 *
 * - Commits (always with memberId and generation), by `commit`:
 *   'after-processing' (default): processed offsets are committed before each poll;
 *   'interval': every commitIntervalMs; 'manual': only by commit(). close() commits
 *   what was processed (except in 'manual'), then leaves.
 * - Heartbeats (group-heartbeat.ts): a poll is a heartbeat. While the loop body keeps
 *   the consumer from polling for heartbeatIntervalMs, a background heartbeat lists
 *   the partitions the consumer still holds (its assignment plus those with records
 *   not yet processed), so a partition being revoked is handed over only after its
 *   records are done and committed.
 * - UNKNOWN_MEMBER (the session expired, or the member was fenced): the consumer drops
 *   what it had not committed and joins again; those records come again.
 *   STALE_GENERATION on a commit: it heartbeats for the current assignment and commits
 *   again the partitions it still owns.
 * - pause()/resume(): records of paused partitions are skipped client-side and their
 *   offsets are not committed past; on resume the skipped range is read again with
 *   plain fetches, before anything newer of that partition.
 */
import type { CommitBody, FetchResponse, JoinBody, MemberReply, PollResponse, TopicPartitions } from '../api/types.js';
import { partitionKey, type PartitionKey } from '../util/partition-key.js';
import { RunnelApiError } from './client-errors.js';
import { ConsumerLoop, type CommitMode, type ConsumedRecord } from './consumer-loop.js';
import { HeartbeatTimer, sendHeartbeat, toTopicPartitions } from './group-heartbeat.js';
import { groupPath, memberPath, partitionPath } from './paths.js';
import type { Transport } from './transport.js';

export type { CommitMode, ConsumedRecord } from './consumer-loop.js';

export interface ConsumerOptions extends JoinBody {
  group: string;
  /** Most records per poll. Default 500. */
  maxRecords?: number;
  /** Most bytes of stored batches per poll. */
  maxBytes?: number;
  /** How long a poll waits for records. Default 5000 ms. */
  waitMs?: number;
  /** When processed offsets are committed. Default 'after-processing'. */
  commit?: CommitMode;
  /** For commit: 'interval'. Default 5000 ms. */
  commitIntervalMs?: number;
}

interface Position {
  topic: string;
  partition: number;
  /** The next offset to read. */
  offset: number;
}

/** A paused partition's records that were skipped: [from, to). */
interface SkippedRange {
  topic: string;
  partition: number;
  from: number;
  to: number;
}

function isMembershipLost(error: unknown): boolean {
  return error instanceof RunnelApiError && (error.code === 'UNKNOWN_MEMBER' || error.code === 'GROUP_NOT_FOUND');
}

export class GroupConsumer extends ConsumerLoop {
  private member: MemberReply | undefined;
  private assigned = new Set<PartitionKey>();
  private pollId: number | undefined;
  private buffer: ConsumedRecord[] = [];
  private index = 0;
  /** Processed and not yet committed: the next offset per partition. */
  private readonly processed = new Map<PartitionKey, Position>();
  private readonly paused = new Set<PartitionKey>();
  private readonly skipped = new Map<PartitionKey, SkippedRange>();
  private pollController: AbortController | undefined;
  private readonly heartbeats = new HeartbeatTimer({
    heartbeatIntervalMs: () => (this.isClosing ? undefined : this.member?.heartbeatIntervalMs),
    isPolling: () => this.pollController !== undefined,
    heartbeat: () => this.heartbeat(),
  });
  private isClosing = false;

  constructor(
    private readonly transport: Transport,
    private readonly options: ConsumerOptions,
    private readonly onClose?: (consumer: GroupConsumer) => void,
  ) {
    super(options.commit);
    if (options.topics === undefined && options.topicPrefix === undefined && options.topicPattern === undefined) {
      throw new TypeError('expected topics, topicPrefix or topicPattern');
    }
    this.startCommitTimer(options.commitIntervalMs);
  }

  /** The member id while joined. */
  get memberId(): string | undefined {
    return this.member?.memberId;
  }

  get generation(): number | undefined {
    return this.member?.generation;
  }

  /** The partitions the node last said this member owns. */
  get assignment(): TopicPartitions[] {
    return this.member?.assignment ?? [];
  }

  /** Skips these partitions' records (not committing past them) until resume(). */
  pause(partitions: TopicPartitions[]): void {
    for (const { topic, partitions: numbers } of partitions) for (const partition of numbers) this.paused.add(partitionKey(topic, partition));
  }

  /** Delivers these partitions' records again, from the first one skipped. */
  resume(partitions: TopicPartitions[]): void {
    for (const { topic, partitions: numbers } of partitions) for (const partition of numbers) this.paused.delete(partitionKey(topic, partition));
  }

  /** The partitions paused now. */
  pausedPartitions(): TopicPartitions[] {
    return toTopicPartitions(this.paused);
  }

  protected async next(): Promise<IteratorResult<ConsumedRecord>> {
    while (!this.isClosing) {
      const record = await this.nextBuffered();
      if (record !== undefined) return this.deliver(record);
      try {
        await this.refill();
      } catch (error) {
        if (this.isClosing) break;
        throw error;
      }
    }
    return { value: undefined, done: true };
  }

  protected markProcessed(record: ConsumedRecord): void {
    this.processed.set(partitionKey(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
  }

  private async nextBuffered(): Promise<ConsumedRecord | undefined> {
    if (this.skipped.size > 0) await this.refillResumed();
    while (this.index < this.buffer.length) {
      const record = this.buffer[this.index++];
      const key = partitionKey(record.topic, record.partition);
      if (!this.paused.has(key)) return record;
      const range = this.skipped.get(key);
      if (range === undefined) this.skipped.set(key, { topic: record.topic, partition: record.partition, from: record.offset, to: record.offset + 1 });
      else range.to = record.offset + 1;
    }
    return undefined;
  }

  /** Reads the skipped range of every resumed partition and puts it before the rest of the buffer. */
  private async refillResumed(): Promise<void> {
    const gap: ConsumedRecord[] = [];
    for (const [key, range] of this.skipped) {
      if (this.paused.has(key)) continue;
      this.skipped.delete(key);
      if (!this.assigned.has(key)) continue;
      while (range.from < range.to && !this.isClosing) {
        let answer: FetchResponse;
        try {
          answer = await this.transport.call<FetchResponse>({
            method: 'GET',
            path: partitionPath(range.topic, range.partition) + '/records',
            query: { offset: range.from, maxRecords: Math.min(range.to - range.from, this.options.maxRecords ?? 500) },
            isIdempotent: true,
          });
        } catch (error) {
          // Retention removed the skipped records meanwhile: nothing left to deliver.
          if (error instanceof RunnelApiError && error.code === 'OFFSET_OUT_OF_RANGE') break;
          throw error;
        }
        for (const record of answer.records) if (record.offset < range.to) gap.push({ topic: range.topic, ...record });
        if (answer.records.length === 0) break;
        range.from = answer.nextOffset;
      }
    }
    if (gap.length === 0) return;
    this.buffer = gap.concat(this.buffer.slice(this.index));
    this.index = 0;
  }

  private async refill(): Promise<void> {
    if (this.member === undefined) await this.join();
    if (this.mode === 'after-processing') await this.commit();
    await this.heartbeats.inFlight;
    const member = this.member;
    if (member === undefined || this.isClosing) return;
    this.heartbeats.stop();
    const controller = new AbortController();
    this.pollController = controller;
    const waitMs = this.options.waitMs ?? 5_000;
    try {
      const reply = await this.transport.call<PollResponse>({
        method: 'GET',
        path: memberPath(this.options.group, member.memberId) + '/records',
        query: { maxRecords: this.options.maxRecords, maxBytes: this.options.maxBytes, waitMs, ack: this.pollId },
        // A poll sent again carries the same ack: the node then delivers the lost reply again.
        isIdempotent: true,
        waitMs,
        signal: controller.signal,
      });
      this.heartbeats.contact();
      this.pollId = reply.pollId;
      this.applyReply(reply);
      this.buffer = reply.records;
      this.index = 0;
    } catch (error) {
      if (!isMembershipLost(error)) throw error;
      this.forgetMembership();
    } finally {
      this.pollController = undefined;
      this.heartbeats.schedule();
    }
  }

  private async join(): Promise<void> {
    const { group, maxRecords: _maxRecords, maxBytes: _maxBytes, waitMs: _waitMs, commit: _commit, commitIntervalMs: _commitIntervalMs, ...subscription } = this.options;
    const body: JoinBody = subscription;
    const reply = await this.transport.call<MemberReply>({ method: 'POST', path: groupPath(group) + '/members', body: JSON.stringify(body), isIdempotent: false });
    this.heartbeats.contact();
    this.pollId = undefined;
    this.applyReply(reply);
  }

  private applyReply(reply: MemberReply): void {
    // A heartbeat's answer may arrive after a newer poll's: keep the newest generation.
    if (this.member !== undefined && this.member.memberId === reply.memberId && reply.generation < this.member.generation) return;
    this.member = { groupId: reply.groupId, memberId: reply.memberId, generation: reply.generation, assignment: reply.assignment, heartbeatIntervalMs: reply.heartbeatIntervalMs };
    this.assigned = new Set();
    for (const { topic, partitions } of reply.assignment) for (const partition of partitions) this.assigned.add(partitionKey(topic, partition));
    for (const key of this.skipped.keys()) if (!this.assigned.has(key)) this.skipped.delete(key);
  }

  /** The member is gone (session expired, fenced): what was not committed will be delivered again. */
  private forgetMembership(): void {
    this.member = undefined;
    this.assigned = new Set();
    this.pollId = undefined;
    this.buffer = [];
    this.index = 0;
    this.forgetCurrent();
    this.processed.clear();
    this.skipped.clear();
  }

  /** Partitions this member must not give up yet: its assignment, plus any with records still to process. */
  private heldPartitions(): Set<PartitionKey> {
    const held = new Set(this.assigned);
    const current = this.currentRecord;
    if (current !== undefined) held.add(partitionKey(current.topic, current.partition));
    for (let i = this.index; i < this.buffer.length; i++) held.add(partitionKey(this.buffer[i].topic, this.buffer[i].partition));
    return held;
  }

  protected commitOnce(): Promise<void> {
    return this.commitAttempt(true);
  }

  private async commitAttempt(isFirstTry: boolean): Promise<void> {
    const member = this.member;
    if (member === undefined || this.processed.size === 0) return;
    const positions = [...this.processed.values()];
    const body: CommitBody = {
      offsets: positions.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      memberId: member.memberId,
      generation: member.generation,
    };
    try {
      await this.transport.call({ method: 'POST', path: groupPath(this.options.group) + '/offsets', body: JSON.stringify(body), isIdempotent: true });
      this.heartbeats.contact();
    } catch (error) {
      if (isMembershipLost(error)) {
        this.forgetMembership();
        return;
      }
      if (!(error instanceof RunnelApiError && error.code === 'STALE_GENERATION') || !isFirstTry) throw error;
      // Learn the current assignment, give up what moved away, commit the rest.
      await this.heartbeat(false);
      for (const [key] of this.processed) if (!this.assigned.has(key)) this.processed.delete(key);
      await this.commitAttempt(false);
      return;
    }
    for (const position of positions) {
      const key = partitionKey(position.topic, position.partition);
      if (this.processed.get(key)?.offset === position.offset) this.processed.delete(key);
    }
  }

  /** `isCommitting`: false when called from within a commit (which must not wait for itself). */
  private async heartbeat(isCommitting = true): Promise<void> {
    const member = this.member;
    if (member === undefined) return;
    const held = this.heldPartitions();
    // A partition about to be given up gets its progress committed first.
    if (isCommitting && this.mode !== 'manual') {
      for (const key of this.processed.keys()) {
        if (!held.has(key)) {
          await this.commit();
          break;
        }
      }
    }
    if (this.member !== member) return; // A commit found the membership gone.
    try {
      const reply = await sendHeartbeat(this.transport, this.options.group, member.memberId, held);
      this.heartbeats.contact();
      this.applyReply(reply);
    } catch (error) {
      if (!isMembershipLost(error)) throw error;
      this.forgetMembership();
    }
  }

  protected async shutdown(): Promise<void> {
    this.isClosing = true;
    this.pollController?.abort();
    this.heartbeats.stop();
    this.stopCommitTimer();
    await this.heartbeats.inFlight;
    try {
      if (this.member === undefined) return;
      // Leave even when the commit failed: the records come again to the next owner.
      let commitFailure: unknown;
      if (this.mode !== 'manual') await this.commit().catch((error: unknown) => (commitFailure = error));
      const member = this.member;
      if (member !== undefined) {
        try {
          await this.transport.call({ method: 'DELETE', path: memberPath(this.options.group, member.memberId), isIdempotent: true });
        } catch (error) {
          if (!isMembershipLost(error)) throw error;
        }
        this.member = undefined;
      }
      if (commitFailure !== undefined) throw commitFailure;
    } finally {
      this.onClose?.(this);
    }
  }
}
