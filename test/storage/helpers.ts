/**
 * Shared pieces of the storage tests: temp directories that are removed afterwards,
 * batches built from plain record specs, a plain-array model of a log, and an fsync
 * spy that counts (and can hold back) the fsyncs the storage layer issues, so group
 * commit is checked by counting rather than by timing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeRecords, type DecodedRecord } from '../../src/record/decode.js';
import { encodeBatch } from '../../src/record/encode.js';
import { readBatchHeader, type BatchHeader } from '../../src/record/header.js';
import { batchPositions } from '../record/helpers.js';

/** A fresh directory under the OS temp dir, removed when the test ends. */
export function makeTempDir(t: Test, label = 'storage'): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), `runnel-${label}-`));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Small segments and a dense index so a few kilobytes exercise rolls and lookups. */
export function testConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    ...DEFAULT_LOG_CONFIG,
    segmentBytes: 1024,
    indexIntervalBytes: 128,
    retentionMs: -1,
    retentionBytes: -1,
    ...overrides,
  };
}

export interface RecordSpec {
  key: string | null;
  value: string;
  timestampMs: number;
}

/** One record of the model: what the log must give back at `offset`. */
export interface ModelRecord extends RecordSpec {
  offset: number;
  leaderEpoch: number;
}

export function encodeRecords(records: readonly RecordSpec[], baseOffset = 0, leaderEpoch = 0): Buffer {
  return encodeBatch(
    records.map((record) => ({
      key: record.key === null ? null : Buffer.from(record.key),
      value: Buffer.from(record.value),
      headers: [['n', Buffer.from(String(record.value.length))]],
      timestampMs: record.timestampMs,
    })),
    { baseOffset, leaderEpoch, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string' },
  );
}

/** Every batch in `buffer`; throws when the buffer holds anything but whole batches. */
export function batchesIn(buffer: Buffer): Array<{ position: number; header: BatchHeader }> {
  const batches: Array<{ position: number; header: BatchHeader }> = [];
  let end = 0;
  for (const position of batchPositions(buffer)) {
    const header = readBatchHeader(buffer, position);
    batches.push({ position, header });
    end = position + header.sizeBytes;
  }
  if (end !== buffer.length) throw new Error(`${buffer.length - end} bytes after the last whole batch`);
  return batches;
}

/** Decodes (and so CRC-checks) every batch in `buffer`. */
export function decodeAll(buffer: Buffer): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  for (const { position } of batchesIn(buffer)) records.push(...decodeRecords(buffer, position));
  return records;
}

/** A decoded record in the model's shape, for t.same comparisons. */
export function asModel(record: DecodedRecord, leaderEpoch: number): ModelRecord {
  return {
    offset: record.offset,
    key: record.key === null ? null : record.key.toString(),
    value: record.value === null ? '' : record.value.toString(),
    timestampMs: record.timestampMs,
    leaderEpoch,
  };
}

export function isSameRecord(a: ModelRecord, b: ModelRecord): boolean {
  return a.offset === b.offset && a.key === b.key && a.value === b.value && a.timestampMs === b.timestampMs && a.leaderEpoch === b.leaderEpoch;
}

/**
 * Reads the log from `fromOffset` to `maxOffset` the way a consumer does (a read, then
 * the next from the offset after the last record), with a bounded number of reads.
 * Returns the records and each read's buffer.
 */
export function readRange(log: PartitionLog, fromOffset: number, maxOffset: number, maxBytes = 1 << 20): ModelRecord[] {
  const records: ModelRecord[] = [];
  let next = fromOffset;
  for (let reads = 0; reads < 100_000 && next < maxOffset; reads++) {
    const data = log.read(next, maxBytes, maxOffset);
    if (data === null) break;
    for (const { position, header } of batchesIn(data)) {
      for (const record of decodeRecords(data, position)) {
        if (record.offset >= next) records.push(asModel(record, header.partitionLeaderEpoch));
      }
      next = header.lastOffset + 1;
    }
  }
  return records;
}

/** A seeded PRNG (mulberry32), so "random" tests replay exactly. */
export function seededRandom(seed: number): (maxExclusive: number) => number {
  let state = seed >>> 0;
  return (maxExclusive: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    const unit = ((value ^ (value >>> 14)) >>> 0) / 4294967296;
    return Math.floor(unit * maxExclusive);
  };
}

/** A record spec with a recognisable value of about `valueBytes` bytes. */
export function recordSpec(index: number, valueBytes: number, timestampMs: number): RecordSpec {
  return { key: index % 3 === 0 ? null : `k${index}`, value: `r${index}:` + 'x'.repeat(valueBytes), timestampMs };
}

export interface FsyncSpy {
  /** Calls of fs.fsync (the asynchronous fsync the segments' group commit uses). */
  readonly asyncCount: number;
  /** fs.fsync calls whose callback has run. */
  readonly completedCount: number;
  /** Files passed to fs.fsyncSync, by path, in call order. */
  readonly syncPaths: readonly string[];
  /** Async fsyncs issued but held back (hold mode). */
  readonly heldCount: number;
  /** Lets every held fsync run. */
  releaseAll(): void;
  /** From now on, fs.fsync calls back with this error instead of syncing. */
  failWith(error: NodeJS.ErrnoException | null): void;
}

/**
 * Wraps fs.fsync and fs.fsyncSync on the shared `node:fs` module object, which the
 * storage code calls through, until the test ends. With `hold`, async fsyncs wait for
 * releaseAll(), which makes every interleaving of appends and fsyncs deterministic.
 */
export function spyOnFsync(t: Test, options: { hold?: boolean } = {}): FsyncSpy {
  const originalFsync = fs.fsync;
  const originalFsyncSync = fs.fsyncSync;
  let asyncCount = 0;
  let completedCount = 0;
  const syncPaths: string[] = [];
  let held: Array<() => void> = [];
  let failure: NodeJS.ErrnoException | null = null;
  const patchedFsync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    asyncCount += 1;
    const done = (error: NodeJS.ErrnoException | null): void => {
      completedCount += 1;
      callback(error);
    };
    const run = (): void => {
      if (failure !== null) {
        const error = failure;
        process.nextTick(() => done(error));
      } else {
        originalFsync(fd, done);
      }
    };
    if (options.hold === true) held.push(run);
    else run();
  };
  const patchedFsyncSync = (fd: number): void => {
    let name = `fd ${fd}`;
    try {
      name = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // Not Linux: the test that needs paths skips itself.
    }
    syncPaths.push(name);
    originalFsyncSync(fd);
  };
  (fs as { fsync: unknown }).fsync = patchedFsync;
  (fs as { fsyncSync: unknown }).fsyncSync = patchedFsyncSync;
  t.teardown(() => {
    (fs as { fsync: unknown }).fsync = originalFsync;
    (fs as { fsyncSync: unknown }).fsyncSync = originalFsyncSync;
    const pending = held;
    held = [];
    for (const run of pending) run();
  });
  return {
    get asyncCount() {
      return asyncCount;
    },
    get completedCount() {
      return completedCount;
    },
    syncPaths,
    get heldCount() {
      return held.length;
    },
    releaseAll() {
      const pending = held;
      held = [];
      for (const run of pending) run();
    },
    failWith(error) {
      failure = error;
    },
  };
}

/**
 * Makes fs.fsync and fs.fsyncSync do nothing until the test ends. Only for tests of a
 * killed process: the page cache survives a kill, so an fsync changes nothing such a
 * test can see, and skipping thousands of them keeps property runs fast.
 */
export function skipFsyncs(t: Test): void {
  const originalFsync = fs.fsync;
  const originalFsyncSync = fs.fsyncSync;
  (fs as { fsync: unknown }).fsync = (_fd: number, callback: (error: null) => void): void => {
    process.nextTick(() => callback(null));
  };
  (fs as { fsyncSync: unknown }).fsyncSync = (): void => undefined;
  t.teardown(() => {
    (fs as { fsync: unknown }).fsync = originalFsync;
    (fs as { fsyncSync: unknown }).fsyncSync = originalFsyncSync;
  });
}

/** Waits until every fsync issued so far has called back, then lets promise chains run. */
export async function fsyncsDone(spy: FsyncSpy): Promise<void> {
  const isDone = await waitFor(() => spy.completedCount >= spy.asyncCount && spy.heldCount === 0);
  if (!isDone) throw new Error(`fsyncs did not finish: ${spy.completedCount} of ${spy.asyncCount} done, ${spy.heldCount} held`);
  await settle();
}

/** Lets callbacks and promise chains run: `rounds` turns of the event loop. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Waits (bounded) until `condition` holds; for background work whose completion has no
 * promise to await, such as a rolled segment's fsync.
 */
export async function waitFor(condition: () => boolean, deadlineMs = 5000): Promise<boolean> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > deadlineMs) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return true;
}

export interface ModelLogBatch {
  baseOffset: number;
  lastOffset: number;
  leaderEpoch: number;
  sizeBytes: number;
  maxTimestampMs: number;
}

/**
 * The plain-array model of a partition log: every record with its offset and epoch,
 * and the batches as appended. Appends go to the real log and the model together.
 */
export class LogModel {
  records: ModelRecord[] = [];
  batches: ModelLogBatch[] = [];

  get logEndOffset(): number {
    const last = this.batches[this.batches.length - 1];
    return last === undefined ? 0 : last.lastOffset + 1;
  }

  appendAsLeader(log: PartitionLog, specs: readonly RecordSpec[], leaderEpoch: number, nowMs?: number): BatchHeader {
    // The encoder's baseOffset and epoch are deliberately wrong: the log must stamp its own.
    const header = log.appendAsLeader(encodeRecords(specs, 987_654, -7), leaderEpoch, nowMs);
    this.add(header, specs);
    return header;
  }

  add(header: BatchHeader, specs: readonly RecordSpec[]): void {
    this.batches.push({
      baseOffset: header.baseOffset,
      lastOffset: header.lastOffset,
      leaderEpoch: header.partitionLeaderEpoch,
      sizeBytes: header.sizeBytes,
      maxTimestampMs: Math.max(...specs.map((spec) => spec.timestampMs)),
    });
    specs.forEach((spec, i) => this.records.push({ ...spec, offset: header.baseOffset + i, leaderEpoch: header.partitionLeaderEpoch }));
  }

  /** Drops the batch holding `offset` and everything after it, as PartitionLog.truncateTo does. */
  truncateTo(offset: number): void {
    const index = this.batches.findIndex((batch) => batch.lastOffset >= offset);
    if (index < 0) return;
    const cut = this.batches[index].baseOffset;
    this.batches = this.batches.slice(0, index);
    this.records = this.records.filter((record) => record.offset < cut);
  }

  recordsFrom(offset: number, maxOffset = Number.MAX_SAFE_INTEGER): ModelRecord[] {
    return this.records.filter((record) => record.offset >= offset && record.offset < maxOffset);
  }

  /**
   * The epoch checkpoint the log must keep: (epoch, first offset) at each change; when
   * the log starts at `fromOffset`, the epoch in force there starts at it (Kafka's
   * truncateFromStart keeps it even when no record of it is left).
   */
  epochStarts(fromOffset = 0): Array<{ epoch: number; startOffset: number }> {
    const starts: Array<{ epoch: number; startOffset: number }> = [];
    for (const batch of this.batches) {
      const last = starts[starts.length - 1];
      if (last === undefined || batch.leaderEpoch > last.epoch) starts.push({ epoch: batch.leaderEpoch, startOffset: batch.baseOffset });
    }
    let firstKept = 0;
    while (firstKept + 1 < starts.length && starts[firstKept + 1].startOffset <= fromOffset) firstKept += 1;
    const kept = starts.slice(firstKept);
    if (kept.length > 0 && kept[0].startOffset < fromOffset) kept[0] = { epoch: kept[0].epoch, startOffset: fromOffset };
    return kept;
  }
}

/** Random record specs: 1-`maxRecords` records of 0-`maxValueBytes` bytes, wandering timestamps. */
export function randomSpecs(random: (maxExclusive: number) => number, firstIndex: number, maxRecords = 4, maxValueBytes = 120): RecordSpec[] {
  const count = 1 + random(maxRecords);
  const specs: RecordSpec[] = [];
  for (let i = 0; i < count; i++) specs.push(recordSpec(firstIndex + i, random(maxValueBytes), 1_000_000 + random(100_000)));
  return specs;
}

/** The leader-epoch-checkpoint text for these entries (Kafka's format). */
export function epochCheckpointText(entries: ReadonlyArray<{ epoch: number; startOffset: number }>): string {
  return ['0', String(entries.length), ...entries.map((entry) => `${entry.epoch} ${entry.startOffset}`)].join('\n') + '\n';
}
