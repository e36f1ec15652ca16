/**
 * One share-partition's delivery state (Kafka's SharePartition, KIP-932): which records
 * of a partition a share group has handed out, to whom, until when, how often, and which
 * are done. A pure state machine: no I/O, the clock passed in, so a seeded simulation
 * can drive it through any interleaving of consumers, acknowledgements, lock expiries
 * and restarts.
 *
 * - Records from the start offset (SPSO) up to the end offset (SPEO) are in flight,
 *   each available, acquired (by one consumer, under a lock until lockExpiresAtMs),
 *   acknowledged or archived. Records from the end offset on have never been handed out.
 * - acquire() hands out, in offset order, available in-flight records first (released or
 *   expired ones, again) and then new ones, up to maxRecords, and never more than
 *   maxRecordLocks records in flight (Kafka's group.share.partition.max.record.locks).
 *   Each acquisition increments the record's delivery count and gets a fresh
 *   acquisition id, so an acknowledgement of an earlier acquisition is refused.
 * - acknowledge(): accept (done: never delivered again), release (available again),
 *   reject (archived: never delivered again), renew (the lock extended by a lock
 *   duration, KIP-1222). Only the consumer holding a live lock may acknowledge.
 * - A released or expired record whose delivery count reached deliveryCountLimit is
 *   archived instead of made available (Kafka's share.delivery.count.limit).
 * - With a dead-letter topic set, an archived record is also pending until
 *   deadLettered() says it was produced there (deadLetters() lists them with the
 *   reason: rejected or delivery-limit); the start offset does not pass it before.
 * - The start offset moves past acknowledged and archived records at its head, and past
 *   records the log no longer holds (retention: advanceLogStart).
 * - snapshot() is what must survive a restart: the start offset and every in-flight
 *   record's state and delivery count, an acquired record saved as if its lock had run
 *   out (available, or archived at the delivery limit): the lock dies with the node,
 *   the record does not. restore() rebuilds from it.
 */
import { assert } from '../../util/assert.js';

export type DeliveryState = 'available' | 'acquired' | 'acknowledged' | 'archived';
export type AcknowledgeType = 'accept' | 'release' | 'reject' | 'renew';
/** Why a record was archived, as its dead-letter copy says. */
export type DeadLetterReason = 'rejected' | 'delivery-limit';

export interface ShareSettings {
  /** How long an acquired record stays locked to its consumer (share.record.lock.duration.ms). */
  lockDurationMs: number;
  /** Deliveries after which a released or expired record is archived (share.delivery.count.limit). */
  deliveryCountLimit: number;
  /** Most records in flight at once (group.share.partition.max.record.locks). */
  maxRecordLocks: number;
  /** share.dead.letter.topic: when set, archived records wait to be dead-lettered. */
  deadLetterTopic?: string;
}

interface InFlight {
  state: DeliveryState;
  deliveryCount: number;
  /** The consumer holding it while acquired. */
  owner: string | undefined;
  /** Which acquisition holds it: an acknowledgement names it. */
  acquisitionId: number;
  lockExpiresAtMs: number;
  /** Archived and still to be produced to the dead-letter topic, and why. */
  deadLetter?: DeadLetterReason;
}

export interface Acquisition {
  offset: number;
  deliveryCount: number;
  acquisitionId: number;
  lockExpiresAtMs: number;
}

/** Why an acknowledgement of one record was refused (stable codes of the API). */
export type AcknowledgeRefusal =
  /** Not in flight: before the start offset (done long ago) or never handed out. */
  | 'RECORD_NOT_IN_FLIGHT'
  /** Not acquired by this consumer under this acquisition, or its lock ran out. */
  | 'INVALID_RECORD_STATE';

export interface AcknowledgeOutcome {
  offset: number;
  /** undefined: done. */
  refusal: AcknowledgeRefusal | undefined;
  /** After the acknowledgement: the record's state (and for renew, its new lock). */
  state: DeliveryState | undefined;
  lockExpiresAtMs?: number;
}

export interface ShareSnapshot {
  startOffset: number;
  /** In-flight records in offset order; acquired ones saved as available. */
  records: Array<{ offset: number; state: 'available' | 'acknowledged' | 'archived'; deliveryCount: number; deadLetter?: DeadLetterReason }>;
  /** Offset after the last record ever handed out (records past it are new). */
  endOffset: number;
}

export interface ShareCounts {
  available: number;
  acquired: number;
  acknowledged: number;
  archived: number;
}

function checkSettings(settings: ShareSettings): void {
  assert(Number.isSafeInteger(settings.lockDurationMs) && settings.lockDurationMs > 0, () => `lockDurationMs must be a positive integer, got ${settings.lockDurationMs}`);
  assert(Number.isSafeInteger(settings.deliveryCountLimit) && settings.deliveryCountLimit >= 1, () => `deliveryCountLimit must be >= 1, got ${settings.deliveryCountLimit}`);
  assert(Number.isSafeInteger(settings.maxRecordLocks) && settings.maxRecordLocks >= 1, () => `maxRecordLocks must be >= 1, got ${settings.maxRecordLocks}`);
}

export class SharePartition {
  /** In-flight records by offset; inserted in ascending offset order, so iteration is in offset order. */
  private readonly inFlight = new Map<number, InFlight>();
  private start: number;
  private end: number;
  private nextAcquisitionId = 1;

  constructor(private readonly settings: ShareSettings, startOffset: number) {
    checkSettings(settings);
    assert(Number.isSafeInteger(startOffset) && startOffset >= 0, () => `start offset must be a non-negative integer, got ${startOffset}`);
    this.start = startOffset;
    this.end = startOffset;
  }

  static restore(settings: ShareSettings, snapshot: ShareSnapshot): SharePartition {
    const partition = new SharePartition(settings, snapshot.startOffset);
    let previous = snapshot.startOffset - 1;
    for (const record of snapshot.records) {
      assert(record.offset > previous && record.offset < snapshot.endOffset, () => `snapshot records must rise within [${snapshot.startOffset}, ${snapshot.endOffset}), got ${record.offset}`);
      previous = record.offset;
      partition.inFlight.set(record.offset, { state: record.state, deliveryCount: record.deliveryCount, owner: undefined, acquisitionId: 0, lockExpiresAtMs: 0, deadLetter: record.deadLetter });
    }
    partition.end = snapshot.endOffset;
    partition.advanceStart();
    return partition;
  }

  /** The share-partition start offset (SPSO): every record before it is done. */
  get startOffset(): number {
    return this.start;
  }

  /** The share-partition end offset (SPEO): records from here on were never handed out. */
  get endOffset(): number {
    return this.end;
  }

  /** Where a read of the log for acquire() should begin: the first available in-flight record, else the end offset. */
  firstAvailableOffset(nowMs: number): number {
    this.expireLocks(nowMs);
    for (const [offset, record] of this.inFlight) if (record.state === 'available') return offset;
    return this.end;
  }

  /** Whether acquire() could hand out anything now, given the log ends (high watermark) at `logEndOffset`. */
  hasAvailable(nowMs: number, logEndOffset: number): boolean {
    this.expireLocks(nowMs);
    for (const record of this.inFlight.values()) if (record.state === 'available') return true;
    return logEndOffset > this.end && this.inFlight.size < this.settings.maxRecordLocks;
  }

  /**
   * Acquires for `consumer`, in offset order, up to `maxRecords` of `logOffsets` (the
   * offsets of records the log holds, ascending, as read from firstAvailableOffset()):
   * those in flight and available, and those at or past the end offset while fewer than
   * maxRecordLocks records are in flight. Offsets the log skips (gaps) are never in flight.
   */
  acquire(consumer: string, logOffsets: readonly number[], maxRecords: number, nowMs: number): Acquisition[] {
    this.expireLocks(nowMs);
    const acquired: Acquisition[] = [];
    for (const offset of logOffsets) {
      if (acquired.length >= maxRecords) break;
      if (offset < this.start) continue;
      let record = this.inFlight.get(offset);
      if (record === undefined) {
        if (offset < this.end) continue; // A gap the log had when this range was first read: done.
        if (this.inFlight.size >= this.settings.maxRecordLocks) break;
        record = { state: 'available', deliveryCount: 0, owner: undefined, acquisitionId: 0, lockExpiresAtMs: 0 };
        this.inFlight.set(offset, record);
        this.end = offset + 1;
      }
      if (record.state !== 'available') continue;
      record.state = 'acquired';
      record.owner = consumer;
      record.deliveryCount += 1;
      record.acquisitionId = this.nextAcquisitionId++;
      record.lockExpiresAtMs = nowMs + this.settings.lockDurationMs;
      acquired.push({ offset, deliveryCount: record.deliveryCount, acquisitionId: record.acquisitionId, lockExpiresAtMs: record.lockExpiresAtMs });
    }
    return acquired;
  }

  /**
   * Applies one acknowledgement of `type` to each of `offsets` by `consumer`; with
   * `acquisitionId`, only for that acquisition. Returns one outcome per offset.
   */
  acknowledge(consumer: string, offsets: readonly number[], type: AcknowledgeType, nowMs: number, acquisitionId?: number): AcknowledgeOutcome[] {
    this.expireLocks(nowMs);
    const outcomes = offsets.map((offset): AcknowledgeOutcome => {
      const record = this.inFlight.get(offset);
      if (record === undefined) return { offset, refusal: 'RECORD_NOT_IN_FLIGHT', state: undefined };
      if (record.state !== 'acquired' || record.owner !== consumer || (acquisitionId !== undefined && record.acquisitionId !== acquisitionId)) {
        return { offset, refusal: 'INVALID_RECORD_STATE', state: record.state };
      }
      switch (type) {
        case 'accept':
          this.settle(record, 'acknowledged');
          break;
        case 'reject':
          this.settle(record, 'archived', 'rejected');
          break;
        case 'release':
          this.settleAfterDelivery(record);
          break;
        case 'renew':
          record.lockExpiresAtMs = nowMs + this.settings.lockDurationMs;
          return { offset, refusal: undefined, state: record.state, lockExpiresAtMs: record.lockExpiresAtMs };
      }
      return { offset, refusal: undefined, state: record.state };
    });
    this.advanceStart();
    return outcomes;
  }

  /** When the first live lock runs out (undefined: none held); a long-poll waits no longer than that. */
  nextLockExpiryMs(): number | undefined {
    let next: number | undefined;
    for (const record of this.inFlight.values()) {
      if (record.state === 'acquired' && (next === undefined || record.lockExpiresAtMs < next)) next = record.lockExpiresAtMs;
    }
    return next;
  }

  /** Makes records whose lock ran out available again (archived at the delivery limit); returns their offsets. */
  expireLocks(nowMs: number): number[] {
    const expired: number[] = [];
    for (const [offset, record] of this.inFlight) {
      if (record.state !== 'acquired' || record.lockExpiresAtMs > nowMs) continue;
      this.settleAfterDelivery(record);
      expired.push(offset);
    }
    if (expired.length > 0) this.advanceStart();
    return expired;
  }

  /** The log no longer holds records before `logStartOffset` (retention): they leave the share-partition. */
  advanceLogStart(logStartOffset: number): void {
    if (logStartOffset <= this.start) return;
    for (const offset of [...this.inFlight.keys()]) {
      if (offset >= logStartOffset) break;
      this.inFlight.delete(offset);
    }
    this.start = logStartOffset;
    if (this.end < logStartOffset) this.end = logStartOffset;
    this.advanceStart();
  }

  /** Moves the start offset to `offset` (a reset): everything in flight is forgotten. */
  reset(offset: number): void {
    assert(Number.isSafeInteger(offset) && offset >= 0, () => `reset offset must be a non-negative integer, got ${offset}`);
    this.inFlight.clear();
    this.start = offset;
    this.end = offset;
  }

  /** The state of an in-flight record; undefined before the start offset (done) and from the end offset (never handed out). */
  stateOf(offset: number): DeliveryState | undefined {
    return this.inFlight.get(offset)?.state;
  }

  counts(): ShareCounts {
    const counts: ShareCounts = { available: 0, acquired: 0, acknowledged: 0, archived: 0 };
    for (const record of this.inFlight.values()) counts[record.state] += 1;
    return counts;
  }

  /** The consumers holding live locks, and how many records each (for describe). */
  holders(): Map<string, number> {
    const holders = new Map<string, number>();
    for (const record of this.inFlight.values()) {
      if (record.state === 'acquired' && record.owner !== undefined) holders.set(record.owner, (holders.get(record.owner) ?? 0) + 1);
    }
    return holders;
  }

  snapshot(): ShareSnapshot {
    const records: ShareSnapshot['records'] = [];
    for (const [offset, record] of this.inFlight) {
      // A restart ends every lock, as if it ran out: at the delivery limit, the record is archived.
      const isAtLimit = record.state === 'acquired' && record.deliveryCount >= this.settings.deliveryCountLimit;
      const state = record.state !== 'acquired' ? record.state : isAtLimit ? 'archived' : 'available';
      const deadLetter = isAtLimit ? this.deadLetterOf('delivery-limit') : record.deadLetter;
      records.push({ offset, state, deliveryCount: record.deliveryCount, ...(deadLetter === undefined ? {} : { deadLetter }) });
    }
    return { startOffset: this.start, records, endOffset: this.end };
  }

  /** Archived records still to be produced to the dead-letter topic, in offset order. */
  deadLetters(): Array<{ offset: number; reason: DeadLetterReason; deliveryCount: number }> {
    const pending: Array<{ offset: number; reason: DeadLetterReason; deliveryCount: number }> = [];
    for (const [offset, record] of this.inFlight) if (record.deadLetter !== undefined) pending.push({ offset, reason: record.deadLetter, deliveryCount: record.deliveryCount });
    return pending;
  }

  /** These records were produced to the dead-letter topic (or need not be: it was unset): they are done. */
  deadLettered(offsets: readonly number[]): void {
    for (const offset of offsets) {
      const record = this.inFlight.get(offset);
      if (record !== undefined) record.deadLetter = undefined;
    }
    this.advanceStart();
  }

  private deadLetterOf(reason: DeadLetterReason): DeadLetterReason | undefined {
    return this.settings.deadLetterTopic === undefined ? undefined : reason;
  }

  /** A released or expired record: available again, or archived at the delivery limit. */
  private settleAfterDelivery(record: InFlight): void {
    if (record.deliveryCount >= this.settings.deliveryCountLimit) this.settle(record, 'archived', 'delivery-limit');
    else this.settle(record, 'available');
  }

  private settle(record: InFlight, state: 'available' | 'acknowledged' | 'archived', reason?: DeadLetterReason): void {
    record.state = state;
    record.owner = undefined;
    record.lockExpiresAtMs = 0;
    if (reason !== undefined) record.deadLetter = this.deadLetterOf(reason);
  }

  /** Drops done records at the head: the start offset moves to the first record not done (or the end offset). */
  private advanceStart(): void {
    for (const [offset, record] of this.inFlight) {
      if ((record.state !== 'acknowledged' && record.state !== 'archived') || record.deadLetter !== undefined) {
        this.start = offset;
        return;
      }
      this.inFlight.delete(offset);
    }
    this.start = this.end;
  }
}
