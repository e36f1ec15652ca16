/**
 * LogFlusher: when a partition log's appends become durable, and who is told. A
 * write(2) per batch already survives a killed process; fsync follows flush.messages /
 * flush.ms with group commit: one fsync covers every append made before it started,
 * and appends continue while it runs. It owns the recovery point, the offset below
 * which everything is fsynced.
 *
 * A rolled segment is fsynced in the background, as Kafka does, and then advances the
 * recovery point, so a crash rescans only the active segment.
 *
 * Concurrency: one per partition log, on the event loop; the fsyncs run on the thread
 * pool.
 */
import type { LogConfig } from './log-config.js';
import type { LocalLog } from './local-log.js';
import type { LogSegment } from './segment.js';

interface FlushWaiter {
  offset: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class LogFlusher {
  /** Every offset below this is fsynced. */
  recoveryPoint: number;
  private waiters: FlushWaiter[] = [];
  private isFlushing = false;
  private isFlushRequested = false;
  /** The log end when the running flush started: what it makes durable. */
  private flushTarget = 0;
  private lastFlushMs: number;
  private pendingSegmentFlushes = new Set<Promise<void>>();

  constructor(
    private readonly log: LocalLog,
    recoveryPoint: number,
    nowMs: number,
    /** Told how long each group-commit fsync took (for metrics). */
    private readonly onFsync: ((seconds: number) => void) | undefined,
    /** Told when a rolled segment's fsync moved the recovery point (to checkpoint it). */
    private readonly onRecoveryPointAdvanced: () => void,
    /** A rolled segment's fsync or checkpoint that failed (a full disk): reported, never thrown. */
    private readonly onError?: (error: unknown, context: string) => void,
  ) {
    this.recoveryPoint = recoveryPoint;
    this.lastFlushMs = nowMs;
  }

  /** True when flush.messages or flush.ms asks for an fsync now. */
  isFlushDue(config: LogConfig, nowMs: number): boolean {
    const unflushed = this.log.logEndOffset - this.recoveryPoint;
    if (unflushed <= 0) return false;
    return unflushed >= config.flushMessages || nowMs - this.lastFlushMs >= config.flushMs;
  }

  /**
   * Resolves once every offset below `offset` is fsynced. Concurrent callers share
   * fsyncs (group commit): one runs at a time and covers all appends made before it
   * started; callers that arrive meanwhile are served by the next one.
   */
  flushUpTo(offset: number): Promise<void> {
    if (offset <= this.recoveryPoint) return Promise.resolve();
    // A waiter past the log end would never be served, and kept startFlush() re-running
    // empty flushes back to back (a microtask loop that starved the event loop).
    if (offset > this.log.logEndOffset) {
      return Promise.reject(new Error(`log ${this.log.directory}: cannot flush up to ${offset}, past the log end ${this.log.logEndOffset}`));
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ offset, resolve, reject });
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
    this.flushTarget = this.log.logEndOffset;
    const pending = this.log.segments.filter((segment) => segment.nextOffset > this.recoveryPoint);
    this.lastFlushMs = Date.now();
    const startedAt = process.hrtime.bigint();
    Promise.all(pending.map((segment) => segment.flush())).then(
      () => {
        this.onFsync?.(Number(process.hrtime.bigint() - startedAt) / 1e9);
        // A truncation may have lowered the target while this fsync ran.
        const target = this.flushTarget;
        this.recoveryPoint = Math.max(this.recoveryPoint, target);
        this.settleWaiters((waiter) => waiter.offset <= target ? 'resolve' : 'keep');
      },
      (error: Error) => {
        // An fsync failure means the page cache may have dropped our data: nobody
        // waiting may be told it is durable.
        this.settleWaiters(() => 'reject', error);
      },
    ).finally(() => {
      this.isFlushing = false;
      if (this.isFlushRequested || this.waiters.length > 0) this.startFlush();
    });
  }

  /** fsyncs a segment that was just rolled, in the background; `next` took over from it. */
  flushRolledSegment(rolled: LogSegment, next: LogSegment): void {
    const flushed = rolled.flush().then(() => {
      rolled.flushIndexes();
      // A truncation meanwhile may have removed `next` (and re-written its offsets, not yet
      // fsynced): then this fsync says nothing about the offsets below next.baseOffset.
      if (!this.log.isClosed && next.baseOffset > this.recoveryPoint && this.log.segments.includes(next)) {
        this.recoveryPoint = next.baseOffset;
        this.onRecoveryPointAdvanced();
      }
    }).catch((error: unknown) => {
      // Nothing awaits this promise: a checkpoint that met a full disk (ENOSPC) here was an
      // unhandled rejection that ended the process. The next checkpoint writes it again.
      this.onError?.(error, `flush of rolled segment ${rolled.logPath}`);
    });
    this.pendingSegmentFlushes.add(flushed);
    void flushed.finally(() => this.pendingSegmentFlushes.delete(flushed));
  }

  /** Resolves when every rolled segment's background fsync has finished. */
  async rolledSegmentsFlushed(): Promise<void> {
    await Promise.all([...this.pendingSegmentFlushes]);
  }

  /**
   * The log was cut back to `logEndOffset`. A running fsync covers at most what is left:
   * offsets written again after it began are not durable. Waiters for removed offsets
   * are told so rather than "durable".
   */
  onTruncated(logEndOffset: number): void {
    this.recoveryPoint = Math.min(this.recoveryPoint, logEndOffset);
    this.flushTarget = Math.min(this.flushTarget, logEndOffset);
    this.settleWaiters((waiter) => waiter.offset > logEndOffset ? 'reject' : 'keep',
      new Error(`log ${this.log.directory}: truncated to ${logEndOffset} before the records were flushed`));
  }

  /** The log was emptied to restart at `offset`: nothing waited for can become durable. */
  onRestartedAt(offset: number): void {
    this.recoveryPoint = offset;
    this.flushTarget = Math.min(this.flushTarget, offset);
    this.settleWaiters(() => 'reject', new Error(`log ${this.log.directory}: emptied to restart at ${offset} before the records were flushed`));
  }

  /** Every waiter is told the log closed before its offsets were flushed. */
  rejectAll(error: Error): void {
    this.settleWaiters(() => 'reject', error);
  }

  private settleWaiters(decide: (waiter: FlushWaiter) => 'resolve' | 'reject' | 'keep', error?: Error): void {
    const kept: FlushWaiter[] = [];
    for (const waiter of this.waiters) {
      const decision = decide(waiter);
      if (decision === 'resolve') waiter.resolve();
      else if (decision === 'reject') waiter.reject(error ?? new Error('flush failed'));
      else kept.push(waiter);
    }
    this.waiters = kept;
  }
}
