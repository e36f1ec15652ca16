/**
 * KeyIndex: the latest offset of every key of a compacted partition, below its high
 * watermark, so that GET /v1/topics/{topic}/keys/{key} reads one record instead of the
 * log. It is memory only (key-table.ts: 16 bytes per slot, 21-43 bytes per key) and
 * is rebuilt from the log whenever the log is opened, and when a topic becomes
 * compacted.
 *
 * - Appends (leader and follower alike) queue their keyed records as pending; the high
 *   watermark moving past them applies them in offset order: a record overwrites its
 *   key's entry, a tombstone (null value) removes it. Readers never see an entry for a
 *   record that is not committed, and a key overwritten above the high watermark
 *   still answers its committed value.
 * - Truncation drops the pending records it removed; one below what was applied (a
 *   follower truncating below its high watermark) rebuilds the index from the log.
 * - The cleaner keeps the latest record of every key and removes a tombstone only
 *   after its key's entry is gone, so an entry's offset stays valid through cleaning;
 *   retention moving the log start (compact,delete) removes the entries below it.
 * - Memory is taken from the node's KeyIndexBudget. A key that does not fit is not
 *   indexed: the index is then incomplete until it is rebuilt (the next open), and a
 *   key it does not hold cannot be said to be absent (KEY_INDEX_FULL).
 *
 * Rebuilding reads every batch of the log once, sequentially, and hashes every key:
 * the `key index rebuild` row of `npm run bench -- --only compaction` measures it.
 *
 * Concurrency: owned by one PartitionLog, used from the event loop only.
 */
import { forEachRecord } from './cleaner/batch-records.js';
import type { BatchHeader } from '../record/header.js';
import { fingerprint, KeyIndexBudget, KeyTable } from './key-table.js';
import type { LocalLog } from './local-log.js';
import type { LogConfig } from './log-config.js';
import type { LogSegment } from './segment.js';

/** The offsets of a log the index follows. */
export interface LogBounds {
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
}

export class KeyIndex {
  /** Keyed records at or above the high watermark, in offset order: fingerprint lanes and offset (negative - 1 for a tombstone). */
  private pendingHigh: number[] = [];
  private pendingLow: number[] = [];
  private pendingOffsets: number[] = [];
  private pendingStart = 0;
  /** Offsets below this are applied to the table. */
  private appliedUpTo = 0;
  /** The log end the index has seen (appends and truncations). */
  private seenEnd = 0;
  private logStartOffset = 0;
  /** Undefined when not even the minimum table fits the budget: nothing is indexed. */
  private table: KeyTable | undefined;

  private constructor(private readonly budget: KeyIndexBudget) {
    this.table = KeyTable.create(budget);
  }

  /** Builds the index of `local` by reading every batch from its first segment. */
  static build(local: LocalLog, bounds: LogBounds, budget: KeyIndexBudget): KeyIndex {
    const index = new KeyIndex(budget);
    index.rebuild(local, bounds);
    return index;
  }

  /** Keys indexed. */
  get keyCount(): number {
    return this.table?.size ?? 0;
  }

  /** Bytes of the node's budget this index holds. */
  get memoryBytes(): number {
    return this.table?.memoryBytes ?? 0;
  }

  /** False when a key was left out for want of memory: a key not found may still exist. */
  get isComplete(): boolean {
    return this.table !== undefined && !this.table.isMissingKeys;
  }

  /**
   * The offset of the latest committed record whose key has `key`'s fingerprint, or -1.
   * The caller reads the record there and compares its key (another key may share the
   * fingerprint).
   */
  offsetOf(key: Uint8Array): number {
    if (this.table === undefined) return -1;
    const [high, low] = fingerprint(key);
    const offset = this.table.get(high, low);
    return offset >= this.logStartOffset ? offset : -1;
  }

  /** Queues the keyed records of a batch just appended (applied once committed). */
  onAppend(batch: Buffer, header: BatchHeader): void {
    forEachRecord(batch, 0, header, (record) => {
      if (record.key === null) return;
      const [high, low] = fingerprint(record.key);
      this.pendingHigh.push(high);
      this.pendingLow.push(low);
      this.pendingOffsets.push(record.isTombstone ? -record.offset - 1 : record.offset);
    });
    this.seenEnd = header.lastOffset + 1;
  }

  /** Catches up with the log after any change of its offsets (PartitionLog calls it with its invariant check). */
  follow(local: LocalLog, bounds: LogBounds): void {
    if (bounds.logEndOffset < this.seenEnd) {
      if (bounds.logEndOffset < this.appliedUpTo) {
        this.rebuild(local, bounds);
        return;
      }
      this.dropPendingFrom(bounds.logEndOffset);
    }
    this.seenEnd = bounds.logEndOffset;
    if (bounds.logStartOffset > this.logStartOffset) {
      this.logStartOffset = bounds.logStartOffset;
      this.table?.removeBelow(bounds.logStartOffset);
    }
    this.applyBelow(bounds.highWatermark);
  }

  /** Gives the index's memory back (the log closes, or its topic stops being compacted). */
  release(): void {
    this.table?.release();
    this.table = undefined;
    this.clearPending();
  }

  private applyBelow(highWatermark: number): void {
    let i = this.pendingStart;
    const offsets = this.pendingOffsets;
    for (; i < offsets.length; i++) {
      const encoded = offsets[i];
      const offset = encoded < 0 ? -encoded - 1 : encoded;
      if (offset >= highWatermark) break;
      this.apply(this.pendingHigh[i], this.pendingLow[i], encoded);
    }
    this.pendingStart = i;
    if (i === offsets.length) this.clearPending();
    else if (i > 4096 && i * 2 > offsets.length) this.compactPending();
    this.appliedUpTo = Math.max(this.appliedUpTo, Math.min(highWatermark, this.seenEnd));
  }

  private apply(high: number, low: number, encodedOffset: number): void {
    const table = this.table;
    if (table === undefined) return;
    if (encodedOffset < 0) table.remove(high, low);
    else table.put(high, low, encodedOffset);
  }

  private dropPendingFrom(offset: number): void {
    const offsets = this.pendingOffsets;
    let end = offsets.length;
    while (end > this.pendingStart && (offsets[end - 1] < 0 ? -offsets[end - 1] - 1 : offsets[end - 1]) >= offset) end -= 1;
    this.pendingHigh.length = end;
    this.pendingLow.length = end;
    offsets.length = end;
  }

  private compactPending(): void {
    this.pendingHigh = this.pendingHigh.slice(this.pendingStart);
    this.pendingLow = this.pendingLow.slice(this.pendingStart);
    this.pendingOffsets = this.pendingOffsets.slice(this.pendingStart);
    this.pendingStart = 0;
  }

  private clearPending(): void {
    this.pendingHigh = [];
    this.pendingLow = [];
    this.pendingOffsets = [];
    this.pendingStart = 0;
  }

  /** Starts over from the log: every record from the log start, committed ones applied, the rest pending. */
  private rebuild(local: LocalLog, bounds: LogBounds): void {
    this.table?.release();
    this.table = KeyTable.create(this.budget);
    this.clearPending();
    this.appliedUpTo = bounds.logStartOffset;
    this.logStartOffset = bounds.logStartOffset;
    try {
      for (const segment of local.segments) {
        if (segment.nextOffset > bounds.logStartOffset) this.scanSegment(segment, bounds);
      }
    } catch {
      // A record that does not parse is damage, which reads report (CORRUPT_LOG); the
      // index holds what came before it and says it is incomplete.
      if (this.table !== undefined) this.table.isMissingKeys = true;
    }
    this.seenEnd = bounds.logEndOffset;
    this.appliedUpTo = Math.min(bounds.highWatermark, bounds.logEndOffset);
  }

  private scanSegment(segment: LogSegment, bounds: LogBounds): void {
    segment.scan(0, ({ header, buffer, bufferPosition }) => {
      if (header.lastOffset < bounds.logStartOffset) return true;
      forEachRecord(buffer, bufferPosition, header, (record) => {
        if (record.key === null || record.offset < bounds.logStartOffset) return;
        const [high, low] = fingerprint(record.key);
        const encoded = record.isTombstone ? -record.offset - 1 : record.offset;
        if (record.offset < bounds.highWatermark) {
          this.apply(high, low, encoded);
        } else {
          this.pendingHigh.push(high);
          this.pendingLow.push(low);
          this.pendingOffsets.push(encoded);
        }
      });
      return true;
    });
  }
}

/**
 * The index a log with `config` needs: kept when it has one and is compacted, built when
 * it becomes compacted, released when it stops being compacted.
 */
export function keyIndexFor(config: LogConfig, current: KeyIndex | undefined, build: () => KeyIndex): KeyIndex | undefined {
  if (!config.isCompacted) {
    current?.release();
    return undefined;
  }
  return current ?? build();
}

export { KeyIndexBudget };
