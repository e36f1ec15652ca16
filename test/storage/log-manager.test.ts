import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { InvariantError } from '../../src/util/assert.js';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecords, makeTempDir, recordSpec, skipFsyncs, testConfig, waitFor } from './helpers.js';

// Nothing here is about durability against power loss, so fsyncs (thousands, with
// every roll and epoch change) are skipped to keep the suite fast; file contents are
// the same either way. Group commit and recovery points are tested with real fsyncs
// in partition-log-durability.test.ts.
skipFsyncs(t);

function newManager(t: Test, options: Partial<LogManagerOptions> = {}, directory = path.join(makeTempDir(t, 'manager'), 'logs')): LogManager {
  const manager = new LogManager(directory, { retentionCheckIntervalMs: 60_000, ...options });
  t.teardown(() => manager.close());
  return manager;
}

/** Fills a log with `count` batches of one record each, timestamped `timestampMs`. */
function fill(log: PartitionLog, count: number, timestampMs: number): void {
  for (let i = 0; i < count; i++) log.appendAsLeader(encodeRecords([recordSpec(i, 100, timestampMs)]), 0);
  log.updateHighWatermark(log.logEndOffset);
}

void t.test('logs are opened by plain directory name, once, and listed from disk', async (t) => {
  const manager = newManager(t);
  const log = manager.open('orders-0', testConfig());
  t.equal(manager.get('orders-0'), log);
  t.equal(manager.get('orders-1'), undefined);
  manager.open('orders-1', testConfig());
  t.same(manager.namesOnDisk().sort(), ['orders-0', 'orders-1']);
  t.same([...manager.all].map(([name]) => name).sort(), ['orders-0', 'orders-1']);
  t.throws(() => manager.open('orders-0', testConfig()), InvariantError, 'a second open of the same log is refused');
  for (const name of ['..', '.', 'a/b', '', '../escape', 'x y']) {
    t.throws(() => manager.open(name, testConfig()), InvariantError, `${JSON.stringify(name)} is refused`);
  }
  t.notOk(fs.existsSync(path.join(manager.logsDirectory, '..', 'escape')), 'nothing was created outside the logs directory');
});

void t.test('a retention pass deletes segments of every log and tells the caller', async (t) => {
  const told: Array<[string, number, number]> = [];
  const manager = newManager(t, {
    onSegmentsDeleted: (name, log, deletedCount) => told.push([name, deletedCount, log.logStartOffset]),
  });
  const expiring = manager.open('old-0', testConfig({ segmentBytes: 500, retentionMs: 1000 }));
  const kept = manager.open('kept-0', testConfig({ segmentBytes: 500, retentionMs: -1 }));
  fill(expiring, 20, 10_000);
  fill(kept, 20, 10_000);
  const segmentCount = expiring.segmentCount;
  t.ok(segmentCount >= 3);
  const deleted = manager.runRetention(1_000_000);
  t.equal(deleted, segmentCount, 'every segment of the expired log went (the active one after a roll)');
  t.same(told, [['old-0', segmentCount, expiring.logEndOffset]], 'the caller learns the new logStartOffset to persist it');
  t.equal(kept.logStartOffset, 0, 'a log without retention.ms keeps everything');
  t.equal(manager.runRetention(1_000_000), 0, 'nothing more to delete');
});

void t.test('close closes every log cleanly, so the next start scans nothing', async (t) => {
  const directory = path.join(makeTempDir(t, 'manager'), 'logs');
  const manager = new LogManager(directory, { retentionCheckIntervalMs: 60_000 });
  manager.start();
  fill(manager.open('a-0', testConfig()), 30, 1);
  fill(manager.open('b-0', testConfig()), 5, 1);
  await manager.close();
  t.same([...manager.all], [], 'no log is left open');
  const again = newManager(t, {}, directory);
  for (const name of ['a-0', 'b-0']) {
    const log = again.open(name, testConfig());
    t.same(log.recovery, { isCleanShutdown: true, recoveredSegments: 0, truncatedBytes: 0 }, `${name} was closed cleanly`);
  }
  t.equal(again.get('a-0')!.logEndOffset, 30);
});

void t.test('deleteLog removes a log directory, open or not', async (t) => {
  const manager = newManager(t);
  fill(manager.open('gone-0', testConfig()), 3, 1);
  fs.mkdirSync(path.join(manager.logsDirectory, 'stray-0'));
  manager.deleteLog('gone-0');
  manager.deleteLog('stray-0');
  t.equal(manager.get('gone-0'), undefined);
  t.same(manager.namesOnDisk(), []);
  const reopened = manager.open('gone-0', testConfig());
  t.equal(reopened.logEndOffset, 0, 'a log opened again under the same name starts empty');
});

void t.test('background work flushes by flush.ms, checkpoints recovery points and reports failures', async (t) => {
  const errors: Array<[string, string]> = [];
  const manager = newManager(t, {
    retentionCheckIntervalMs: 5,
    flushCheckIntervalMs: 5,
    checkpointIntervalMs: 5,
    onSegmentsDeleted: () => {
      throw new Error('the caller failed to persist logStartOffset');
    },
    onError: (error, context) => errors.push([(error as Error).message, context]),
  });
  const log = manager.open('bg-0', testConfig({ flushMs: 0, segmentBytes: 1 << 20 }));
  manager.start();
  fill(log, 5, 1);
  t.ok(await waitFor(() => log.recoveryPoint === log.logEndOffset), 'a due flush runs without anyone asking');
  const checkpointFile = path.join(manager.logsDirectory, 'bg-0', 'partition.checkpoint');
  const readRecoveryPoint = (): number => (JSON.parse(fs.readFileSync(checkpointFile, 'utf8')) as { recoveryPoint: number }).recoveryPoint;
  t.ok(await waitFor(() => readRecoveryPoint() === log.logEndOffset), 'the recovery point reaches the checkpoint file');
  log.updateConfig({ ...log.logConfig, retentionMs: 0 });
  t.ok(await waitFor(() => errors.length > 0), 'a failing background task is reported');
  t.same(errors[0], ['the caller failed to persist logStartOffset', 'background task']);
  t.equal(log.logStartOffset, log.logEndOffset, 'retention ran before the callback failed');
});
