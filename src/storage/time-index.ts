/**
 * TimeIndex: the sparse time index of one segment (`<baseOffset>.timeindex`).
 *
 * Format: 12-byte entries, big-endian (timestampMs i64, relativeOffset u32). An entry
 * (maxTimestampSoFar, offset of the record that has it) is added next to an offset
 * index entry whenever the segment's largest timestamp has grown since the last one,
 * and once more when the segment stops being active, so the last entry of an inactive
 * segment holds its largest timestamp (what retention.ms compares with). Timestamps
 * in the index never decrease, even though CreateTime timestamps in the log may.
 *
 * Lookup by time: the last entry with timestamp <= target gives a safe offset to start
 * scanning from; the first record with timestamp >= target is at or after it.
 * Consistency after a crash is checked and repaired like the offset index.
 */
import fs from 'node:fs';
import { FileCache, loadEntriesFile, type CachedFile } from './file-cache.js';
import { assert } from '../util/assert.js';

const ENTRY_BYTES = 12;

export interface TimeIndexEntry {
  timestampMs: number;
  offset: number;
}

export class TimeIndex {
  private entries: Buffer;
  private entryCount: number;
  private readonly scratch = Buffer.alloc(ENTRY_BYTES);

  private constructor(
    readonly path: string,
    readonly baseOffset: number,
    private readonly file: CachedFile,
    entries: Buffer,
    entryCount: number,
  ) {
    this.entries = entries;
    this.entryCount = entryCount;
  }

  static open(path: string, baseOffset: number, files: FileCache = FileCache.unbounded()): TimeIndex {
    const { file, entries, entryCount } = loadEntriesFile(path, files, ENTRY_BYTES, 32);
    return new TimeIndex(path, baseOffset, file, entries, entryCount);
  }

  get count(): number {
    return this.entryCount;
  }

  get sizeBytes(): number {
    return this.entryCount * ENTRY_BYTES;
  }

  entryAt(index: number): TimeIndexEntry {
    const at = index * ENTRY_BYTES;
    return {
      timestampMs: Number(this.entries.readBigInt64BE(at)),
      offset: this.baseOffset + this.entries.readUInt32BE(at + 8),
    };
  }

  lastEntry(): TimeIndexEntry | undefined {
    return this.entryCount === 0 ? undefined : this.entryAt(this.entryCount - 1);
  }

  /**
   * Adds (timestampMs, offset) when the timestamp is larger than the last entry's.
   * A timestamp that is not larger is skipped rather than refused: it carries no new
   * information for a "first offset at or after time T" search.
   */
  maybeAppend(timestampMs: number, offset: number): void {
    const last = this.lastEntry();
    if (last !== undefined && timestampMs <= last.timestampMs) return;
    const relativeOffset = offset - this.baseOffset;
    assert(relativeOffset >= 0 && relativeOffset <= 0xffffffff, () =>
      `time index ${this.path}: offset ${offset} is outside the segment starting at ${this.baseOffset}`);
    assert(last === undefined || offset >= last.offset, () =>
      `time index ${this.path}: offset ${offset} is below the last entry's ${last?.offset}`);
    if ((this.entryCount + 1) * ENTRY_BYTES > this.entries.length) {
      const grown = Buffer.alloc(this.entries.length * 2);
      this.entries.copy(grown, 0, 0, this.entryCount * ENTRY_BYTES);
      this.entries = grown;
    }
    const at = this.entryCount * ENTRY_BYTES;
    this.entries.writeBigInt64BE(BigInt(timestampMs), at);
    this.entries.writeUInt32BE(relativeOffset, at + 8);
    this.entries.copy(this.scratch, 0, at, at + ENTRY_BYTES);
    fs.writeSync(this.file.fd(), this.scratch, 0, ENTRY_BYTES, at);
    this.entryCount += 1;
  }

  /**
   * The last entry with timestamp strictly below the target, or undefined when there is
   * none. Every record at or before that entry's offset is earlier than the target, so a
   * search for the first record at or after the target may start just after it.
   */
  lookupBefore(timestampMs: number): TimeIndexEntry | undefined {
    let low = 0;
    let high = this.entryCount - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (Number(this.entries.readBigInt64BE(middle * ENTRY_BYTES)) < timestampMs) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? undefined : this.entryAt(found);
  }

  truncateTo(offset: number): void {
    let keep = this.entryCount;
    while (keep > 0 && this.entryAt(keep - 1).offset >= offset) keep -= 1;
    this.entryCount = keep;
    fs.ftruncateSync(this.file.fd(), keep * ENTRY_BYTES);
  }

  reset(): void {
    this.entryCount = 0;
    fs.ftruncateSync(this.file.fd(), 0);
  }

  /** Entries must not decrease in either column and must point below `nextOffset`. */
  isConsistentWith(nextOffset: number): boolean {
    let previous: TimeIndexEntry | undefined;
    for (let i = 0; i < this.entryCount; i++) {
      const entry = this.entryAt(i);
      if (entry.offset >= nextOffset) return false;
      if (previous !== undefined && (entry.timestampMs <= previous.timestampMs || entry.offset < previous.offset)) {
        return false;
      }
      previous = entry;
    }
    return true;
  }

  flush(): void {
    fs.fsyncSync(this.file.fd());
  }

  close(): void {
    this.file.close();
  }
}
