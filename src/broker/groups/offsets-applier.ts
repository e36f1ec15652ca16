/**
 * OffsetsApplier: makes this node's SQLite committed_offsets (and the group
 * coordinator's in-memory view) follow one partition of __consumer_offsets, in log
 * order, from the position it last applied (offsets_applied) up to an offset the
 * caller chooses: the high watermark on every tick (only committed records: a follower
 * never applies a record its leader could still lose), the log end offset right before
 * this node starts coordinating (Kafka's coordinator loads its partition to the log end
 * on election, so it has every commit the previous coordinator acknowledged).
 *
 * Applying is idempotent and ordered: an offset record upserts, a tombstone deletes, a
 * group tombstone deletes a group with no live members. Replaying a record already
 * applied writes the same row again. One call is one SQLite transaction, position
 * included: a crash leaves the position and the rows in step.
 *
 * A record for a topic this node does not know yet (its metadata lags the offsets
 * partition), or knows under another id, holds the partition back for up to
 * topicWaitMs so the metadata can catch up; after that the record is skipped: its
 * topic was deleted (or re-created) and its offsets went with it.
 */
import type { AppliedPosition, CommittedOffset, GroupStore } from '../../meta/group-store.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { decodeRecords } from '../../record/decode.js';
import { readBatchHeader } from '../../record/header.js';
import { decodeOffsetsRecord } from './offsets-records.js';

/** What the applier changes besides SQLite: the group coordinator's in-memory view. */
export interface AppliedOffsetsSink {
  /** Stores (null: deletes) one committed offset of a group, creating the group if it is new here. */
  applyOffset(groupId: string, topic: string, partition: number, committed: CommittedOffset | null): void;
  /** The group was deleted or expired by its coordinator. */
  applyGroupDeleted(groupId: string): void;
}

export interface OffsetsApplierOptions {
  store: GroupStore;
  sink: AppliedOffsetsSink;
  /** The id of a topic this node knows, else undefined. */
  topicIdOf: (topic: string) => string | undefined;
  /** How long a record of an unknown topic holds its partition back. Default 10 000 ms. */
  topicWaitMs?: number;
  /** Bytes read from the log per step. Default 1 MiB. */
  readBytesMax?: number;
  nowMs?: () => number;
  onWarning?: (message: string) => void;
}

export interface ApplyResult {
  /** The next offset to apply. */
  appliedOffset: number;
  /** Records applied (or skipped as unknown) in this call. */
  recordCount: number;
  /** True when a record of an unknown topic stopped the call before upToOffset. */
  isHeldBack: boolean;
}

export class OffsetsApplier {
  private readonly topicWaitMs: number;
  private readonly readBytesMax: number;
  private readonly now: () => number;
  /** Per offsets partition: since when a record of an unknown topic has held it back. */
  private readonly heldSinceMs = new Map<number, { offset: number; sinceMs: number }>();
  /** Per offsets partition: the position as saved in SQLite. */
  private readonly positions = new Map<number, AppliedPosition>();

  constructor(private readonly options: OffsetsApplierOptions) {
    this.topicWaitMs = options.topicWaitMs ?? 10_000;
    this.readBytesMax = options.readBytesMax ?? 1024 * 1024;
    this.now = options.nowMs ?? Date.now;
  }

  /** The next offset to apply in this partition of the offsets topic (whose id is topicId). */
  position(partition: number, topicId: string, log: PartitionLog): number {
    const saved = this.saved(partition);
    // A re-created offsets topic starts over; so does a partition never applied.
    let position = saved === undefined || saved.topicId !== topicId ? log.logStartOffset : saved.appliedOffset;
    if (position > log.logEndOffset) {
      // The log was truncated below what was applied: this replica had records past the
      // high watermark when it led, and the new leader did not (KIP-101). Those commits
      // were never acknowledged; the rows they wrote stay until overwritten.
      this.options.onWarning?.(`__consumer_offsets-${partition}: applied up to ${position} but the log ends at ${log.logEndOffset} (truncated); applying from there`);
      position = log.logEndOffset;
    }
    // Retention removed records never applied (the node was away longer than retention.ms).
    return Math.max(position, log.logStartOffset);
  }

  /** The saved position, read from SQLite once and then kept (this applier is its only writer). */
  private saved(partition: number): AppliedPosition | undefined {
    let saved = this.positions.get(partition);
    if (saved === undefined) {
      saved = this.options.store.appliedPosition(partition);
      if (saved !== undefined) this.positions.set(partition, saved);
    }
    return saved;
  }

  /** Applies records of the partition from the saved position up to (not including) upToOffset. */
  apply(partition: number, topicId: string, log: PartitionLog, upToOffset: number): ApplyResult {
    const start = this.position(partition, topicId, log);
    const end = Math.min(upToOffset, log.logEndOffset);
    const saved = this.saved(partition);
    // The common tick: nothing new. No transaction, no write.
    if (start >= end && saved?.topicId === topicId && saved.appliedOffset === start) return { appliedOffset: start, recordCount: 0, isHeldBack: false };
    let next = start;
    let recordCount = 0;
    let isHeldBack = false;
    const { store, sink } = this.options;
    store.transaction(() => {
      while (next < end && !isHeldBack) {
        const batches = log.read(next, this.readBytesMax, end);
        if (batches === null) break;
        for (let at = 0; at < batches.length && !isHeldBack;) {
          const header = readBatchHeader(batches, at);
          if (!header.isControl) {
            for (const record of decodeRecords(batches, at)) {
              if (record.offset < next) continue; // The batch began before where we stand.
              if (!this.applyRecord(partition, record.offset, record.key, record.value, sink)) {
                isHeldBack = true;
                break;
              }
              recordCount += 1;
              next = record.offset + 1;
            }
          }
          if (!isHeldBack) next = Math.max(next, header.lastOffset + 1);
          at += header.sizeBytes;
        }
      }
      if (saved?.topicId !== topicId || saved.appliedOffset !== next) store.setAppliedPosition(partition, { topicId, appliedOffset: next });
    });
    this.positions.set(partition, { topicId, appliedOffset: next });
    return { appliedOffset: next, recordCount, isHeldBack };
  }

  /** False when the record must wait for this node's metadata (see the header). */
  private applyRecord(partition: number, offset: number, key: Buffer | null, value: Buffer | null, sink: AppliedOffsetsSink): boolean {
    const record = decodeOffsetsRecord(key, value);
    if (record === null) return true; // Not ours (a newer kind, or a stray record): skipped.
    if (record.kind === 'group') {
      sink.applyGroupDeleted(record.groupId);
      return true;
    }
    if (record.value === null) {
      sink.applyOffset(record.groupId, record.topic, record.partition, null);
      return true;
    }
    const localTopicId = this.options.topicIdOf(record.topic);
    const isKnown = localTopicId !== undefined && (record.value.topicId === undefined || record.value.topicId === localTopicId);
    if (!isKnown) {
      const nowMs = this.now();
      const held = this.heldSinceMs.get(partition);
      if (held === undefined || held.offset !== offset) {
        this.heldSinceMs.set(partition, { offset, sinceMs: nowMs });
        return false;
      }
      if (nowMs - held.sinceMs < this.topicWaitMs) return false;
      this.heldSinceMs.delete(partition);
      this.options.onWarning?.(`__consumer_offsets-${partition} offset ${offset}: skipped the commit of group '${record.groupId}' for ${record.topic}-${record.partition}: this node has no such topic (deleted or re-created since)`);
      return true;
    }
    this.heldSinceMs.delete(partition);
    const { offset: committedOffset, metadata, committedAtMs } = record.value;
    sink.applyOffset(record.groupId, record.topic, record.partition, { topic: record.topic, partition: record.partition, offset: committedOffset, metadata, committedAtMs });
    return true;
  }
}
