/**
 * LeaderEpochCache: which leader epoch wrote which part of the log, kept in the
 * partition's `leader-epoch-checkpoint` file (Kafka's text format: a version line "0",
 * an entry count line, then one "epoch startOffset" line per entry).
 *
 * A new entry is written (fsync, rename) before the first batch of a new epoch is
 * appended, so after a crash the file never misses an epoch that is in the log. KIP-101
 * and KIP-279 use it: a follower asks the leader for the end offset of its latest epoch
 * and truncates to it, so no divergent suffix survives a leader change. Recovery uses it
 * to reject a batch whose (unchecksummed) epoch field was damaged.
 */
import fs from 'node:fs';
import { assert } from '../util/assert.js';
import { writeFileDurably } from '../util/durable-file.js';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[];

  private constructor(readonly path: string, entries: EpochEntry[]) {
    this.entries = entries;
  }

  /** Loads the checkpoint; a missing or unreadable file yields an empty cache (rebuilt by recovery). */
  static open(path: string): LeaderEpochCache {
    return new LeaderEpochCache(path, readCheckpoint(path) ?? []);
  }

  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  latestEpoch(): number {
    return this.entries.length === 0 ? -1 : this.entries[this.entries.length - 1].epoch;
  }

  /** The epoch whose range holds `offset`, or -1 when the offset precedes every entry. */
  epochForOffset(offset: number): number {
    let epoch = -1;
    for (const entry of this.entries) {
      if (entry.startOffset > offset) break;
      epoch = entry.epoch;
    }
    return epoch;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Epochs only grow; an entry for an epoch
   * already known is a no-op.
   */
  assign(epoch: number, startOffset: number): void {
    const latest = this.entries[this.entries.length - 1];
    if (latest !== undefined && epoch <= latest.epoch) {
      assert(epoch === latest.epoch, () => `${this.path}: epoch ${epoch} goes back from ${latest.epoch}`);
      return;
    }
    assert(latest === undefined || startOffset >= latest.startOffset, () =>
      `${this.path}: epoch ${epoch} starts at ${startOffset}, before epoch ${latest?.epoch} at ${latest?.startOffset}`);
    // An earlier epoch that never wrote a batch is replaced, as in Kafka.
    const entries = latest !== undefined && latest.startOffset === startOffset ? this.entries.slice(0, -1) : this.entries.slice();
    entries.push({ epoch, startOffset });
    this.persist(entries);
  }

  /**
   * KIP-101: the end offset of `epoch` is the start offset of the first later epoch,
   * or logEndOffset when `epoch` is the latest. For an unknown epoch the answer is the
   * largest epoch below it and its end, so a follower truncates conservatively.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    let found: EpochEntry | undefined;
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry.epoch > epoch) {
        return found === undefined ? { epoch: -1, endOffset: -1 } : { epoch: found.epoch, endOffset: entry.startOffset };
      }
      found = entry;
    }
    return found === undefined ? { epoch: -1, endOffset: -1 } : { epoch: found.epoch, endOffset: logEndOffset };
  }

  /** Forgets epochs that start at or after `offset` (the log was truncated there). */
  truncateFromEnd(offset: number): void {
    const kept = this.entries.filter((entry) => entry.startOffset < offset);
    if (kept.length !== this.entries.length) this.persist(kept);
  }

  /** The log now starts at `logStartOffset`: the first kept epoch is moved up to it. */
  truncateFromStart(logStartOffset: number): void {
    let firstKept = 0;
    while (firstKept + 1 < this.entries.length && this.entries[firstKept + 1].startOffset <= logStartOffset) firstKept += 1;
    const kept = this.entries.slice(firstKept);
    if (kept.length > 0 && kept[0].startOffset < logStartOffset) kept[0] = { epoch: kept[0].epoch, startOffset: logStartOffset };
    const isChanged = kept.length !== this.entries.length ||
      (kept.length > 0 && kept[0].startOffset !== this.entries[firstKept].startOffset);
    if (isChanged) this.persist(kept);
  }

  /** Replaces the whole cache (after recovery rebuilt it from the log). */
  replace(entries: EpochEntry[]): void {
    this.persist(entries.slice());
  }

  /**
   * Writes `entries` and only then makes them the cache's: a write that fails (a full
   * disk) leaves memory and file alike, so no epoch is ever known here but missing there.
   */
  private persist(entries: EpochEntry[]): void {
    const lines = ['0', String(entries.length), ...entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    writeFileDurably(this.path, lines.join('\n') + '\n');
    this.entries = entries;
  }
}

function readCheckpoint(path: string): EpochEntry[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.trim().split('\n');
  if (lines[0] !== '0') return undefined;
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || lines.length !== count + 2) return undefined;
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const [epoch, startOffset] = line.split(' ').map(Number);
    if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset)) return undefined;
    entries.push({ epoch, startOffset });
  }
  return entries;
}
