/**
 * PartitionLog: the append-only log of one partition, a directory of segments
 * (`<20-digit baseOffset>.log/.index/.timeindex`), a `leader-epoch-checkpoint` and a
 * `partition.checkpoint` (recovery point, high watermark, clean-shutdown flag).
 *
 * Invariant, asserted on every change: logStartOffset <= highWatermark <= logEndOffset.
 * - appendAsLeader assigns offsets and stamps the leader epoch into a batch (both are
 *   outside the CRC); appendAsFollower appends a leader's batches byte for byte.
 * - The high watermark is set by whoever knows the replicas (the broker); readers stop
 *   at it. logStartOffset moves forward only, by retention.
 * - Durability: a write(2) per batch survives a killed process; fsync follows
 *   flush.messages / flush.ms with group commit: one fsync covers every append made
 *   before it started, and appends continue while it runs.
 * - Recovery: a clean shutdown records it in partition.checkpoint and the next open
 *   trusts the files. Otherwise every segment from the recovery point (the offset below
 *   which everything was fsynced) is re-validated and truncated at the first bad batch.
 *
 * Concurrency: one instance per partition, used from the event loop only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../util/assert.js';
import { readJsonFile, writeFileDurably } from '../util/durable-file.js';
import { offsetOutOfRange } from '../errors.js';
import { LeaderEpochCache } from './leader-epoch-checkpoint.js';
import { LogSegment, type SegmentRecovery } from './segment.js';
import type { LogConfig } from './log-config.js';
import { decodeRecords } from '../record/decode.js';
import { readBatchHeader, setBaseOffset, setLeaderEpoch, type BatchHeader } from '../record/header.js';
import { validateBatch } from '../record/validate.js';

const CHECKPOINT_FILE = 'partition.checkpoint';
const EPOCH_FILE = 'leader-epoch-checkpoint';

interface PartitionCheckpoint {
  recoveryPoint: number;
  highWatermark: number;
  isCleanShutdown: boolean;
}

export interface OpenOptions {
  /** The persisted logStartOffset (kept by the caller); the first segment may start lower. */
  logStartOffset?: number;
  nowMs?: number;
  /** Told how long each group-commit fsync took (for metrics). */
  onFsync?: (seconds: number) => void;
}

export interface RecoveryReport {
  isCleanShutdown: boolean;
  recoveredSegments: number;
  truncatedBytes: number;
}

interface FlushWaiter {
  offset: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class PartitionLog {
  private segments: LogSegment[] = [];
  logStartOffset = 0;
  highWatermark = 0;
  /** Every offset below this is fsynced. */
  recoveryPoint = 0;
  readonly recovery: RecoveryReport;
  private flushWaiters: FlushWaiter[] = [];
  private onFsync: ((seconds: number) => void) | undefined;
  private isFlushing = false;
  private isFlushRequested = false;
  /** The log end when the running flush started: what it makes durable. */
  private flushTarget = 0;
  private lastFlushMs: number;
  private isClosed = false;
  private pendingSegmentFlushes = new Set<Promise<void>>();

  private constructor(
    readonly directory: string,
    private config: LogConfig,
    readonly epochCache: LeaderEpochCache,
    nowMs: number,
  ) {
    this.lastFlushMs = nowMs;
    this.recovery = { isCleanShutdown: false, recoveredSegments: 0, truncatedBytes: 0 };
  }

  static open(directory: string, config: LogConfig, options: OpenOptions = {}): PartitionLog {
    const nowMs = options.nowMs ?? Date.now();
    fs.mkdirSync(directory, { recursive: true });
    const log = new PartitionLog(directory, config, LeaderEpochCache.open(path.join(directory, EPOCH_FILE)), nowMs);
    log.onFsync = options.onFsync;
    log.load(options.logStartOffset ?? 0, nowMs);
    return log;
  }

  get logEndOffset(): number {
    return this.activeSegment.nextOffset;
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1];
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  get segmentBaseOffsets(): number[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  /** Messages appended but not yet fsynced. */
  get unflushedMessages(): number {
    return this.logEndOffset - this.recoveryPoint;
  }

  get logConfig(): LogConfig {
    return this.config;
  }

  updateConfig(config: LogConfig): void {
    this.config = config;
  }

  private load(persistedLogStartOffset: number, nowMs: number): void {
    const checkpoint = readCheckpoint(path.join(this.directory, CHECKPOINT_FILE));
    const baseOffsets = this.listSegmentFiles();
    const isClean = checkpoint?.isCleanShutdown === true;
    const recoveryPoint = isClean ? Number.MAX_SAFE_INTEGER : (checkpoint?.recoveryPoint ?? 0);
    this.recovery.isCleanShutdown = isClean;
    const isEpochPlausible = this.epochCache.isEmpty
      ? () => true
      : (epoch: number, baseOffset: number) => epoch === this.epochCache.epochForOffset(baseOffset);
    const options = { indexIntervalBytes: this.config.indexIntervalBytes };
    const rebuiltEpochs: SegmentRecovery['epochStarts'] = [];
    for (let i = 0; i < baseOffsets.length; i++) {
      const baseOffset = baseOffsets[i];
      const nextBase = baseOffsets[i + 1] ?? Number.MAX_SAFE_INTEGER;
      const mustRecover = nextBase > recoveryPoint;
      if (!mustRecover) {
        this.segments.push(LogSegment.open(this.directory, baseOffset, options));
        continue;
      }
      const segment = LogSegment.open(this.directory, baseOffset, options);
      const expectedBase = this.segments.length === 0 ? baseOffset : this.activeSegment.nextOffset;
      if (baseOffset !== expectedBase) {
        // A gap or overlap after a truncated segment: this and every later segment is garbage.
        for (const stale of baseOffsets.slice(i)) deleteSegmentFiles(this.directory, stale);
        segment.delete();
        break;
      }
      const result = segment.recover(isEpochPlausible);
      // open() may already have cut a torn tail; counting only this pass reported 0 bytes
      // lost and relied on the gap check above to drop the later segments, uncounted.
      const truncatedBytes = segment.truncatedBytesOnOpen + result.truncatedBytes;
      this.recovery.recoveredSegments += 1;
      this.recovery.truncatedBytes += truncatedBytes;
      rebuiltEpochs.push(...result.epochStarts);
      if (segment.isEmpty && this.segments.length > 0) {
        segment.delete();
      } else {
        this.segments.push(segment);
      }
      if (truncatedBytes > 0) {
        for (const stale of baseOffsets.slice(i + 1)) {
          this.recovery.truncatedBytes += fs.statSync(path.join(this.directory, segmentNameOf(stale))).size;
          deleteSegmentFiles(this.directory, stale);
        }
        break;
      }
    }
    if (this.segments.length === 0) {
      this.segments.push(LogSegment.create(this.directory, persistedLogStartOffset, options, nowMs));
    }
    this.rebuildEpochCacheIfNeeded(rebuiltEpochs);
    this.logStartOffset = Math.min(Math.max(persistedLogStartOffset, this.segments[0].baseOffset), this.logEndOffset);
    if (!isClean) {
      // What recovery validated is made durable before it counts as recovered.
      // That is every segment holding offsets at or past the old recovery point (the ones
      // recovered), including one that starts below it: its tail may be in the page cache only.
      for (const segment of this.segments) if (segment.nextOffset > (checkpoint?.recoveryPoint ?? 0) || segment === this.activeSegment) segment.flushSync();
    }
    this.recoveryPoint = this.logEndOffset;
    const checkpointHighWatermark = checkpoint?.highWatermark ?? 0;
    this.highWatermark = Math.min(Math.max(checkpointHighWatermark, this.logStartOffset), this.logEndOffset);
    this.writeCheckpoint(false);
    this.checkInvariant();
  }

  private rebuildEpochCacheIfNeeded(recovered: SegmentRecovery['epochStarts']): void {
    if (this.epochCache.isEmpty && this.logEndOffset > this.segments[0].baseOffset) {
      // The checkpoint file was lost: read every batch header once to rebuild it.
      const starts: SegmentRecovery['epochStarts'] = [];
      for (const segment of this.segments) {
        segment.scan(0, ({ header }) => {
          const last = starts[starts.length - 1];
          if (last === undefined || header.partitionLeaderEpoch > last.epoch) {
            starts.push({ epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset });
          }
          return true;
        });
      }
      this.epochCache.replace(starts);
    } else if (recovered.length > 0) {
      // Recovery reports the epochs of each recovered segment from its first batch, so
      // epochs the checkpoint already holds come back (assign() asserts on an older one).
      // Every recovered batch matched the checkpoint, so only a newer epoch can be missing.
      for (const entry of recovered) {
        if (entry.epoch > this.epochCache.latestEpoch()) this.epochCache.assign(entry.epoch, entry.startOffset);
      }
    }
    // Entries written just before a batch that never reached the log are dropped.
    this.epochCache.truncateFromEnd(this.logEndOffset);
  }

  private listSegmentFiles(): number[] {
    const baseOffsets: number[] = [];
    for (const name of fs.readdirSync(this.directory)) {
      if (name.endsWith('.tmp')) {
        fs.rmSync(path.join(this.directory, name), { force: true });
        continue;
      }
      const match = /^(\d{20})\.log$/.exec(name);
      if (match) baseOffsets.push(Number(match[1]));
    }
    return baseOffsets.sort((a, b) => a - b);
  }

  /**
   * Appends a batch built by the broker: it gets the next offsets and `leaderEpoch`.
   * Returns the header as appended.
   */
  appendAsLeader(batch: Buffer, leaderEpoch: number, nowMs = Date.now()): BatchHeader {
    const baseOffset = this.logEndOffset;
    setBaseOffset(batch, baseOffset);
    setLeaderEpoch(batch, leaderEpoch);
    const header = readBatchHeader(batch, 0);
    this.appendBatch(batch, header, nowMs);
    return header;
  }

  /**
   * Appends batches exactly as the leader wrote them (one buffer, several batches).
   * Each is validated first; nothing is written unless all are sound and contiguous.
   */
  appendAsFollower(batches: Buffer, nowMs = Date.now()): BatchHeader[] {
    const headers: BatchHeader[] = [];
    let expected = this.logEndOffset;
    let latestEpoch = this.epochCache.latestEpoch();
    for (let position = 0; position < batches.length;) {
      const problem = validateBatch(batches, position, expected);
      if (problem !== null) throw new Error(`refusing replicated batch at offset ${expected}: ${problem}`);
      const header = readBatchHeader(batches, position);
      // The epoch lies outside the CRC. One going back would trip the epoch cache's
      // assertion halfway through the loop below, after earlier batches were written.
      if (header.partitionLeaderEpoch < latestEpoch) {
        throw new Error(`refusing replicated batch at offset ${expected}: leader epoch ` +
          `${header.partitionLeaderEpoch} is below the latest epoch ${latestEpoch}`);
      }
      latestEpoch = header.partitionLeaderEpoch;
      headers.push(header);
      expected = header.lastOffset + 1;
      position += header.sizeBytes;
    }
    let position = 0;
    for (const header of headers) {
      this.appendBatch(batches.subarray(position, position + header.sizeBytes), header, nowMs);
      position += header.sizeBytes;
    }
    return headers;
  }

  private appendBatch(batch: Buffer, header: BatchHeader, nowMs: number): void {
    assert(!this.isClosed, () => `log ${this.directory} is closed`);
    assert(header.baseOffset === this.logEndOffset, () =>
      `log ${this.directory}: batch offset ${header.baseOffset} does not follow logEndOffset ${this.logEndOffset}`);
    this.maybeRoll(header, nowMs);
    this.epochCache.assign(header.partitionLeaderEpoch, header.baseOffset);
    this.activeSegment.append(batch, header);
  }

  private maybeRoll(header: BatchHeader, nowMs: number): void {
    const active = this.activeSegment;
    if (active.isEmpty) return;
    const isFull = active.sizeBytes + header.sizeBytes > this.config.segmentBytes;
    const isOld = nowMs - active.createdAtMs > this.config.segmentMs;
    // Relative offsets in the index are u32.
    const isOffsetSpanFull = header.lastOffset - active.baseOffset > 0xfffffff0;
    if (isFull || isOld || isOffsetSpanFull) this.roll(nowMs);
  }

  /** Starts a new active segment at logEndOffset; the old one is fsynced in the background. */
  roll(nowMs = Date.now()): void {
    const old = this.activeSegment;
    old.onBecomeInactive();
    const next = LogSegment.create(this.directory, old.nextOffset, { indexIntervalBytes: this.config.indexIntervalBytes }, nowMs);
    this.segments.push(next);
    // Kafka flushes a rolled segment asynchronously and then advances the recovery
    // point, so a crash rescans only the active segment.
    const flushed = old.flush().then(() => {
      old.flushIndexes();
      // A truncation meanwhile may have removed `next` (and re-written its offsets, not yet
      // fsynced): then this fsync says nothing about the offsets below next.baseOffset.
      if (!this.isClosed && next.baseOffset > this.recoveryPoint && this.segments.includes(next)) {
        this.recoveryPoint = next.baseOffset;
        this.writeCheckpoint(false);
      }
    }, () => undefined);
    this.pendingSegmentFlushes.add(flushed);
    void flushed.finally(() => this.pendingSegmentFlushes.delete(flushed));
  }

  updateHighWatermark(offset: number): void {
    const next = Math.min(Math.max(offset, this.logStartOffset), this.logEndOffset);
    this.highWatermark = next;
    this.checkInvariant();
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
    const index = this.segmentIndexFor(startOffset);
    for (let i = index; i < this.segments.length; i++) {
      const segment = this.segments[i];
      // Batches never straddle the high watermark or lastWanted's batch end: whole batches only.
      const highWatermarkPosition = maxOffset >= segment.nextOffset ? segment.sizeBytes : segment.positionOf(maxOffset).position;
      const wantedPosition = lastWanted >= segment.nextOffset ? segment.sizeBytes : segment.endPositionOf(lastWanted);
      const data = segment.read(Math.max(startOffset, segment.baseOffset), maxBytes, Math.min(highWatermarkPosition, wantedPosition));
      if (data !== null) return data;
      if (maxOffset <= segment.nextOffset) break;
    }
    return null;
  }

  /** Index of the last segment whose baseOffset is at or below `offset`. */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle].baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /**
   * The first offset whose record timestamp is at or after `timestampMs`, below the
   * high watermark (Kafka's ListOffsets by time); null when there is none.
   */
  offsetForTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null {
    for (const segment of this.segments) {
      if (segment.maxTimestampMs < timestampMs) continue;
      const entry = segment.timeIndex.lookupBefore(timestampMs);
      const { position } = segment.positionOf(Math.max(entry?.offset ?? segment.baseOffset, this.logStartOffset));
      let found: { offset: number; timestampMs: number } | null = null;
      segment.scan(position, ({ header, buffer, bufferPosition }) => {
        if (header.baseOffset >= this.highWatermark) return false;
        if (header.maxTimestamp < timestampMs) return true;
        for (const record of decodeRecords(buffer.subarray(bufferPosition, bufferPosition + header.sizeBytes))) {
          if (record.offset >= this.logStartOffset && record.offset < this.highWatermark && record.timestampMs >= timestampMs) {
            found = { offset: record.offset, timestampMs: record.timestampMs };
            return false;
          }
        }
        return true;
      });
      if (found !== null) return found;
    }
    return null;
  }

  /**
   * Removes every batch from the one holding `offset` onwards (a follower truncating
   * to its leader's epoch boundary). The high watermark and recovery point follow.
   */
  truncateTo(offset: number): void {
    if (offset >= this.logEndOffset) return;
    assert(offset >= this.logStartOffset, () => `log ${this.directory}: truncation to ${offset} below logStartOffset ${this.logStartOffset}`);
    while (this.segments.length > 1 && this.activeSegment.baseOffset >= offset) {
      const removed = this.segments.pop();
      removed?.delete();
    }
    this.activeSegment.truncateTo(offset);
    this.epochCache.truncateFromEnd(this.logEndOffset);
    this.recoveryPoint = Math.min(this.recoveryPoint, this.logEndOffset);
    // A running fsync covers at most what is left: offsets written again after it began
    // are not durable. Waiters for removed offsets are told so rather than "durable".
    this.flushTarget = Math.min(this.flushTarget, this.logEndOffset);
    const logEndOffset = this.logEndOffset;
    this.settleFlushWaiters((waiter) => waiter.offset > logEndOffset ? 'reject' : 'keep',
      new Error(`log ${this.directory}: truncated to ${logEndOffset} before the records were flushed`));
    this.highWatermark = Math.min(this.highWatermark, this.logEndOffset);
    this.writeCheckpoint(false);
    this.checkInvariant();
  }

  /**
   * Empties the log and restarts it at `offset` (Kafka's truncateFullyAndStartAt): a
   * follower so far behind that its leader's retention deleted what it needs next
   * starts over at the leader's logStartOffset. Every offset below `offset` is gone from
   * this replica, as it is from the leader.
   */
  truncateFullyAndStartAt(offset: number, nowMs = Date.now()): void {
    assert(!this.isClosed, () => `log ${this.directory} is closed`);
    assert(offset >= 0, () => `log ${this.directory}: cannot start at ${offset}`);
    // Old segments go first (one may have this very base offset). A crash before the new
    // one exists leaves an empty directory: the replica fetches, is out of range, and
    // comes back here.
    for (const segment of this.segments) segment.delete();
    this.segments = [LogSegment.create(this.directory, offset, { indexIntervalBytes: this.config.indexIntervalBytes }, nowMs)];
    this.epochCache.replace([]);
    this.logStartOffset = offset;
    this.recoveryPoint = offset;
    this.flushTarget = Math.min(this.flushTarget, offset);
    this.settleFlushWaiters(() => 'reject', new Error(`log ${this.directory}: emptied to restart at ${offset} before the records were flushed`));
    this.highWatermark = offset;
    this.writeCheckpoint(false);
    this.checkInvariant();
  }

  /**
   * Retention: deletes whole segments, oldest first, whose newest record is older than
   * retention.ms, then while the log minus its oldest segment is still at least
   * retention.bytes. Only segments wholly below the high watermark go. An expired
   * active segment is rolled first, as Kafka does. Returns the segments deleted.
   */
  deleteRetainedSegments(nowMs = Date.now()): number {
    const { retentionMs, retentionBytes } = this.config;
    let deleted = 0;
    if (retentionMs >= 0) {
      while (this.segments.length > 1 && this.isDeletable(this.segments[0]) &&
             this.segments[0].maxTimestampMs < nowMs - retentionMs) {
        this.deleteOldestSegment();
        deleted += 1;
      }
      // Rolling is checked after the older segments went (it used to be checked first, and
      // only for a lone segment, so a log whose records had all expired kept its active
      // segment until the next pass). As in Kafka, the active segment is rolled and deleted
      // when it is the last one left and has expired too.
      const active = this.activeSegment;
      if (this.segments.length === 1 && !active.isEmpty && active.maxTimestampMs < nowMs - retentionMs &&
          active.nextOffset <= this.highWatermark) {
        this.roll(nowMs);
        this.deleteOldestSegment();
        deleted += 1;
      }
    }
    if (retentionBytes >= 0) {
      let size = this.sizeBytes;
      while (this.segments.length > 1 && this.isDeletable(this.segments[0]) && size - this.segments[0].sizeBytes >= retentionBytes) {
        size -= this.segments[0].sizeBytes;
        this.deleteOldestSegment();
        deleted += 1;
      }
    }
    if (deleted > 0) {
      this.logStartOffset = Math.max(this.logStartOffset, this.segments[0].baseOffset);
      this.epochCache.truncateFromStart(this.logStartOffset);
      this.checkInvariant();
    }
    return deleted;
  }

  private isDeletable(segment: LogSegment): boolean {
    return segment !== this.activeSegment && segment.nextOffset <= this.highWatermark;
  }

  private deleteOldestSegment(): void {
    const oldest = this.segments.shift();
    oldest?.delete();
  }

  /** True when flush.messages or flush.ms asks for an fsync now. */
  isFlushDue(nowMs = Date.now()): boolean {
    const unflushed = this.unflushedMessages;
    if (unflushed <= 0) return false;
    return unflushed >= this.config.flushMessages || nowMs - this.lastFlushMs >= this.config.flushMs;
  }

  /**
   * Resolves once every offset below `offset` is fsynced. Concurrent callers share
   * fsyncs (group commit): one runs at a time and covers all appends made before it
   * started; callers that arrive meanwhile are served by the next one.
   */
  flushUpTo(offset = this.logEndOffset): Promise<void> {
    if (offset <= this.recoveryPoint) return Promise.resolve();
    // A waiter past the log end would never be served, and kept startFlush() re-running
    // empty flushes back to back (a microtask loop that starved the event loop).
    if (offset > this.logEndOffset) {
      return Promise.reject(new Error(`log ${this.directory}: cannot flush up to ${offset}, past the log end ${this.logEndOffset}`));
    }
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ offset, resolve, reject });
      this.startFlush();
    });
  }

  private startFlush(): void {
    if (this.isFlushing) {
      this.isFlushRequested = true;
      return;
    }
    this.isFlushing = true;
    this.isFlushRequested = false;
    this.flushTarget = this.logEndOffset;
    const pending = this.segments.filter((segment) => segment.nextOffset > this.recoveryPoint);
    this.lastFlushMs = Date.now();
    const startedAt = process.hrtime.bigint();
    Promise.all(pending.map((segment) => segment.flush())).then(
      () => {
        this.onFsync?.(Number(process.hrtime.bigint() - startedAt) / 1e9);
        // truncateTo() may have lowered the target while this fsync ran.
        const target = this.flushTarget;
        this.recoveryPoint = Math.max(this.recoveryPoint, target);
        this.settleFlushWaiters((waiter) => waiter.offset <= target ? 'resolve' : 'keep');
      },
      (error: Error) => {
        // An fsync failure means the page cache may have dropped our data: nobody
        // waiting may be told it is durable.
        this.settleFlushWaiters(() => 'reject', error);
      },
    ).finally(() => {
      this.isFlushing = false;
      if (this.isFlushRequested || this.flushWaiters.length > 0) this.startFlush();
    });
  }

  private settleFlushWaiters(decide: (waiter: FlushWaiter) => 'resolve' | 'reject' | 'keep', error?: Error): void {
    const kept: FlushWaiter[] = [];
    for (const waiter of this.flushWaiters) {
      const decision = decide(waiter);
      if (decision === 'resolve') waiter.resolve();
      else if (decision === 'reject') waiter.reject(error ?? new Error('flush failed'));
      else kept.push(waiter);
    }
    this.flushWaiters = kept;
  }

  /** Persists the recovery point and high watermark (periodically and on roll). */
  writeCheckpoint(isCleanShutdown: boolean): void {
    const checkpoint: PartitionCheckpoint = {
      recoveryPoint: this.recoveryPoint,
      highWatermark: this.highWatermark,
      isCleanShutdown,
    };
    writeFileDurably(path.join(this.directory, CHECKPOINT_FILE), JSON.stringify(checkpoint) + '\n');
  }

  /**
   * Clean shutdown: fsync everything, record a clean checkpoint (so the next open
   * scans nothing) and close the files.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    await Promise.all([...this.pendingSegmentFlushes]);
    await this.flushUpTo(this.logEndOffset);
    this.isClosed = true;
    for (const segment of this.segments) {
      segment.flushSync();
      segment.close();
    }
    this.recoveryPoint = this.logEndOffset;
    this.writeCheckpoint(true);
  }

  /** Closes without flushing or marking clean: what a crash leaves, for tests. */
  closeAbruptly(): void {
    this.isClosed = true;
    for (const segment of this.segments) segment.close();
    this.settleFlushWaiters(() => 'reject', new Error('log closed'));
  }

  /** Removes the partition's directory and everything in it. */
  delete(): void {
    this.closeAbruptly();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }

  private checkInvariant(): void {
    assert(this.logStartOffset <= this.highWatermark && this.highWatermark <= this.logEndOffset, () =>
      `log ${this.directory}: logStartOffset ${this.logStartOffset} <= highWatermark ${this.highWatermark} ` +
      `<= logEndOffset ${this.logEndOffset} does not hold`);
  }
}

function readCheckpoint(file: string): PartitionCheckpoint | undefined {
  const value = readJsonFile(file) as Partial<PartitionCheckpoint> | undefined;
  if (value === undefined || typeof value !== 'object' || value === null) return undefined;
  if (!Number.isSafeInteger(value.recoveryPoint) || !Number.isSafeInteger(value.highWatermark)) return undefined;
  return { recoveryPoint: value.recoveryPoint!, highWatermark: value.highWatermark!, isCleanShutdown: value.isCleanShutdown === true };
}

function segmentNameOf(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0') + '.log';
}

function deleteSegmentFiles(directory: string, baseOffset: number): void {
  for (const suffix of ['.log', '.index', '.timeindex']) {
    fs.rmSync(path.join(directory, String(baseOffset).padStart(20, '0') + suffix), { force: true });
  }
}
