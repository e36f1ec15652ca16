/**
 * LogCleaner: the node's background compaction (Kafka's LogCleaner with one cleaner
 * thread). It repeatedly picks the dirtiest compacted partition log that is due (dirty
 * ratio at or above min.cleanable.dirty.ratio, or a dirty segment past
 * max.compaction.lag.ms) and cleans one round of it (clean-round.ts); with nothing due
 * it waits `backoffMs`.
 *
 * It runs on the event loop in bounded chunks (about 64 KiB of log per step, then the
 * loop is given back; see IoPacer), not on a worker thread: segments, file handles and
 * the swap of a cleaned segment stay with the code that owns the log, with no locking.
 * Measured on a 42 MB partition of 200,000 records with 50,000 keys (2 cores): about
 * 15 MB/s of log cleaned unthrottled, event-loop delay p50 1 ms, p99 36 ms, max 65 ms
 * (the longest steps are reopening a cleaned segment, which rebuilds its indexes, and
 * clearing the map). Memory is the one offset map (dedupeBufferBytes), allocated at
 * the first round.
 *
 * A log whose cleaning fails (damage found, an I/O error) is reported once and left
 * alone until the node restarts, as Kafka marks a partition uncleanable.
 */
import type { PartitionLog } from '../partition-log.js';
import { readCleanerCheckpoint, writeCleanerCheckpoint } from './cleaner-checkpoint.js';
import { buildOffsetMap, cleanSegment, findCleanable, type Cleanable } from './clean-round.js';
import { CleaningAborted, IoPacer } from './io-pacer.js';
import { OffsetMap } from './offset-map.js';
import { crashPoint } from './segment-swap.js';

export interface LogCleanerOptions {
  /** Memory for the key → offset map (Kafka's log.cleaner.dedupe.buffer.size). */
  dedupeBufferBytes: number;
  /** Bytes read and written per second at most; 0 or less: no limit (Kafka's log.cleaner.io.max.bytes.per.second). */
  ioBytesPerSecond: number;
  /** Wait when no log is due (Kafka's log.cleaner.backoff.ms). */
  backoffMs: number;
  onError?: (error: unknown, context: string) => void;
}

/** What one round did. */
export interface CleaningRound {
  name: string;
  /** Segments rewritten (or dropped). */
  segmentsCleaned: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
  /** The cleaner checkpoint after the round. */
  cleanedTo: number;
}

/** Totals since the node started, for metrics. */
export interface CleanerStats {
  rounds: number;
  bytesRead: number;
  bytesRemoved: number;
  recordsRemoved: number;
  runSeconds: number;
}

export interface CleanableLog {
  name: string;
  log: PartitionLog;
  cleanable: Cleanable;
}

export class LogCleaner {
  readonly stats: CleanerStats = { rounds: 0, bytesRead: 0, bytesRemoved: 0, recordsRemoved: 0, runSeconds: 0 };
  /** Made at the first round: a node without compacted topics never pays for it. */
  private map: OffsetMap | undefined;
  private readonly uncleanable = new Set<PartitionLog>();
  private isStopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly logs: () => Iterable<[string, PartitionLog]>, private readonly options: LogCleanerOptions) {}

  start(): void {
    this.isStopping = false;
    this.loop ??= this.run();
  }

  /** Stops after the chunk in progress (a half-written cleaned file is removed). */
  async stop(): Promise<void> {
    this.isStopping = true;
    this.wake?.();
    await this.loop;
    await this.running.catch(() => undefined);
    this.loop = undefined;
  }

  private async run(): Promise<void> {
    while (!this.isStopping) {
      const round = await this.cleanOnce().catch((error: unknown) => {
        if (!(error instanceof CleaningAborted)) this.options.onError?.(error, 'log cleaner');
        return undefined;
      });
      if (round === undefined && !this.isStopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.backoffMs);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** Every compacted log with what it offers the cleaner now, dirtiest first. */
  cleanableLogs(nowMs = Date.now()): CleanableLog[] {
    const found: CleanableLog[] = [];
    for (const [name, log] of this.logs()) {
      if (!log.logConfig.isCompacted || log.localLog.isClosed || log.isDamaged) continue;
      const cleanable = findCleanable(log.localLog, {
        checkpoint: readCleanerCheckpoint(log.directory),
        logStartOffset: log.logStartOffset,
        highWatermark: log.highWatermark,
        recoveryPoint: log.recoveryPoint,
      }, nowMs);
      found.push({ name, log, cleanable });
    }
    return found.sort((a, b) => b.cleanable.dirtyRatio - a.cleanable.dirtyRatio);
  }

  /**
   * Cleans one round of the dirtiest log that is due; undefined when none is. Calls
   * (the background loop's, a test's) run one at a time.
   */
  async cleanOnce(nowMs = Date.now()): Promise<CleaningRound | undefined> {
    const previous = this.running;
    let release = (): void => undefined;
    this.running = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous.catch(() => undefined);
    try {
      return await this.cleanDirtiest(nowMs);
    } finally {
      release();
    }
  }

  private async cleanDirtiest(nowMs: number): Promise<CleaningRound | undefined> {
    const due = this.cleanableLogs(nowMs).find(({ log, cleanable }) => !this.uncleanable.has(log) && cleanable.dirtyBytes > 0 &&
      (cleanable.dirtyRatio >= log.logConfig.minCleanableDirtyRatio || cleanable.isOverdue));
    if (due === undefined) return undefined;
    try {
      return await this.cleanRound(due, nowMs);
    } catch (error) {
      // A log closed or deleted meanwhile (its directory gone) is not a failure.
      if (due.log.localLog.isClosed) throw new CleaningAborted('the log was closed');
      if (!(error instanceof CleaningAborted)) this.uncleanable.add(due.log);
      throw error;
    }
  }

  private async cleanRound({ name, log, cleanable }: CleanableLog, nowMs: number): Promise<CleaningRound> {
    const startedMs = performance.now();
    const pacer = new IoPacer(this.options.ioBytesPerSecond, () => {
      if (this.isStopping) return 'the cleaner is stopping';
      return log.localLog.isClosed ? 'the log was closed' : undefined;
    });
    const map = (this.map ??= new OffsetMap(this.options.dedupeBufferBytes));
    const endOffset = await buildOffsetMap(cleanable, map, pacer);
    if (!log.localLog.allowsGaps) {
      // Before the first cleaned segment goes in: from now on the log's offsets may have
      // gaps, and recovery must know it (the checkpoint file's presence says so).
      writeCleanerCheckpoint(log.directory, cleanable.firstDirtyOffset);
      log.localLog.allowGaps();
    }
    const round: CleaningRound = { name, segmentsCleaned: 0, bytesBefore: 0, bytesAfter: 0, recordsRemoved: 0, cleanedTo: endOffset };
    for (const segment of cleanable.segments) {
      if (segment.baseOffset >= endOffset) break;
      const result = await cleanSegment({ log: log.localLog, segment, map, cleanedOnceBelow: cleanable.firstDirtyOffset, pacer, nowMs });
      if (result.recordsRemoved > 0) round.segmentsCleaned += 1;
      round.bytesBefore += result.bytesBefore;
      round.bytesAfter += result.bytesAfter;
      round.recordsRemoved += result.recordsRemoved;
    }
    pacer.throwIfAborted();
    writeCleanerCheckpoint(log.directory, endOffset);
    crashPoint();
    this.stats.rounds += 1;
    this.stats.bytesRead += pacer.totalBytes;
    this.stats.bytesRemoved += round.bytesBefore - round.bytesAfter;
    this.stats.recordsRemoved += round.recordsRemoved;
    this.stats.runSeconds += (performance.now() - startedMs) / 1000;
    return round;
  }
}
