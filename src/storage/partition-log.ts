/**
 * PartitionLog: the append-only log of one partition, a directory of segments
 * (`<20-digit baseOffset>.log/.index/.timeindex`), a `leader-epoch-checkpoint` and a
 * `partition.checkpoint` (recovery point, high watermark, clean-shutdown flag). Like
 * Kafka's UnifiedLog it holds the offsets and the leader epochs and delegates the rest:
 * loading and recovery to log-loader.ts, the segments to LocalLog, fsync to
 * LogFlusher, deletion of old segments to retention.ts.
 *
 * Invariant, asserted on every change: logStartOffset <= highWatermark <= logEndOffset.
 * - appendAsLeader assigns offsets and stamps the leader epoch into a batch (both are
 *   outside the CRC); appendAsFollower appends a leader's batches byte for byte.
 * - The high watermark is set by whoever knows the replicas (the broker); readers stop
 *   at it. logStartOffset moves forward only, by retention.
 *
 * Concurrency: one instance per partition, used from the event loop only.
 */
import type { FileCache } from './file-cache.js';
import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../util/assert.js';
import { isDiskFullError } from '../util/disk-full.js';
import { offsetOutOfRange, RunnelError } from '../errors.js';
import { checkFollowerBatches } from './follower-batches.js';
import { readBatchHeader, setBaseOffset, setLeaderEpoch, type BatchHeader } from '../record/header.js';
import { readCleanerCheckpoint, writeCleanerCheckpoint } from './cleaner/cleaner-checkpoint.js';
import { LeaderEpochCache } from './leader-epoch-checkpoint.js';
import { LocalLog } from './local-log.js';
import type { LogConfig } from './log-config.js';
import { corruptLogError, damageWarning, FoundDamage, LogDamageError, type StorageWarning } from './log-damage.js';
import { LogFlusher } from './log-flusher.js';
import { loadLog, type RecoveryReport } from './log-loader.js';
import { KeyIndex, KeyIndexBudget, keyIndexFor } from './key-index.js';
import { checkpointText, writeCheckpoint, type PartitionCheckpoint } from './partition-checkpoint.js';
import { ProducerStateBudget, ProducerStateManager } from './producer-state.js';
import { deleteRetainedSegments } from './retention.js';
import type { LogSegment } from './segment.js';

const EPOCH_FILE = 'leader-epoch-checkpoint';

export interface OpenOptions {
  /** The persisted logStartOffset (kept by the caller); the first segment may start lower. */
  logStartOffset?: number;
  nowMs?: number;
  /** Told how long each group-commit fsync took (for metrics). */
  onFsync?: (seconds: number) => void;
  /** The node's open-file LRU (file-cache.ts); unbounded when not given. */
  files?: FileCache;
  /** Background failures (a rolled segment's fsync or checkpoint on a full disk) are reported here. */
  onError?: (error: unknown, context: string) => void;
  /** Told what recovery truncated and which damaged batches reads found (one warn line each). */
  onWarning?: (warning: StorageWarning) => void;
  /** The node's bound on remembered producers (producer-state.ts); a private one when not given. */
  producerStates?: ProducerStateBudget;
  /** The node's memory for key indexes of compacted logs (key-table.ts); unbounded when not given. */
  keyIndexes?: KeyIndexBudget;
}

export class PartitionLog {
  logStartOffset: number;
  highWatermark: number;
  readonly recovery: RecoveryReport;
  /** The checkpoint file's content as last written with an fsync. */
  private lastSyncedCheckpoint: string | undefined;
  /** What reads found damaged since the log was opened. */
  private readonly damage = new FoundDamage();
  private readonly onWarning: ((warning: StorageWarning) => void) | undefined;
  private readonly local: LocalLog;
  private readonly flusher: LogFlusher;
  /** Producer ids, epochs and sequences of recent batches: duplicates of a retry are found here. */
  readonly producers: ProducerStateManager;
  /** Compacted logs only: the latest offset of every key (key-index.ts), for reads by key. */
  keyIndex: KeyIndex | undefined;
  private readonly keyIndexBudget: KeyIndexBudget;

  private constructor(
    readonly directory: string,
    config: LogConfig,
    readonly epochCache: LeaderEpochCache,
    options: OpenOptions,
    nowMs: number,
  ) {
    const loaded = loadLog(directory, config, epochCache, options.logStartOffset ?? 0, nowMs, options.files, options.onWarning);
    this.onWarning = options.onWarning;
    this.local = new LocalLog(directory, config, loaded.segments, options.files);
    this.local.allowsGaps = loaded.allowsGaps;
    this.flusher = new LogFlusher(this.local, loaded.recoveryPoint, nowMs, options.onFsync, () => this.writeCheckpoint(false), options.onError);
    this.recovery = loaded.recovery;
    this.logStartOffset = loaded.logStartOffset;
    this.highWatermark = loaded.highWatermark;
    this.producers = new ProducerStateManager(this, options.producerStates ?? new ProducerStateBudget(Number.MAX_SAFE_INTEGER, 24 * 3600_000));
    this.keyIndexBudget = options.keyIndexes ?? KeyIndexBudget.unbounded();
    this.keyIndex = keyIndexFor(config, undefined, () => KeyIndex.build(this.local, this, this.keyIndexBudget));
    // A crash may have lost a tail a snapshot already covers.
    if (!loaded.recovery.isCleanShutdown) this.producers.onTruncated(this.logEndOffset);
  }

  static open(directory: string, config: LogConfig, options: OpenOptions = {}): PartitionLog {
    const nowMs = options.nowMs ?? Date.now();
    fs.mkdirSync(directory, { recursive: true });
    const log = new PartitionLog(directory, config, LeaderEpochCache.open(path.join(directory, EPOCH_FILE)), options, nowMs);
    log.markOpen();
    log.afterChange();
    return log;
  }

  get logEndOffset(): number { return this.local.logEndOffset; }
  /** Every offset below this is fsynced. */
  get recoveryPoint(): number { return this.flusher.recoveryPoint; }
  get activeSegment(): LogSegment { return this.local.activeSegment; }
  get segmentCount(): number { return this.local.segments.length; }
  get sizeBytes(): number { return this.local.sizeBytes; }
  get segmentBaseOffsets(): number[] { return this.local.segments.map((segment) => segment.baseOffset); }
  /** Messages appended but not yet fsynced. */
  get unflushedMessages(): number { return this.logEndOffset - this.recoveryPoint; }
  get logConfig(): LogConfig { return this.local.config; }

  firstOffsetSince(timestampMs: number): number {
    return this.local.firstOffsetSince(timestampMs);
  }

  updateConfig(config: LogConfig): void {
    this.local.config = config;
    this.keyIndex = keyIndexFor(config, this.keyIndex, () => KeyIndex.build(this.local, this, this.keyIndexBudget));
  }

  /** Appends a batch built by the broker: it gets the next offsets and `leaderEpoch`. Returns the header as appended. */
  appendAsLeader(batch: Buffer, leaderEpoch: number, nowMs = Date.now()): BatchHeader {
    this.refuseAppendIfDamaged();
    const baseOffset = this.logEndOffset;
    setBaseOffset(batch, baseOffset);
    setLeaderEpoch(batch, leaderEpoch);
    const header = readBatchHeader(batch, 0);
    this.appendBatch(batch, header, nowMs);
    return header;
  }

  /**
   * Appends a leader's batches byte for byte (one buffer); nothing is written unless all
   * are sound, each starts at or after the end of the one before (a cleaned leader log
   * has offset gaps, as in Kafka) and no leader epoch goes back.
   */
  appendAsFollower(batches: Buffer, nowMs = Date.now()): BatchHeader[] {
    this.refuseAppendIfDamaged();
    const { headers, hasGaps } = checkFollowerBatches(batches, this.logEndOffset, this.epochCache.latestEpoch());
    // Recovery must know offsets may skip before the first gap is on disk: the cleaner
    // checkpoint's presence says so (nothing here is cleaned yet: it starts at logStartOffset).
    if (hasGaps && !this.local.allowsGaps) {
      writeCleanerCheckpoint(this.directory, this.logStartOffset);
      this.local.allowGaps();
    }
    let position = 0;
    for (const header of headers) {
      this.appendBatch(batches.subarray(position, position + header.sizeBytes), header, nowMs);
      position += header.sizeBytes;
    }
    return headers;
  }

  private appendBatch(batch: Buffer, header: BatchHeader, nowMs: number): void {
    assert(!this.local.isClosed, () => `log ${this.directory} is closed`);
    assert(this.local.allowsGaps ? header.baseOffset >= this.logEndOffset : header.baseOffset === this.logEndOffset, () =>
      `log ${this.directory}: batch offset ${header.baseOffset} does not follow logEndOffset ${this.logEndOffset}`);
    if (this.local.shouldRoll(header, nowMs)) this.roll(nowMs);
    this.epochCache.assign(header.partitionLeaderEpoch, header.baseOffset);
    this.local.append(batch, header);
    this.keyIndex?.onAppend(batch, header);
    this.producers.onAppend(header, nowMs);
  }

  /** Starts a new active segment at logEndOffset (and a producer-state snapshot there); the old one is fsynced in the background. */
  roll(nowMs = Date.now()): void {
    this.producers.writeSnapshot(nowMs);
    const { rolled, next } = this.local.roll(nowMs);
    this.flusher.flushRolledSegment(rolled, next);
  }

  updateHighWatermark(offset: number): void {
    const next = Math.min(Math.max(offset, this.logStartOffset), this.logEndOffset);
    this.highWatermark = next;
    this.afterChange();
  }

  /**
   * Reads whole batches from the one holding `startOffset`, up to maxBytes (the first
   * batch whole in any case), never past `maxOffset` (the high watermark for
   * consumers, the log end for followers). With `maxRecords`, stops after the batch
   * holding the maxRecords-th record, so a reader that wants 500 records does not read
   * megabytes of batches it will not serve. Null when nothing is there yet.
   */
  read(startOffset: number, maxBytes: number, maxOffset = this.highWatermark, maxRecords?: number): Buffer | null {
    if (startOffset < this.logStartOffset || startOffset > this.logEndOffset) {
      throw offsetOutOfRange(startOffset, this.logStartOffset, this.highWatermark);
    }
    if (startOffset >= maxOffset) return null;
    const lastWanted = maxRecords === undefined ? maxOffset - 1 : Math.min(maxOffset - 1, startOffset + maxRecords - 1);
    try {
      return this.local.read(startOffset, maxBytes, maxOffset, lastWanted);
    } catch (error) {
      if (error instanceof LogDamageError) throw this.onDamagedRead(error);
      throw error;
    }
  }

  /**
   * A read found a damaged batch (an I/O fault: bit rot, an overwritten file). It is
   * never served; this log asks for a full recovery scan from the damaged segment at the
   * next start (its checkpoint is no longer clean, even after a clean stop), reports the
   * damage once, and answers CORRUPT_LOG to this read and every one that meets it.
   */
  private onDamagedRead(damage: LogDamageError): RunnelError {
    if (this.damage.add(damage)) {
      try {
        if (!this.local.isClosed) this.writeCheckpoint(false);
      } catch {
        // A full or failing disk: the periodic checkpoint and close() write the mark again.
      }
      this.onWarning?.(damageWarning(damage, this.damage.recoverFrom ?? damage.segmentBaseOffset));
    }
    return corruptLogError(path.basename(this.directory), damage);
  }

  /** Distinct damaged batches reads have found since the log was opened (a metric). */
  get damagedBatchesFound(): number { return this.damage.count; }
  /** True once a read found damage in this log (until the next start recovers it). */
  get isDamaged(): boolean { return this.damage.recoverFrom !== undefined; }
  /** The segments, for the cleaner (cleaner/log-cleaner.ts), which swaps cleaned ones in. */
  get localLog(): LocalLog { return this.local; }

  /** The next start truncates at the damage: an append acknowledged now would be lost then. */
  private refuseAppendIfDamaged(): void {
    if (this.damage.recoverFrom === undefined) return;
    throw new RunnelError('CORRUPT_LOG', `log ${path.basename(this.directory)}: a stored batch is damaged (see the node's log); ` +
      `appends are refused until the node restarts and recovers this partition from offset ${this.damage.recoverFrom}`);
  }

  /**
   * The first offset whose record timestamp is at or after `timestampMs`, below the
   * high watermark (Kafka's ListOffsets by time); null when there is none.
   */
  offsetForTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null {
    return this.local.offsetForTimestamp(timestampMs, this.logStartOffset, this.highWatermark);
  }

  /** Removes every batch from the one holding `offset` on (a follower truncating to its leader's epoch boundary). */
  truncateTo(offset: number): void {
    if (offset >= this.logEndOffset) return;
    assert(offset >= this.logStartOffset, () => `log ${this.directory}: truncation to ${offset} below logStartOffset ${this.logStartOffset}`);
    this.local.truncateTo(offset);
    // The cleaner resumes at the log end, not past records that are gone (Kafka's maybeTruncateCheckpoint).
    if (this.local.allowsGaps && readCleanerCheckpoint(this.directory) > this.logEndOffset) writeCleanerCheckpoint(this.directory, this.logEndOffset);
    this.epochCache.truncateFromEnd(this.logEndOffset);
    this.flusher.onTruncated(this.logEndOffset);
    this.producers.onTruncated(this.logEndOffset);
    this.highWatermark = Math.min(this.highWatermark, this.logEndOffset);
    this.writeCheckpoint(false);
    this.afterChange();
  }

  /**
   * Takes back appends no reader has seen, from `offset` on (a produce whose request
   * fails before its answer: the records must not become visible). Never needs disk
   * space, so it works on a full disk: the checkpoint (recovery point and high
   * watermark, both at or below `offset`) is unchanged, and an epoch entry that
   * cannot be rewritten now is one past the log end, which a later append reuses.
   */
  undoAppendsFrom(offset: number): void {
    assert(offset >= this.highWatermark, () => `log ${this.directory}: cannot undo appends from ${offset}, below the high watermark ${this.highWatermark}`);
    if (offset >= this.logEndOffset) return;
    this.local.truncateTo(offset);
    this.flusher.onTruncated(this.logEndOffset);
    this.producers.onTruncated(this.logEndOffset);
    try {
      this.epochCache.truncateFromEnd(this.logEndOffset);
    } catch (error) {
      if (!isDiskFullError(error)) throw error;
    }
    this.afterChange();
  }

  /**
   * Empties the log and restarts it at `offset` (Kafka's truncateFullyAndStartAt): a
   * follower so far behind that its leader's retention deleted what it needs next
   * starts over at the leader's logStartOffset. Every offset below `offset` is gone from
   * this replica, as it is from the leader.
   */
  truncateFullyAndStartAt(offset: number, nowMs = Date.now()): void {
    assert(!this.local.isClosed, () => `log ${this.directory} is closed`);
    assert(offset >= 0, () => `log ${this.directory}: cannot start at ${offset}`);
    this.local.truncateFullyAndStartAt(offset, nowMs);
    this.epochCache.replace([]);
    this.producers.onRestarted();
    this.logStartOffset = offset;
    this.flusher.onRestartedAt(offset);
    this.highWatermark = offset;
    this.writeCheckpoint(false);
    this.afterChange();
  }

  /**
   * Retention: deletes whole segments, oldest first, whose newest record is older than
   * retention.ms, then while the log minus its oldest segment is still at least
   * retention.bytes (see retention.ts). Returns the segments deleted.
   */
  deleteRetainedSegments(nowMs = Date.now()): number {
    const deleted = deleteRetainedSegments(this.local, this.highWatermark, nowMs, (rollMs) => this.roll(rollMs));
    if (deleted > 0) {
      this.logStartOffset = Math.max(this.logStartOffset, this.local.segments[0].baseOffset);
      this.epochCache.truncateFromStart(this.logStartOffset);
      this.afterChange();
    }
    return deleted;
  }

  /** True when flush.messages or flush.ms asks for an fsync now. */
  isFlushDue(nowMs = Date.now()): boolean {
    return this.flusher.isFlushDue(this.local.config, nowMs);
  }

  /** Resolves once every offset below `offset` is fsynced (group commit; see LogFlusher). */
  flushUpTo(offset = this.logEndOffset): Promise<void> {
    return this.flusher.flushUpTo(offset);
  }

  /** Persists the recovery point and high watermark durably; an unchanged one is not rewritten (idle partitions cost no fsync). */
  writeCheckpoint(isCleanShutdown: boolean): void {
    // A log with damage found on read is never marked clean: the next open rescans from the damaged segment.
    const damagedFrom = this.damage.recoverFrom;
    const checkpoint: PartitionCheckpoint = {
      recoveryPoint: damagedFrom === undefined ? this.recoveryPoint : Math.min(this.recoveryPoint, damagedFrom),
      highWatermark: this.highWatermark,
      isCleanShutdown: isCleanShutdown && damagedFrom === undefined,
    };
    const text = checkpointText(checkpoint);
    if (text === this.lastSyncedCheckpoint) return;
    writeCheckpoint(this.directory, checkpoint);
    this.lastSyncedCheckpoint = text;
  }

  /**
   * At open the partition stops counting as cleanly shut down, without an fsync: a killed
   * process leaves the page cache behind, and the next durable checkpoint follows soon.
   */
  private markOpen(): void {
    writeCheckpoint(this.directory, { recoveryPoint: this.recoveryPoint, highWatermark: this.highWatermark, isCleanShutdown: false }, { isSynced: false });
    this.lastSyncedCheckpoint = undefined;
  }

  /**
   * Clean shutdown: fsync everything, record a clean checkpoint (so the next open
   * scans nothing) and close the files.
   */
  async close(): Promise<void> {
    if (this.local.isClosed) return;
    await this.flusher.rolledSegmentsFlushed();
    await this.flushUpTo(this.logEndOffset);
    this.producers.writeSnapshot(Date.now());
    this.producers.unload();
    this.keyIndex?.release();
    this.local.close();
    this.flusher.recoveryPoint = this.logEndOffset;
    this.writeCheckpoint(true);
  }

  /** Closes without flushing or marking clean: what a crash leaves, for tests. */
  closeAbruptly(): void {
    this.producers.unload();
    this.keyIndex?.release();
    this.local.closeAbruptly();
    this.flusher.rejectAll(new Error('log closed'));
  }

  /** Removes the partition's directory and everything in it. */
  delete(): void {
    this.closeAbruptly();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }

  /** Asserts the invariant, and brings the key index up to the log's offsets. */
  private afterChange(): void {
    this.keyIndex?.follow(this.local, this);
    assert(this.logStartOffset <= this.highWatermark && this.highWatermark <= this.logEndOffset, () =>
      `log ${this.directory}: logStartOffset ${this.logStartOffset} <= highWatermark ${this.highWatermark} ` +
      `<= logEndOffset ${this.logEndOffset} does not hold`);
  }
}
