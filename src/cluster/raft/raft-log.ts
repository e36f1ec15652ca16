/**
 * The Raft core's in-memory view of the metadata log: the latest snapshot (covering
 * every offset below logStartOffset) and the entries from logStartOffset to
 * logEndOffset, contiguous. The runtime keeps the durable copy; the core mirrors each
 * change it asks for (append, truncateTo, installSnapshot, deleteBefore) here in the
 * same step, so both always agree once the effects are durable.
 *
 * Not thread-safe and needs not be: one core owns one log, and every call runs to
 * completion (the core is a pure state machine driven by its runtime).
 */
import { assert } from '../../util/assert.js';
import type { LogEntry, Snapshot, SnapshotId } from './types.js';

/** KIP-320's OffsetsForLeaderEpoch answer: the largest epoch <= the one asked for, and where it ends. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export class RaftLog {
  #snapshot: Snapshot | null;
  #entries: LogEntry[];
  #logStartOffset: number;

  constructor(entries: readonly LogEntry[], snapshot: Snapshot | null) {
    this.#snapshot = snapshot;
    this.#logStartOffset = snapshot === null ? 0 : snapshot.id.endOffset;
    this.#entries = [];
    for (const entry of entries) this.append(entry);
  }

  get logStartOffset(): number {
    return this.#logStartOffset;
  }

  get logEndOffset(): number {
    return this.#logStartOffset + this.#entries.length;
  }

  get snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  /** The epoch of the last entry, or of the snapshot's last entry, or 0 for an empty log (epochs start at 1). */
  get lastEpoch(): number {
    const count = this.#entries.length;
    if (count > 0) return this.#entries[count - 1].epoch;
    return this.#snapshot === null ? 0 : this.#snapshot.id.epoch;
  }

  /** The entry at `offset`, which must lie in [logStartOffset, logEndOffset). */
  entry(offset: number): LogEntry {
    assert(offset >= this.#logStartOffset && offset < this.logEndOffset,
      () => `raft log: offset ${offset} outside [${this.#logStartOffset}, ${this.logEndOffset})`);
    return this.#entries[offset - this.#logStartOffset];
  }

  /**
   * The epoch of the entry at `offset`; offset logStartOffset - 1 answers from the
   * snapshot id, since the snapshot records the epoch of its last entry for exactly this.
   * Null when the log no longer knows (below the snapshot's last entry).
   */
  epochAt(offset: number): number | null {
    if (offset >= this.#logStartOffset && offset < this.logEndOffset) return this.#entries[offset - this.#logStartOffset].epoch;
    if (offset === this.#logStartOffset - 1 && this.#snapshot !== null) return this.#snapshot.id.epoch;
    if (offset === -1) return 0;
    return null;
  }

  /** Entries in [startOffset, endOffset), at most countMax of them. */
  slice(startOffset: number, endOffset: number, countMax: number): LogEntry[] {
    assert(startOffset >= this.#logStartOffset, () => `raft log: read from ${startOffset} below logStartOffset ${this.#logStartOffset}`);
    const end = Math.min(endOffset, this.logEndOffset, startOffset + countMax);
    if (end <= startOffset) return [];
    return this.#entries.slice(startOffset - this.#logStartOffset, end - this.#logStartOffset);
  }

  /**
   * KIP-320/KIP-595 divergence lookup: the largest epoch <= `epoch` this log holds and
   * the offset where it ends (the start of the next epoch, or the log end). Null when
   * that boundary lies inside the snapshot, where the epochs are no longer known (the
   * follower must then fetch the snapshot).
   */
  endOffsetForEpoch(epoch: number): EpochEndOffset | null {
    const lastEpoch = this.lastEpoch;
    if (epoch >= lastEpoch) return { epoch: lastEpoch, endOffset: this.logEndOffset };
    // Walk back over the epochs newer than the one asked for; entries are in epoch order.
    for (let index = this.#entries.length - 1; index >= 0; index--) {
      const entry = this.#entries[index];
      if (entry.epoch <= epoch) return { epoch: entry.epoch, endOffset: entry.offset + 1 };
    }
    if (this.#snapshot === null) return { epoch: 0, endOffset: 0 };
    if (this.#snapshot.id.epoch <= epoch) return { epoch: this.#snapshot.id.epoch, endOffset: this.#logStartOffset };
    return null;
  }

  /** Appends one entry; offsets must be contiguous and epochs must never go back (Raft's log order). */
  append(entry: LogEntry): void {
    assert(entry.offset === this.logEndOffset,
      () => `raft log: append at offset ${entry.offset}, expected logEndOffset ${this.logEndOffset}`);
    assert(entry.epoch >= this.lastEpoch,
      () => `raft log: entry ${entry.offset} has epoch ${entry.epoch} below the last epoch ${this.lastEpoch}`);
    this.#entries.push(entry);
  }

  /** Removes every entry at or above `offset` (a follower's divergent suffix). */
  truncateTo(offset: number): void {
    assert(offset >= this.#logStartOffset && offset <= this.logEndOffset,
      () => `raft log: truncate to ${offset} outside [${this.#logStartOffset}, ${this.logEndOffset}]`);
    this.#entries.length = offset - this.#logStartOffset;
  }

  /** Replaces the whole log by a snapshot (a follower behind the leader's logStartOffset). */
  installSnapshot(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    this.#logStartOffset = snapshot.id.endOffset;
    this.#entries = [];
  }

  /**
   * Keeps a snapshot of the log's own prefix and drops the entries it covers. The
   * snapshot must end inside the log on an entry of the same epoch, or it describes
   * some other history.
   */
  takeSnapshot(snapshot: Snapshot): void {
    const id: SnapshotId = snapshot.id;
    assert(id.endOffset > this.#logStartOffset && id.endOffset <= this.logEndOffset,
      () => `raft log: snapshot end ${id.endOffset} outside (${this.#logStartOffset}, ${this.logEndOffset}]`);
    const epoch = this.epochAt(id.endOffset - 1);
    assert(epoch === id.epoch, () => `raft log: snapshot at ${id.endOffset} has epoch ${id.epoch}, the log has ${epoch}`);
    this.#entries.splice(0, id.endOffset - this.#logStartOffset);
    this.#snapshot = snapshot;
    this.#logStartOffset = id.endOffset;
  }
}
