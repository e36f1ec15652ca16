/**
 * LogManager: every partition log under `<data>/logs`, keyed by directory name (the
 * broker decides names; storage treats them as opaque), and the background work that
 * Kafka's LogManager schedules: retention checks, time-based flushes (flush.ms) and
 * periodic recovery-point checkpoints; and the compaction cleaner (cleaner/log-cleaner.ts).
 *
 * Timers are unref'd and all cancelled by close(), which also closes every log cleanly.
 */
import { limits } from '../limits.js';
import { ProducerStateBudget } from './producer-state.js';
import { KeyIndexBudget } from './key-table.js';
import { FileCache } from './file-cache.js';
import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../util/assert.js';
import type { LogConfig } from './log-config.js';
import type { StorageWarning } from './log-damage.js';
import { PartitionLog, type OpenOptions } from './partition-log.js';
import { LogCleaner, type LogCleanerOptions } from './cleaner/log-cleaner.js';

export interface LogManagerOptions {
  /** Kafka's log.retention.check.interval.ms. */
  retentionCheckIntervalMs: number;
  /** How often logs are checked for flush.ms (Kafka's log.flush.scheduler.interval.ms). */
  flushCheckIntervalMs?: number;
  /** How often recovery points are written (Kafka's log.flush.offset.checkpoint.interval.ms). */
  checkpointIntervalMs?: number;
  /** Told after retention deleted segments, so the caller can persist logStartOffset. */
  onSegmentsDeleted?: (name: string, log: PartitionLog, deletedCount: number) => void;
  /** Told how long each fsync of a log took. */
  onFsync?: (seconds: number) => void;
  /** Told what recovery truncated and which damaged batches reads found, with the log's name. */
  onWarning?: (name: string, warning: StorageWarning) => void;
  /** Background failures (an fsync error, a full disk) are reported here. */
  onError?: (error: unknown, context: string) => void;
  /** Segment files (logs and indexes) kept open at most; idle ones are closed first. Unbounded when not given. */
  openFilesMax?: number;
  /** Producers remembered at most across every log (--producer-states-max); unbounded when not given. */
  producerStatesMax?: number;
  /** The compaction cleaner's memory, I/O limit and idle wait (cleaner/log-cleaner.ts); defaults when not given. */
  cleaner?: Partial<LogCleanerOptions>;
  /** Memory for the key indexes of every compacted log (--key-index-memory-bytes; key-table.ts); unbounded when not given. */
  keyIndexMemoryBytes?: number;
}

/** Kafka's defaults, except the I/O limit (Kafka has none). */
export const DEFAULT_CLEANER_OPTIONS: LogCleanerOptions = { dedupeBufferBytes: 32 * 1024 * 1024, ioBytesPerSecond: 64 * 1024 * 1024, backoffMs: 15_000 };

/** Logs closed (and fsynced) at the same time at shutdown. */
const CLOSES_AT_ONCE = 64;

export class LogManager {
  /** Every log's segment files share one LRU of open descriptors. */
  readonly files: FileCache;
  /** Every log's producer state shares one bound (producer-state.ts). */
  readonly producerStates: ProducerStateBudget;
  /** Every compacted log's key index shares one memory budget (key-table.ts). */
  readonly keyIndexes: KeyIndexBudget;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Compacts logs whose cleanup.policy holds compact; runs once start() is called. */
  readonly cleaner: LogCleaner;

  constructor(readonly logsDirectory: string, private readonly options: LogManagerOptions) {
    fs.mkdirSync(logsDirectory, { recursive: true });
    this.files = options.openFilesMax === undefined ? FileCache.unbounded() : new FileCache(options.openFilesMax);
    this.producerStates = new ProducerStateBudget(options.producerStatesMax ?? Number.MAX_SAFE_INTEGER, limits.idempotencyRetentionMs);
    this.keyIndexes = options.keyIndexMemoryBytes === undefined ? KeyIndexBudget.unbounded() : new KeyIndexBudget(options.keyIndexMemoryBytes);
    this.cleaner = new LogCleaner(() => this.logs.entries(), { ...DEFAULT_CLEANER_OPTIONS, onError: options.onError, ...options.cleaner });
  }

  /** Directory names found on disk (partitions that may or may not still be wanted). */
  namesOnDisk(): string[] {
    return fs.readdirSync(this.logsDirectory, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  }

  open(name: string, config: LogConfig, options: OpenOptions = {}): PartitionLog {
    assert(/^[a-zA-Z0-9._-]+$/.test(name) && name !== '.' && name !== '..', () => `log name ${JSON.stringify(name)} is not a plain directory name`);
    assert(!this.logs.has(name), () => `log ${name} is already open`);
    const { onWarning } = this.options;
    const log = PartitionLog.open(path.join(this.logsDirectory, name), config, {
      onFsync: this.options.onFsync,
      onError: this.options.onError,
      onWarning: onWarning === undefined ? undefined : (warning) => onWarning(name, warning),
      files: this.files,
      producerStates: this.producerStates,
      keyIndexes: this.keyIndexes,
      ...options,
    });
    this.logs.set(name, log);
    return log;
  }

  get(name: string): PartitionLog | undefined {
    return this.logs.get(name);
  }

  get all(): IterableIterator<[string, PartitionLog]> {
    return this.logs.entries();
  }

  /** Removes a log's directory, open or not. */
  deleteLog(name: string): void {
    const log = this.logs.get(name);
    this.logs.delete(name);
    if (log !== undefined) log.delete();
    else fs.rmSync(path.join(this.logsDirectory, name), { recursive: true, force: true });
  }

  start(): void {
    const { retentionCheckIntervalMs, flushCheckIntervalMs = 1000, checkpointIntervalMs = 60_000 } = this.options;
    this.every(retentionCheckIntervalMs, () => this.runRetention());
    this.every(flushCheckIntervalMs, () => this.flushDueLogs());
    this.every(checkpointIntervalMs, () => this.checkpointAll());
    this.cleaner.start();
  }

  private every(intervalMs: number, task: () => void): void {
    const timer = setInterval(() => {
      try {
        task();
      } catch (error) {
        this.options.onError?.(error, 'background task');
      }
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** One retention pass over every log; returns the number of segments deleted. */
  runRetention(nowMs = Date.now()): number {
    let total = 0;
    for (const [name, log] of this.logs) {
      const deleted = log.deleteRetainedSegments(nowMs);
      if (deleted > 0) {
        total += deleted;
        this.options.onSegmentsDeleted?.(name, log, deleted);
      }
    }
    return total;
  }

  private flushDueLogs(): void {
    const nowMs = Date.now();
    for (const [name, log] of this.logs) {
      if (log.isFlushDue(nowMs)) {
        log.flushUpTo().catch((error: unknown) => this.options.onError?.(error, `flush of ${name}`));
      }
    }
  }

  private checkpointAll(): void {
    for (const log of this.logs.values()) log.writeCheckpoint(false);
  }

  /** Stops background work and closes every log cleanly (fsync + clean checkpoint). */
  async close(): Promise<void> {
    // The cleaner first: it stops after its current chunk, before the logs close under it.
    await this.cleaner.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    const logs = [...this.logs.values()];
    this.logs.clear();
    // A bounded number at once: each close fsyncs with its files held open (pinned), and
    // twenty thousand at once would need twenty thousand descriptors.
    for (let start = 0; start < logs.length; start += CLOSES_AT_ONCE) {
      await Promise.all(logs.slice(start, start + CLOSES_AT_ONCE).map((log) => log.close()));
    }
  }
}
