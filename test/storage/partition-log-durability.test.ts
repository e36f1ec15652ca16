import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { segmentFileName } from '../../src/storage/segment.js';
import type { LogConfig } from '../../src/storage/log-config.js';
import {
  LogModel,
  encodeRecords,
  epochCheckpointText,
  fsyncsDone,
  makeTempDir,
  randomSpecs,
  readRange,
  recordSpec,
  seededRandom,
  settle,
  spyOnFsync,
  testConfig,
  waitFor,
} from './helpers.js';

interface Checkpoint {
  recoveryPoint: number;
  highWatermark: number;
  isCleanShutdown: boolean;
}

function readCheckpoint(directory: string): Checkpoint {
  return JSON.parse(fs.readFileSync(path.join(directory, 'partition.checkpoint'), 'utf8')) as Checkpoint;
}

function newDirectory(t: Test): string {
  return path.join(makeTempDir(t, 'durability'), 'topic-0');
}

/** Opens a log that is closed abruptly at the end of the test unless the test closed it. */
function open(t: Test, directory: string, config: LogConfig, options: { logStartOffset?: number } = {}): PartitionLog {
  const log = PartitionLog.open(directory, config, options);
  t.teardown(() => log.closeAbruptly());
  return log;
}

function fill(log: PartitionLog, model: LogModel, seed: number, batchCount: number, epochOf: (i: number) => number = () => 0): void {
  const random = seededRandom(seed);
  for (let i = 0; i < batchCount; i++) model.appendAsLeader(log, randomSpecs(random, model.records.length), epochOf(i));
}

/** Records a process-wide unhandled rejection for the length of the test. */
function watchUnhandledRejections(t: Test): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  t.teardown(() => {
    process.off('unhandledRejection', listener);
  });
  return seen;
}

void t.test('after a clean close, reopening scans nothing and serves the same log', async (t) => {
  const directory = newDirectory(t);
  const config = testConfig();
  const log = PartitionLog.open(directory, config);
  const model = new LogModel();
  fill(log, model, 1, 80);
  log.updateHighWatermark(model.batches[50].baseOffset);
  const segmentBaseOffsets = log.segmentBaseOffsets;
  t.ok(segmentBaseOffsets.length >= 4, 'several segments');
  await log.close();
  t.same(readCheckpoint(directory), { recoveryPoint: model.logEndOffset, highWatermark: model.batches[50].baseOffset, isCleanShutdown: true });

  const reopened = open(t, directory, config);
  t.same(reopened.recovery, { isCleanShutdown: true, recoveredSegments: 0, truncatedBytes: 0 }, 'no recovery scan');
  t.same(reopened.segmentBaseOffsets, segmentBaseOffsets);
  t.equal(reopened.logEndOffset, model.logEndOffset);
  t.equal(reopened.highWatermark, model.batches[50].baseOffset, 'the high watermark comes back from the checkpoint');
  t.equal(reopened.recoveryPoint, model.logEndOffset);
  t.equal(readCheckpoint(directory).isCleanShutdown, false, 'once open, a crash would count as unclean');
  reopened.updateHighWatermark(reopened.logEndOffset);
  t.same(readRange(reopened, 0, reopened.logEndOffset), model.records);
  const header = model.appendAsLeader(reopened, [recordSpec(1, 10, 1)], 0);
  t.equal(header.baseOffset, model.batches[model.batches.length - 2].lastOffset + 1, 'appends continue after the last offset');
});

void t.test('after an unclean close, reopening rescans only the segments past the recovery point', async (t) => {
  const spy = spyOnFsync(t, { hold: true });
  const directory = newDirectory(t);
  const config = testConfig();
  const log = PartitionLog.open(directory, config);
  const model = new LogModel();
  fill(log, model, 3, 40);
  const flushed = log.flushUpTo();
  spy.releaseAll();
  await flushed;
  await fsyncsDone(spy);
  const recoveryPoint = log.logEndOffset;
  t.equal(log.recoveryPoint, recoveryPoint, 'the flush moved the recovery point to the log end');
  log.writeCheckpoint(false); // What LogManager's periodic checkpoint does.
  t.equal(readCheckpoint(directory).recoveryPoint, recoveryPoint);
  // More segments whose fsyncs never finish: they are past the recovery point.
  fill(log, model, 5, 40);
  const bases = log.segmentBaseOffsets;
  log.closeAbruptly();
  t.equal(readCheckpoint(directory).recoveryPoint, recoveryPoint);
  const pastRecoveryPoint = bases.filter((base, i) => (bases[i + 1] ?? Number.MAX_SAFE_INTEGER) > recoveryPoint).length;
  t.ok(pastRecoveryPoint >= 2 && pastRecoveryPoint < bases.length, `${pastRecoveryPoint} of ${bases.length} segments are past the recovery point`);

  const reopened = open(t, directory, config);
  t.same(reopened.recovery, { isCleanShutdown: false, recoveredSegments: pastRecoveryPoint, truncatedBytes: 0 });
  t.same(reopened.segmentBaseOffsets, bases);
  t.equal(reopened.logEndOffset, model.logEndOffset, 'nothing written was lost');
  reopened.updateHighWatermark(reopened.logEndOffset);
  t.same(readRange(reopened, 0, reopened.logEndOffset), model.records);
});

void t.test('an unclean reopen of a log written under several leader epochs works (regression: the epoch cache asserted "epoch goes back")', async (t) => {
  const directory = newDirectory(t);
  const config = testConfig();
  const log = PartitionLog.open(directory, config);
  const model = new LogModel();
  fill(log, model, 7, 60, (i) => Math.floor(i / 15) * 2);
  const starts = model.epochStarts();
  t.equal(starts.length, 4, 'four epochs');
  log.closeAbruptly();
  // Only the last segments need to be past the recovery point for the bug to bite; all are.
  const reopened = open(t, directory, config);
  t.ok(reopened.recovery.recoveredSegments >= 2);
  t.equal(reopened.logEndOffset, model.logEndOffset);
  t.same(reopened.epochCache.all, starts, 'the epoch cache is as written');
  t.equal(fs.readFileSync(path.join(directory, 'leader-epoch-checkpoint'), 'utf8'), epochCheckpointText(starts));
  reopened.updateHighWatermark(reopened.logEndOffset);
  t.same(readRange(reopened, 0, reopened.logEndOffset), model.records);
});

void t.test('an unclean reopen fsyncs every segment holding offsets past the recovery point before trusting it', { skip: process.platform !== 'linux' && 'needs /proc/self/fd' }, async (t) => {
  const spy = spyOnFsync(t, { hold: true });
  const directory = newDirectory(t);
  const config = testConfig({ segmentBytes: 4000 });
  const log = PartitionLog.open(directory, config);
  const model = new LogModel();
  fill(log, model, 9, 5);
  const flushed = log.flushUpTo();
  spy.releaseAll();
  await flushed;
  await fsyncsDone(spy);
  log.writeCheckpoint(false);
  t.ok(readCheckpoint(directory).recoveryPoint > 0);
  // Segment 0 now holds offsets past the recovery point that only reached the page cache.
  fill(log, model, 11, 60);
  t.ok(log.segmentCount >= 3);
  log.closeAbruptly();
  const syncedBefore = spy.syncPaths.length;
  const reopened = open(t, directory, config);
  const synced = spy.syncPaths.slice(syncedBefore).map((file) => path.basename(file));
  for (const base of reopened.segmentBaseOffsets) {
    t.ok(synced.includes(segmentFileName(base, '.log')), `${segmentFileName(base, '.log')} was fsynced during recovery`);
  }
  t.equal(reopened.recoveryPoint, reopened.logEndOffset);
});

void t.test('group commit: concurrent flushUpTo callers share fsyncs, and none is answered before an fsync covering it', async (t) => {
  const spy = spyOnFsync(t, { hold: true });
  const directory = newDirectory(t);
  const log = open(t, directory, testConfig({ segmentBytes: 1 << 20 }));
  const callers = 50;
  const answered: number[] = [];
  const flushes: Array<Promise<void>> = [];
  for (let i = 0; i < callers; i++) {
    log.appendAsLeader(encodeRecords([recordSpec(i, 20, i)]), 0);
    flushes.push(log.flushUpTo(log.logEndOffset).then(() => {
      answered.push(i);
    }));
  }
  await settle();
  t.equal(spy.asyncCount, 1, 'one fsync is in flight for the first caller');
  t.same(answered, [], 'no caller is answered while its fsync is outstanding');
  spy.releaseAll();
  await waitFor(() => spy.asyncCount === 2);
  await settle();
  t.same(answered, [0], 'the first fsync covers only the append made before it started');
  t.equal(spy.asyncCount, 2, 'one more fsync covers every caller that arrived meanwhile');
  spy.releaseAll();
  await Promise.all(flushes);
  t.equal(answered.length, callers);
  t.equal(spy.asyncCount, 2, `${callers} callers were served by 2 fsyncs`);
  t.equal(log.recoveryPoint, log.logEndOffset);
  t.equal(log.unflushedMessages, 0);
  await log.flushUpTo(log.logEndOffset);
  t.equal(spy.asyncCount, 2, 'asking for offsets already durable issues no fsync');
});

void t.test('a failed fsync rejects every waiter and leaves the recovery point where it was', async (t) => {
  const spy = spyOnFsync(t);
  const log = open(t, newDirectory(t), testConfig({ segmentBytes: 1 << 20 }));
  log.appendAsLeader(encodeRecords([recordSpec(0, 20, 0)]), 0);
  await log.flushUpTo();
  const recoveryPoint = log.recoveryPoint;
  const failure = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
  spy.failWith(failure);
  log.appendAsLeader(encodeRecords([recordSpec(1, 20, 1)]), 0);
  const first = log.flushUpTo();
  log.appendAsLeader(encodeRecords([recordSpec(2, 20, 2)]), 0);
  const second = log.flushUpTo();
  await t.rejects(first, { code: 'EIO' });
  await t.rejects(second, { code: 'EIO' });
  t.equal(log.recoveryPoint, recoveryPoint, 'nothing more counts as durable');
  spy.failWith(null);
  await log.flushUpTo();
  t.equal(log.recoveryPoint, log.logEndOffset, 'a later fsync that works makes everything durable');
});

void t.test('isFlushDue follows flush.messages and flush.ms', async (t) => {
  const directory = newDirectory(t);
  const log = PartitionLog.open(directory, testConfig({ flushMessages: 5, flushMs: 1000 }), { nowMs: 10_000 });
  t.teardown(() => log.closeAbruptly());
  t.notOk(log.isFlushDue(99_999), 'nothing unflushed, nothing due');
  log.appendAsLeader(encodeRecords([recordSpec(0, 1, 0), recordSpec(1, 1, 0)]), 0);
  t.notOk(log.isFlushDue(10_500), 'two messages, half a second');
  t.ok(log.isFlushDue(11_000), 'flush.ms has passed since the last flush');
  log.appendAsLeader(encodeRecords([recordSpec(2, 1, 0), recordSpec(3, 1, 0), recordSpec(4, 1, 0)]), 0);
  t.ok(log.isFlushDue(10_001), 'flush.messages is reached');
  await log.flushUpTo();
  t.notOk(log.isFlushDue(10_001));
});

void t.test('a roll whose fsync finishes after a truncation below it does not move the recovery point past the log end', async (t) => {
  const spy = spyOnFsync(t, { hold: true });
  const log = open(t, newDirectory(t), testConfig({ segmentBytes: 600 }));
  const model = new LogModel();
  fill(log, model, 13, 12);
  t.ok(log.segmentCount >= 3);
  const cut = model.batches[1].baseOffset;
  log.updateHighWatermark(log.logEndOffset);
  log.truncateTo(cut);
  spy.releaseAll();
  await fsyncsDone(spy);
  t.equal(log.logEndOffset, cut);
  t.ok(log.recoveryPoint <= log.logEndOffset, `recovery point ${log.recoveryPoint} <= log end ${log.logEndOffset}`);
  // The records written again at those offsets are not durable until a new fsync says so.
  fill(log, model, 15, 12);
  const before = spy.asyncCount;
  const flushed = log.flushUpTo();
  spy.releaseAll();
  await flushed;
  t.ok(spy.asyncCount > before, 'the re-written offsets needed an fsync of their own');
});

void t.test('a truncation during a flush fails the waiters whose records it removed', async (t) => {
  const spy = spyOnFsync(t, { hold: true });
  const log = open(t, newDirectory(t), testConfig({ segmentBytes: 1 << 20 }));
  for (let i = 0; i < 10; i++) log.appendAsLeader(encodeRecords([recordSpec(i, 20, i)]), 0);
  const outcome = log.flushUpTo(10).then(() => 'durable', (error: Error) => error.message);
  log.truncateTo(5);
  spy.releaseAll();
  await fsyncsDone(spy);
  t.match(await outcome, /truncat/, 'the waiter learns its records were truncated, not that they are durable');
  t.ok(log.recoveryPoint <= log.logEndOffset, `recovery point ${log.recoveryPoint} <= log end ${log.logEndOffset}`);
  for (let i = 5; i < 10; i++) log.appendAsLeader(encodeRecords([recordSpec(i, 20, i)]), 0);
  const before = spy.asyncCount;
  const flushed = log.flushUpTo(10);
  spy.releaseAll();
  await flushed;
  t.ok(spy.asyncCount > before, 'the rewritten offsets 5..9 get an fsync of their own');
});

void t.test('flushUpTo past the log end is refused instead of waiting (regression: it spun through empty flushes)', async (t) => {
  const log = PartitionLog.open(newDirectory(t), testConfig());
  log.appendAsLeader(encodeRecords([recordSpec(0, 20, 0)]), 0);
  const outcome = log.flushUpTo(log.logEndOffset + 1).then(() => 'resolved', (error: Error) => error.message);
  // Closing settles any waiter, so a regression fails here instead of hanging the suite.
  log.closeAbruptly();
  t.match(await outcome, /log end/);
});

void t.test('closing, truncating or deleting right after a roll leaves no unhandled rejection behind', async (t) => {
  const endings: Array<[string, (log: PartitionLog) => void]> = [
    ['closeAbruptly', (log) => log.closeAbruptly()],
    ['truncateTo below the rolled segments', (log) => {
      log.truncateTo(0);
      log.closeAbruptly();
    }],
    ['delete', (log) => log.delete()],
  ];
  for (const [name, end] of endings) {
    await t.test(name, async (t) => {
      const unhandled = watchUnhandledRejections(t);
      const spy = spyOnFsync(t, { hold: true });
      const log = PartitionLog.open(newDirectory(t), testConfig({ segmentBytes: 400 }));
      fill(log, new LogModel(), 17, 10);
      t.ok(spy.heldCount >= 2, 'rolled segments are waiting for their fsync');
      end(log);
      spy.releaseAll();
      await fsyncsDone(spy);
      await settle(10);
      t.same(unhandled.map(String), []);
    });
  }
});
