/**
 * Producer state of one partition (Kafka's ProducerStateManager, KIP-98): for every
 * producer id that wrote here, its epoch and the sequence ranges of its recent batches
 * with the offsets they got. The leader asks it whether a batch is new, a duplicate of
 * one already in the log (then the original offsets are answered and nothing is
 * appended), or out of order. Every replica keeps it from the batches in its own log,
 * so a new leader deduplicates a retry of a batch the old leader wrote.
 *
 * Two kinds of producer id share the batch fields:
 * - allocated producers (ids below KEY_PRODUCER_ID_BASE, from POST /v1/producers): the
 *   last BATCHES_KEPT batches are kept, sequences must follow on, a lower epoch is fenced;
 * - an Idempotency-Key is a one-request producer (keyProducerId): its id comes from the
 *   topic and key, its epoch from the partition's share of the request, sequences count
 *   the request's records in this partition from 0. Every batch of it is kept (one
 *   request's worth), so a retry, however it is cut into batches, finds its records.
 *
 * The state is built lazily, on the first question or producer batch: from the newest
 * snapshot (`<offset>.snapshot`, written at each roll and at a clean close while the
 * state is loaded) and the batches after it, or else from the batches of the last
 * `expiryMs` (producer.id.expiration.ms). Truncation drops it (it is rebuilt from the
 * log as it is then). A producer silent for expiryMs is forgotten, and the node-wide
 * budget evicts the least recently written producer of a partition that needs room.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readBatchHeader, type BatchHeader } from '../record/header.js';

/** Ids from here up are Idempotency-Key producers (below 2^53, so they stay exact in JS). */
export const KEY_PRODUCER_ID_BASE = 2 ** 52;
/** Batches remembered per allocated producer (Kafka's max.in.flight.requests.per.connection for idempotence). */
export const BATCHES_KEPT = 5;
const SNAPSHOT_SUFFIX = '.snapshot';
const SNAPSHOTS_KEPT = 2;
const SCAN_CHUNK_BYTES = 1 << 20;

export interface SequenceRange {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: SequenceRange[];
  lastAppendMs: number;
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'refused'; code: 'OUT_OF_ORDER_SEQUENCE' | 'PRODUCER_FENCED' | 'UNKNOWN_PRODUCER_ID' | 'IDEMPOTENCY_KEY_REUSED'; message: string };

/** Producers remembered across every partition of a node, at most `max` (--producer-states-max). */
export class ProducerStateBudget {
  count = 0;
  /** Producers forgotten to stay within max (runnel_producer_states_evicted_total). */
  evictedCount = 0;
  constructor(public max: number, readonly expiryMs: number) {}
}

/** What the state reads of its partition's log. */
export interface ProducerStateLog {
  readonly directory: string;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Base offset of the oldest segment holding a record at or after timestampMs (the log end when none). */
  firstOffsetSince(timestampMs: number): number;
  /** Whole batches from the one holding startOffset, up to maxBytes, not past maxOffset. */
  read(startOffset: number, maxBytes: number, maxOffset: number): Buffer | null;
}

export function isKeyProducer(producerId: number): boolean {
  return producerId >= KEY_PRODUCER_ID_BASE;
}

export class ProducerStateManager {
  /** Undefined until first needed (see ensureLoaded). Insertion order is write order: the first is the least recent. */
  private producers: Map<number, ProducerEntry> | undefined;

  constructor(private readonly log: ProducerStateLog, private readonly budget: ProducerStateBudget) {}

  get isLoaded(): boolean {
    return this.producers !== undefined;
  }

  get size(): number {
    return this.producers?.size ?? 0;
  }

  /** Where a batch of `producerId` with sequences firstSeq..lastSeq stands, before it is appended. */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number, nowMs: number): SequenceCheck {
    const entry = this.ensureLoaded(nowMs).get(producerId);
    if (isKeyProducer(producerId)) return checkKeyProducer(entry, epoch, firstSeq, lastSeq);
    if (entry === undefined) {
      if (firstSeq === 0) return { kind: 'append' };
      return refused('UNKNOWN_PRODUCER_ID', `producer ${producerId} has no state on this partition (it expired or was evicted); ` +
        'start again from sequence 0 with a new producer id (POST /v1/producers)');
    }
    if (epoch < entry.epoch) {
      return refused('PRODUCER_FENCED', `producer ${producerId} epoch ${epoch} is older than its current epoch ${entry.epoch}`);
    }
    if (epoch > entry.epoch) {
      return firstSeq === 0 ? { kind: 'append' } : refused('OUT_OF_ORDER_SEQUENCE', `a new epoch (${epoch}) of producer ${producerId} must start at sequence 0, not ${firstSeq}`);
    }
    const found = covered(entry.batches, firstSeq, lastSeq);
    if (found !== undefined) return { kind: 'duplicate', ...found };
    const expected = nextSequence(entry);
    if (firstSeq === expected) return { kind: 'append' };
    return refused('OUT_OF_ORDER_SEQUENCE', `producer ${producerId} epoch ${epoch}: expected sequence ${expected}, got ${firstSeq}` +
      (firstSeq < expected ? ' (an older batch than the last ones remembered)' : ' (a gap: an earlier batch is missing)'));
  }

  /** Every batch appended to the log (as leader or follower) passes here. */
  onAppend(header: BatchHeader, nowMs: number): void {
    if (this.producers === undefined || header.producerId < 0 || header.baseSequence < 0) return;
    this.record(this.producers, header, nowMs);
  }

  /** The log lost its tail: the state is rebuilt from what is left when next needed. */
  onTruncated(logEndOffset: number): void {
    this.unload();
    for (const snapshot of this.snapshotOffsets()) {
      if (snapshot > logEndOffset) this.removeSnapshot(snapshot);
    }
  }

  /** The log was emptied and starts again: nothing of the old state holds. */
  onRestarted(): void {
    this.unload();
    for (const snapshot of this.snapshotOffsets()) this.removeSnapshot(snapshot);
  }

  /** At a roll or a clean close: the state as of the log end, so a later load reads only what follows. Best effort. */
  writeSnapshot(nowMs: number): void {
    const producers = this.producers;
    if (producers === undefined) return;
    const offset = this.log.logEndOffset;
    const rows: unknown[] = [];
    this.expire(producers, nowMs);
    for (const [id, entry] of producers) rows.push([id, entry.epoch, entry.lastAppendMs, entry.batches.map(rangeRow)]);
    const file = snapshotPath(this.log.directory, offset);
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify({ version: 1, offset, producers: rows }));
      fs.renameSync(`${file}.tmp`, file);
      const older = this.snapshotOffsets().filter((other) => other < offset);
      for (const stale of older.slice(0, Math.max(0, older.length - (SNAPSHOTS_KEPT - 1)))) this.removeSnapshot(stale);
    } catch {
      // A snapshot only saves a scan; a full disk must not fail the roll that asked for it.
      fs.rmSync(`${file}.tmp`, { force: true });
    }
  }

  /** Forgets the state (the partition closed or was deleted); gives its producers back to the budget. */
  unload(): void {
    if (this.producers === undefined) return;
    this.budget.count -= this.producers.size;
    this.producers = undefined;
  }

  private ensureLoaded(nowMs: number): Map<number, ProducerEntry> {
    if (this.producers !== undefined) {
      this.expire(this.producers, nowMs);
      return this.producers;
    }
    const producers = new Map<number, ProducerEntry>();
    this.producers = producers;
    const from = this.loadSnapshot(producers) ?? Math.max(this.log.logStartOffset, this.log.firstOffsetSince(nowMs - this.budget.expiryMs));
    this.scan(producers, from, nowMs);
    this.expire(producers, nowMs);
    return producers;
  }

  private scan(producers: Map<number, ProducerEntry>, from: number, nowMs: number): void {
    let offset = Math.max(from, this.log.logStartOffset);
    const end = this.log.logEndOffset;
    while (offset < end) {
      const bytes = this.log.read(offset, SCAN_CHUNK_BYTES, end);
      if (bytes === null) break;
      for (let position = 0; position < bytes.length;) {
        const header = readBatchHeader(bytes, position);
        if (header.producerId >= 0 && header.baseSequence >= 0 && header.lastOffset >= offset) {
          this.record(producers, header, Math.min(nowMs, header.maxTimestamp));
        }
        offset = header.lastOffset + 1;
        position += header.sizeBytes;
      }
    }
  }

  private record(producers: Map<number, ProducerEntry>, header: BatchHeader, nowMs: number): void {
    const range: SequenceRange = {
      firstSeq: header.baseSequence,
      lastSeq: header.baseSequence + header.lastOffsetDelta,
      firstOffset: header.baseOffset,
      lastOffset: header.lastOffset,
    };
    let entry = producers.get(header.producerId);
    if (entry !== undefined) {
      producers.delete(header.producerId);
      if (entry.epoch !== header.producerEpoch && !isKeyProducer(header.producerId)) entry.batches = [];
      entry.epoch = header.producerEpoch;
      entry.lastAppendMs = Math.max(entry.lastAppendMs, nowMs);
      entry.batches.push(range);
      if (!isKeyProducer(header.producerId) && entry.batches.length > BATCHES_KEPT) entry.batches.shift();
    } else {
      if (this.budget.count >= this.budget.max) this.evictOldest(producers);
      entry = { epoch: header.producerEpoch, batches: [range], lastAppendMs: nowMs };
      this.budget.count += 1;
    }
    producers.set(header.producerId, entry);
  }

  private evictOldest(producers: Map<number, ProducerEntry>): void {
    const oldest = producers.keys().next();
    if (oldest.done === true) return;
    producers.delete(oldest.value);
    this.budget.count -= 1;
    this.budget.evictedCount += 1;
  }

  /** Forgets producers silent for longer than the expiry, least recent first. */
  private expire(producers: Map<number, ProducerEntry>, nowMs: number): void {
    const cutoff = nowMs - this.budget.expiryMs;
    for (const [id, entry] of producers) {
      if (entry.lastAppendMs >= cutoff) break;
      producers.delete(id);
      this.budget.count -= 1;
    }
  }

  /** Fills `producers` from the newest readable snapshot within the log; returns its offset. */
  private loadSnapshot(producers: Map<number, ProducerEntry>): number | undefined {
    const candidates = this.snapshotOffsets().filter((offset) => offset <= this.log.logEndOffset).reverse();
    for (const offset of candidates) {
      try {
        const parsed = JSON.parse(fs.readFileSync(snapshotPath(this.log.directory, offset), 'utf8')) as {
          offset: number; producers: Array<[number, number, number, number[][]]>;
        };
        if (parsed.offset !== offset) continue;
        for (const [id, epoch, lastAppendMs, ranges] of parsed.producers) {
          producers.set(id, { epoch, lastAppendMs, batches: ranges.map(([firstSeq, lastSeq, firstOffset, lastOffset]) => ({ firstSeq, lastSeq, firstOffset, lastOffset })) });
        }
        this.budget.count += producers.size;
        return offset;
      } catch {
        producers.clear();
      }
    }
    return undefined;
  }

  private snapshotOffsets(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.log.directory);
    } catch {
      return [];
    }
    return names.filter((name) => name.endsWith(SNAPSHOT_SUFFIX))
      .map((name) => Number(name.slice(0, -SNAPSHOT_SUFFIX.length)))
      .filter((offset) => Number.isSafeInteger(offset))
      .sort((a, b) => a - b);
  }

  private removeSnapshot(offset: number): void {
    fs.rmSync(snapshotPath(this.log.directory, offset), { force: true });
  }
}

function checkKeyProducer(entry: ProducerEntry | undefined, epoch: number, firstSeq: number, lastSeq: number): SequenceCheck {
  if (entry === undefined) return { kind: 'append' };
  if (entry.epoch !== epoch) {
    return refused('IDEMPOTENCY_KEY_REUSED', 'the Idempotency-Key was used for a different request (its records for this partition differ)');
  }
  const found = covered(entry.batches, firstSeq, lastSeq);
  if (found !== undefined) return { kind: 'duplicate', ...found };
  // Past what is stored (a retry whose later batches never reached this replica): append them.
  if (firstSeq >= nextSequence(entry)) return { kind: 'append' };
  return refused('OUT_OF_ORDER_SEQUENCE', `this retry's records ${firstSeq}..${lastSeq} for this partition were stored in other batches; ` +
    'retry with the same Idempotency-Key and body once the topic\'s max.message.bytes is as it was');
}

/** The offsets of firstSeq..lastSeq when stored batches hold every one of them (records of a batch have consecutive offsets). */
function covered(batches: SequenceRange[], firstSeq: number, lastSeq: number): { firstOffset: number; lastOffset: number } | undefined {
  const first = batches.find((range) => range.firstSeq <= firstSeq && firstSeq <= range.lastSeq);
  const last = batches.find((range) => range.firstSeq <= lastSeq && lastSeq <= range.lastSeq);
  if (first === undefined || last === undefined) return undefined;
  for (let seq = first.lastSeq + 1; seq < last.firstSeq;) {
    const next = batches.find((range) => range.firstSeq === seq);
    if (next === undefined) return undefined;
    seq = next.lastSeq + 1;
  }
  return { firstOffset: first.firstOffset + (firstSeq - first.firstSeq), lastOffset: last.firstOffset + (lastSeq - last.firstSeq) };
}

function nextSequence(entry: ProducerEntry): number {
  const last = entry.batches[entry.batches.length - 1];
  return last === undefined ? 0 : last.lastSeq + 1;
}

function refused(code: Extract<SequenceCheck, { kind: 'refused' }>['code'], message: string): SequenceCheck {
  return { kind: 'refused', code, message };
}

function rangeRow(range: SequenceRange): number[] {
  return [range.firstSeq, range.lastSeq, range.firstOffset, range.lastOffset];
}

function snapshotPath(directory: string, offset: number): string {
  return path.join(directory, `${String(offset).padStart(20, '0')}${SNAPSHOT_SUFFIX}`);
}
