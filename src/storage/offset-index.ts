/**
 * OffsetIndex: the sparse offset index of one segment (`<baseOffset>.index`).
 *
 * Format: 8-byte entries, big-endian (relativeOffset u32, position u32), where
 * relativeOffset = offset - segment baseOffset and position is the byte position in
 * the segment's .log of the batch that contains that offset. Both columns strictly
 * increase. An entry is added at most once every index.interval.bytes of log, so the
 * index is about 1/500 of the log and is kept in memory; every entry is also written
 * through to the file with one positioned write, so the file and memory never differ.
 *
 * Lookup is a binary search for the last entry at or below the target (floor), then
 * the caller scans at most index.interval.bytes plus one batch forward in the log.
 *
 * After a crash the file can have a torn tail or point past the end of the log; the
 * segment checks it with isConsistentWith() and rebuilds it from the log if not
 * (Kafka's OffsetIndex.sanityCheck does the same).
 *
 * Concurrency: one owner (the partition's LogSegment) on the event loop; no locking.
 */
import fs from 'node:fs';
import { FileCache, loadEntriesFile, type CachedFile } from './file-cache.js';
import { assert } from '../util/assert.js';

const ENTRY_BYTES = 8;

export interface IndexEntry {
  offset: number;
  position: number;
}

export class OffsetIndex {
  private entries: Buffer;
  private entryCount: number;
  private readonly file: CachedFile;
  private readonly scratch = Buffer.alloc(ENTRY_BYTES);

  private constructor(
    readonly path: string,
    readonly baseOffset: number,
    file: CachedFile,
    entries: Buffer,
    entryCount: number,
  ) {
    this.file = file;
    this.entries = entries;
    this.entryCount = entryCount;
  }

  /** Opens (or creates) the index file and loads its whole entries into memory. */
  static open(path: string, baseOffset: number, files: FileCache = FileCache.unbounded()): OffsetIndex {
    const { file, entries, entryCount } = loadEntriesFile(path, files, ENTRY_BYTES, 64);
    return new OffsetIndex(path, baseOffset, file, entries, entryCount);
  }

  get count(): number {
    return this.entryCount;
  }

  get sizeBytes(): number {
    return this.entryCount * ENTRY_BYTES;
  }

  entryAt(index: number): IndexEntry {
    const at = index * ENTRY_BYTES;
    return {
      offset: this.baseOffset + this.entries.readUInt32BE(at),
      position: this.entries.readUInt32BE(at + 4),
    };
  }

  lastEntry(): IndexEntry | undefined {
    return this.entryCount === 0 ? undefined : this.entryAt(this.entryCount - 1);
  }

  /**
   * Adds an entry. Offsets and positions must strictly increase: anything else means
   * the log and its index disagree, and continuing would serve wrong data.
   */
  append(offset: number, position: number): void {
    const relativeOffset = offset - this.baseOffset;
    assert(relativeOffset >= 0 && relativeOffset <= 0xffffffff, () =>
      `index ${this.path}: offset ${offset} is outside the segment starting at ${this.baseOffset}`);
    assert(position >= 0 && position <= 0xffffffff, () => `index ${this.path}: position ${position} out of range`);
    const last = this.lastEntry();
    assert(last === undefined || (offset > last.offset && position > last.position), () =>
      `index ${this.path}: entry (offset ${offset}, position ${position}) does not follow ` +
      `(offset ${last?.offset}, position ${last?.position})`);
    if ((this.entryCount + 1) * ENTRY_BYTES > this.entries.length) {
      const grown = Buffer.alloc(this.entries.length * 2);
      this.entries.copy(grown, 0, 0, this.entryCount * ENTRY_BYTES);
      this.entries = grown;
    }
    const at = this.entryCount * ENTRY_BYTES;
    this.entries.writeUInt32BE(relativeOffset, at);
    this.entries.writeUInt32BE(position, at + 4);
    this.entries.copy(this.scratch, 0, at, at + ENTRY_BYTES);
    fs.writeSync(this.file.fd(), this.scratch, 0, ENTRY_BYTES, at);
    this.entryCount += 1;
  }

  /** The last entry whose offset is at or below `offset`; the segment start when none is. */
  lookup(offset: number): IndexEntry {
    const target = offset - this.baseOffset;
    let low = 0;
    let high = this.entryCount - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.entries.readUInt32BE(middle * ENTRY_BYTES) <= target) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? { offset: this.baseOffset, position: 0 } : this.entryAt(found);
  }

  /** Removes every entry for offsets at or above `offset` (the log is being truncated there). */
  truncateTo(offset: number): void {
    let keep = this.entryCount;
    while (keep > 0 && this.entryAt(keep - 1).offset >= offset) keep -= 1;
    this.truncateToCount(keep);
  }

  reset(): void {
    this.truncateToCount(0);
  }

  /**
   * True when entries strictly increase and every position lies inside a log of
   * `logSizeBytes`. Cheap enough to run on every open.
   */
  isConsistentWith(logSizeBytes: number): boolean {
    let previousOffset = -1;
    let previousPosition = -1;
    for (let i = 0; i < this.entryCount; i++) {
      const relativeOffset = this.entries.readUInt32BE(i * ENTRY_BYTES);
      const position = this.entries.readUInt32BE(i * ENTRY_BYTES + 4);
      if (relativeOffset <= previousOffset && i > 0) return false;
      if (position <= previousPosition || position >= logSizeBytes) return false;
      previousOffset = relativeOffset;
      previousPosition = position;
    }
    return true;
  }

  flush(): void {
    fs.fsyncSync(this.file.fd());
  }

  close(): void {
    this.file.close();
  }

  private truncateToCount(count: number): void {
    this.entryCount = count;
    fs.ftruncateSync(this.file.fd(), count * ENTRY_BYTES);
  }
}
