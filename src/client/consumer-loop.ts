/**
 * ConsumerLoop: what GroupConsumer and AssignedConsumer share as async iterables.
 *
 * - `for await (const record of consumer)`, once per consumer. A record counts as
 *   processed when the loop asks for the next one; the record the loop body was on
 *   when it exits (break or throw) is not, and close() runs.
 * - One commit at a time, in call order: a later commit must not be overtaken by an
 *   earlier one. With commit: 'interval', a timer commits every commitIntervalMs.
 * - close() runs its shutdown once; every later call gets the same promise.
 */
import type { PolledRecord } from '../api/types.js';

export type ConsumedRecord = PolledRecord;
export type CommitMode = 'after-processing' | 'interval' | 'manual';

export abstract class ConsumerLoop implements AsyncIterable<ConsumedRecord> {
  protected readonly mode: CommitMode;
  /** Yielded, and the loop body is on it. */
  private current: ConsumedRecord | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private isIterating = false;

  constructor(mode: CommitMode | undefined) {
    this.mode = mode ?? 'after-processing';
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    if (this.isIterating) throw new TypeError('a consumer can be iterated only once');
    this.isIterating = true;
    return {
      next: () => {
        const processed = this.current;
        this.current = undefined;
        if (processed !== undefined) this.markProcessed(processed);
        return this.next();
      },
      // The loop exited (break, throw): the record it was on is not counted as processed.
      return: async () => {
        this.current = undefined;
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Commits the offsets of the records processed so far (an AssignedConsumer without a group: nothing). */
  commit(): Promise<void> {
    const run = this.committing.then(() => this.commitOnce());
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Stops reading, commits what was processed (unless 'manual'); a GroupConsumer then leaves its group. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Hands a record to the loop body: it is the one the loop is on until it asks for the next. */
  protected deliver(record: ConsumedRecord): IteratorResult<ConsumedRecord> {
    this.current = record;
    return { value: record, done: false };
  }

  /** The record the loop body is on, if any. */
  protected get currentRecord(): ConsumedRecord | undefined {
    return this.current;
  }

  /** Forgets the record the loop body is on: it will not count as processed. */
  protected forgetCurrent(): void {
    this.current = undefined;
  }

  /** For commit: 'interval'; call once, at the end of the constructor. */
  protected startCommitTimer(intervalMs = 5_000): void {
    if (this.mode !== 'interval') return;
    this.commitTimer = setInterval(() => void this.commit().catch(() => undefined), intervalMs);
    this.commitTimer.unref();
  }

  protected stopCommitTimer(): void {
    if (this.commitTimer !== undefined) clearInterval(this.commitTimer);
  }

  /** The loop asked for the next record: the one before is processed. */
  protected abstract markProcessed(record: ConsumedRecord): void;
  protected abstract next(): Promise<IteratorResult<ConsumedRecord>>;
  protected abstract commitOnce(): Promise<void>;
  protected abstract shutdown(): Promise<void>;
}
